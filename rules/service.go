package rules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/store"
)

// Service reads and writes the versioned rules.
type Service struct {
	Store *store.Store
	// Base is the running config: the settings rules are compiled with,
	// and ConfigPolicies.
	Base    func() *config.Config
	Compile CompileFunc
	Clock   func() time.Time
	// AfterWrite, when set, runs after each change is committed: the
	// server reloads its proxy at once, so the writer's next request sees
	// the change.
	AfterWrite func(context.Context)
}

// Actor is who makes a change, for the rule's author and the audit event.
type Actor struct {
	Name     string // "user:a@example.com", "token:…", "config file", "schedule"
	RemoteIP string
}

// Change is one write: the body of a route or policy, or a delete.
type Change struct {
	Type string // store.RuleRoute, store.RulePolicy or store.RuleCompliance
	ID   string
	// IfMatch is the version the writer read; nil when it sent none.
	IfMatch *uint64
	Body    []byte // nil for a delete
	Comment string // for a delete or a rollback
	// File names the body in errors ("request body", a file name).
	File string
}

// writable refuses API writes while the config file owns the rules.
func (s *Service) writable() error {
	if s.Base().ConfigPolicies == config.PoliciesInFile {
		return apperr.New(apperr.Conflict, "routes and policies are managed by the config file (config_policies: file): edit the file and reload, or set config_policies: store")
	}
	return nil
}

// Put creates or replaces a route or policy and returns the new version.
func (s *Service) Put(ctx context.Context, a Actor, c Change) (*store.Rule, error) {
	if err := s.writable(); err != nil {
		return nil, err
	}
	if err := s.precondition(c, true); err != nil {
		return nil, err
	}
	if c.File == "" {
		c.File = "request body"
	}
	d, err := ParseDoc(c.Type, c.File, c.Body, c.ID)
	if err != nil {
		return nil, invalid(err)
	}
	if d.Comment == "" {
		d.Comment = c.Comment
	}
	return s.write(ctx, a, c, d, "")
}

// Delete removes a route or policy (a tombstone version: it can be
// restored by a rollback).
func (s *Service) Delete(ctx context.Context, a Actor, c Change) (*store.Rule, error) {
	if err := s.writable(); err != nil {
		return nil, err
	}
	return s.write(ctx, a, c, nil, "")
}

// Rollback makes a new version equal to version v of the rule.
func (s *Service) Rollback(ctx context.Context, a Actor, c Change, v uint64) (*store.Rule, error) {
	if err := s.writable(); err != nil {
		return nil, err
	}
	old, err := s.Version(ctx, c.Type, c.ID, v)
	if err != nil {
		return nil, err
	}
	comment := c.Comment
	if comment == "" {
		comment = fmt.Sprintf("rollback to version %d", v)
	}
	if old.Deleted {
		return s.write(ctx, a, Change{Type: c.Type, ID: c.ID, IfMatch: c.IfMatch, Comment: comment}, nil, "rollback")
	}
	d, err := ParseDoc(c.Type, fmt.Sprintf("%s %q version %d", c.Type, c.ID, v), []byte(old.Text), c.ID)
	if err != nil {
		return nil, invalid(err)
	}
	d.Comment = comment
	return s.write(ctx, a, c, d, "rollback")
}

