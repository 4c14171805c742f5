package store

import (
	"fmt"
	"time"
)

// Kinds of the versioned rules: the current route, policy and compliance policy (read model,
// what every replica's proxy compiles) and their history (durable only).
const (
	KindRoute       Kind = "route"
	KindPolicy      Kind = "policy"
	KindCompliance  Kind = "compliance"
	KindRuleVersion Kind = "rule_version"
)

// Rule types (Rule.Type), also the first part of a RuleVersion id.
const (
	RuleRoute  = "route"
	RulePolicy = "policy"
	// RuleCompliance is a compliance policy (package posture's format).
	RuleCompliance = "compliance"
)

// Rule is the current version of one route or access policy, kept as the
// YAML text of that one route or policy: what the server compiles. A
// deleted rule stays as a tombstone (Deleted) so that its versions keep
// counting up and it can be restored.
type Rule struct {
	ID      string    `json:"id"`   // the route's slug or the policy's id
	Type    string    `json:"type"` // RuleRoute or RulePolicy
	Version uint64    `json:"version"`
	Text    string    `json:"text,omitempty"`
	Deleted bool      `json:"deleted,omitempty"`
	Author  string    `json:"author"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	// PromoteAt, when set, is when the policy's mode becomes PromoteTo
	// (a scheduled promotion, applied by the server's schedule loop).
	PromoteAt time.Time `json:"promote_at,omitzero"`
	PromoteTo string    `json:"promote_to,omitempty"`
	// InForce, for a policy saved in report-only over an enforced version,
	// is the text of that last enforced version (InForceVersion): the
	// proxy keeps applying it while this version is observed, so that
	// observing a change never opens the route. Empty when no version of
	// the policy was enforced before.
	InForce        string `json:"in_force,omitempty"`
	InForceVersion uint64 `json:"in_force_version,omitempty"`
}

// Kind is KindRoute, KindPolicy or KindCompliance, after the rule's type.
func (r *Rule) Kind() Kind { return ruleKind(r.Type) }

// ruleKind is the record kind of a rule type.
func ruleKind(typ string) Kind {
	switch typ {
	case RuleRoute:
		return KindRoute
	case RuleCompliance:
		return KindCompliance
	}
	return KindPolicy
}

// Key is the rule's id.
func (r *Rule) Key() string { return r.ID }

// RuleVersion is one version of a rule, written with it in the same
// transaction. History only grows: it is not in the read model and is
// read page by page (Store.Scan with RuleVersionPrefix).
type RuleVersion struct {
	ID      string    `json:"id"` // RuleVersionID
	Type    string    `json:"type"`
	RuleID  string    `json:"rule_id"`
	Version uint64    `json:"version"`
	Text    string    `json:"text,omitempty"`
	Deleted bool      `json:"deleted,omitempty"`
	Diff    string    `json:"diff,omitempty"` // unified diff against the previous version
	Author  string    `json:"author"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	// PromoteAt and PromoteTo are the schedule this version set.
	PromoteAt time.Time `json:"promote_at,omitzero"`
	PromoteTo string    `json:"promote_to,omitempty"`
}

// Kind is KindRuleVersion.
func (*RuleVersion) Kind() Kind { return KindRuleVersion }

// Key is the version's id.
func (r *RuleVersion) Key() string { return r.ID }

// RuleVersionPrefix is the id prefix of every version of one rule.
func RuleVersionPrefix(typ, id string) string { return typ + "/" + id + "/" }

// RuleVersionID names version v of a rule; ids sort by version.
func RuleVersionID(typ, id string, v uint64) string {
	return fmt.Sprintf("%s%020d", RuleVersionPrefix(typ, id), v)
}

// Routes returns every route rule (tombstones included), ordered by id.
func (s *Store) Routes() []*Rule { return all[Rule](s.Txn(), KindRoute, "id") }

// Policies returns every policy rule (tombstones included), ordered by id.
func (s *Store) Policies() []*Rule { return all[Rule](s.Txn(), KindPolicy, "id") }

// Compliance returns every compliance policy rule (tombstones included),
// ordered by id.
func (s *Store) Compliance() []*Rule { return all[Rule](s.Txn(), KindCompliance, "id") }

// RulesOf returns every rule of one type (tombstones included), by id.
func (s *Store) RulesOf(typ string) []*Rule { return all[Rule](s.Txn(), ruleKind(typ), "id") }

// RuleOf returns the current rule by type and id.
func (s *Store) RuleOf(typ, id string) (*Rule, bool) {
	return first[Rule](s.Txn(), ruleKind(typ), "id", id)
}