// Version returns one version of a rule from its history.
func (s *Service) Version(ctx context.Context, typ, id string, v uint64) (*store.RuleVersion, error) {
	recs, err := s.Store.Scan(ctx, store.ScanQuery{Kind: store.KindRuleVersion, Prefix: store.RuleVersionID(typ, id, v), Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, apperr.Field("version", "%s %q has no version %d", typ, id, v)
	}
	return recs[0].(*store.RuleVersion), nil
}

// Versions returns a page of a rule's history, newest first, and the
// cursor of the next page ("" at the end).
func (s *Service) Versions(ctx context.Context, typ, id, cursor string, limit int) ([]*store.RuleVersion, string, error) {
	q := store.ScanQuery{Kind: store.KindRuleVersion, Prefix: store.RuleVersionPrefix(typ, id), Desc: true, Limit: limit}
	if cursor != "" {
		if !strings.HasPrefix(cursor, q.Prefix) {
			return nil, "", apperr.Field("cursor", "cursor is not from this list")
		}
		q.After = cursor
	}
	recs, err := s.Store.Scan(ctx, q)
	if err != nil {
		return nil, "", err
	}
	out := make([]*store.RuleVersion, len(recs))
	for i, r := range recs {
		out[i] = r.(*store.RuleVersion)
	}
	next := ""
	if len(out) == q.PageLimit() {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// precondition checks If-Match against the current version: required
// when the rule is live, 412 when it names another version.
func (s *Service) precondition(c Change, put bool) error {
	cur, exists := s.Store.RuleOf(c.Type, c.ID)
	var curVersion uint64
	live := exists && !cur.Deleted
	if exists {
		curVersion = cur.Version
	}
	switch {
	case live && c.IfMatch == nil:
		return apperr.New(apperr.PreconditionMissing, "%s %q exists: send If-Match with the ETag you read (version %d) so that no one else's change is overwritten", c.Type, c.ID, curVersion)
	case c.IfMatch != nil && *c.IfMatch != curVersion:
		return stale(c, curVersion)
	case !put && !live:
		return apperr.New(apperr.NotFound, "no %s %q", c.Type, c.ID)
	}
	return nil
}

// write checks the precondition and the whole candidate set, then writes
// the new version, its history entry and the audit event in one
// compare-and-set transaction. d nil deletes.
func (s *Service) write(ctx context.Context, a Actor, c Change, d *Doc, how string) (*store.Rule, error) {
	cur, exists := s.Store.RuleOf(c.Type, c.ID)
	var curVersion uint64
	live := exists && !cur.Deleted
	if exists {
		curVersion = cur.Version
	}
	if err := s.precondition(c, d != nil); err != nil {
		return nil, err
	}
	if live {
		keepInForce(cur, d)
	}
	if err := s.check(c.Type, c.ID, d); err != nil {
		return nil, err
	}
	now := s.Clock().UTC()
	r := &store.Rule{ID: c.ID, Type: c.Type, Version: curVersion + 1, Author: a.Name, At: now, Comment: c.Comment}
	action := c.Type + ".update"
	switch {
	case d == nil:
		r.Deleted, action = true, c.Type+".delete"
	case !live:
		action = c.Type + ".create"
	}
	if d != nil {
		r.Text, r.Comment, r.PromoteAt, r.PromoteTo = d.Text, d.Comment, d.PromoteAt, d.PromoteTo
		if d.InForce != nil {
			r.InForce, r.InForceVersion = d.InForce.Text, d.InForceVersion
		}
	}
	if how != "" {
		action = c.Type + "." + how
	}
	return r, s.commit(ctx, a, cur, r, action)
}

// keepInForce sets d.InForce when policy d, in report-only without a
// shadows: of its own, replaces cur: cur itself when it is enforced, or
// the version cur kept in force when cur is report-only too. Observing a
// change to an enforced policy so never lets through what it denied.
func keepInForce(cur *store.Rule, d *Doc) {
	if d == nil || d.Type != store.RulePolicy || d.Mode != ModeReportOnly || hasKey(d.Node, "shadows") {
		return
	}
	prev, err := DocOf(cur)
	if err != nil || prev == nil {
		return
	}
	switch {
	case prev.Mode == ModeEnforce || prev.Mode == "":
		d.InForce, d.InForceVersion = prev, cur.Version
	case prev.Mode == ModeReportOnly && prev.InForce != nil:
		d.InForce, d.InForceVersion = prev.InForce, prev.InForceVersion
	}
}

// commit writes r over prev (nil when none) with compare-and-set.
func (s *Service) commit(ctx context.Context, a Actor, prev, r *store.Rule, action string) error {
	var prevText string
	var prevVersion uint64
	if prev != nil {
		prevVersion = prev.Version
		if !prev.Deleted {
			prevText = prev.Text
		}
	}
	name := fmt.Sprintf("%s/%s", r.Type, r.ID)
	h := &store.RuleVersion{ID: store.RuleVersionID(r.Type, r.ID, r.Version), Type: r.Type, RuleID: r.ID, Version: r.Version,
		Text: r.Text, Deleted: r.Deleted, Author: r.Author, Comment: r.Comment, At: r.At, PromoteAt: r.PromoteAt, PromoteTo: r.PromoteTo,
		Diff: Diff(prevText, r.Text, fmt.Sprintf("%s version %d", name, prevVersion), fmt.Sprintf("%s version %d", name, r.Version))}
	ev := store.NewAuditEvent(r.At, r.Author, action, name)
	ev.RemoteIP = a.RemoteIP
	ev.Detail = map[string]string{"version": fmt.Sprint(r.Version)}
	if r.Comment != "" {
		ev.Detail["comment"] = r.Comment
	}
	err := s.Store.Write(ctx, store.PutIf(r, prevVersion), store.Put(h), store.Put(ev))
	if errors.Is(err, store.ErrConflict) {
		return apperr.Wrap(apperr.Stale, err, "%s %q was changed by someone else meanwhile: read it again and re-apply your change", r.Type, r.ID)
	}
	if err == nil && s.AfterWrite != nil {
		s.AfterWrite(ctx)
	}
	return err
}

// check compiles the candidate set: the current rules with this change.
func (s *Service) check(typ, id string, d *Doc) error {
	if typ == store.RuleCompliance {
		docs, err := ComplianceFromStore(s.Store)
		if err != nil {
			return err
		}
		if _, err := CompileCompliance(s.Base(), replace(docs, id, d)); err != nil {
			return invalid(err)
		}
		return nil
	}
	routes, policies, err := FromStore(s.Store)
	if err != nil {
		return err
	}
	if typ == store.RuleRoute {
		routes = replace(routes, id, d)
	} else {
		if d == nil {
			for _, r := range routes {
				if r.Route.Policy == id {
					return apperr.New(apperr.Conflict, "policy %q is used by route %q: change or delete the route first", id, r.ID)
				}
			}
		}
		policies = replace(policies, id, d)
	}
	if _, err := Compile(s.Base(), routes, policies, s.Compile); err != nil {
		return invalid(err)
	}
	return nil
}

func stale(c Change, cur uint64) error {
	return apperr.New(apperr.Stale, "%s %q is at version %d, not %d: read it again and re-apply your change", c.Type, c.ID, cur, *c.IfMatch)
}

// invalid turns a parse or compile error (naming file:line) into a 422.
func invalid(err error) error {
	var ce *config.Error
	var list confyaml.ErrorList
	switch {
	case errors.As(err, &list) && len(list) > 0:
		return &apperr.Error{Code: apperr.Unprocessable, Field: "body", Line: list[0].Line, Msg: err.Error()}
	case errors.As(err, &ce):
		return &apperr.Error{Code: apperr.Unprocessable, Field: "body", Line: ce.Line, Msg: err.Error()}
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return &apperr.Error{Code: apperr.Unprocessable, Msg: err.Error()}
}
