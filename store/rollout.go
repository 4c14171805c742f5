package store

import (
	"sort"
	"time"
)

// KindRolloutPlan is the kind of rollout plans.
const KindRolloutPlan Kind = "rollout_plan"

// RolloutPlan is a staged roll-out of access and compliance policies: a
// pilot, then successive waves of people, each with a date. On a wave's
// date the plan's policies, kept in report-only, become enforced for that
// wave's people (through new versions of those policies, so each step is
// audited and can be rolled back). A plan may also set a coexistence
// deadline for access from unmanaged devices (the legacy way in).
//
// It takes compare-and-set writes (Version): the scheduler on several
// replicas and an admin editing the plan never lose each other's changes.
type RolloutPlan struct {
	ID      string `json:"id"` // a slug: lower-case letters, digits and '-'
	Version uint64 `json:"version"`
	Name    string `json:"name"`
	// Policies and Compliance are the ids of the access and compliance
	// policies the plan moves to enforce, wave by wave.
	Policies   []string `json:"policies,omitempty"`
	Compliance []string `json:"compliance,omitempty"`
	// Waves in order; Waves[0] is the pilot.
	Waves       []RolloutWave `json:"waves"`
	Coexistence *Coexistence  `json:"coexistence,omitempty"`
	Exit        ExitCriteria  `json:"exit"`
	// Paused stops the plan's scheduled steps (waves whose date comes while
	// paused are applied when it resumes); the coexistence deadline still
	// holds.
	Paused    bool      `json:"paused,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// RolloutWave is one stage of a plan: who is in it and from when the
// plan's policies are enforced for them. A person belongs to the first
// wave of the plan that names one of their groups, their department or
// their e-mail address; a wave with Everyone set takes everybody left.
type RolloutWave struct {
	Name        string   `json:"name"` // a slug, unique within the plan
	Groups      []string `json:"groups,omitempty"`
	Departments []string `json:"departments,omitempty"`
	People      []string `json:"people,omitempty"` // e-mail addresses
	Everyone    bool     `json:"everyone,omitempty"`
	// Start is the wave's date: when the plan's policies become enforced
	// for its people.
	Start time.Time `json:"start"`
	// AppliedAt is when the plan's policies were moved to enforce for the
	// wave (zero: not yet). Set once; rolling a policy back afterwards does
	// not make the plan apply the wave again.
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// Tickets is the number of open help-desk tickets for the wave, entered
	// by hand (Portier has no ticketing system), for the exit criteria.
	Tickets int `json:"tickets"`
}

// Coexistence is the deadline for the legacy way in: until Deadline,
// people on unmanaged devices see an interstitial page telling them the
// date and how to enroll, and may continue; from Deadline they are denied
// with the same explanation.
type Coexistence struct {
	Deadline time.Time `json:"deadline"`
	// Routes are the route ids it applies to; empty means every route.
	Routes []string `json:"routes,omitempty"`
}

// ExitCriteria say when a wave is done well enough to start the next one.
// Rates are fractions (0.9 is 90 %).
type ExitCriteria struct {
	MinEnrollment float64 `json:"min_enrollment"`
	MinCompliance float64 `json:"min_compliance"`
	// MaxTickets is the most open tickets a wave may have.
	MaxTickets int `json:"max_tickets"`
	// MaxWouldDeny is the most report-only denials by the plan's policies
	// of the wave's people over the last 7 days.
	MaxWouldDeny int `json:"max_would_deny"`
}

// DefaultExitCriteria are the exit criteria of a plan that names none:
// the deployment guide's usual thresholds.
var DefaultExitCriteria = ExitCriteria{MinEnrollment: 0.95, MinCompliance: 0.90, MaxTickets: 10, MaxWouldDeny: 0}

// Kind implements Record.
func (*RolloutPlan) Kind() Kind { return KindRolloutPlan }

// Key implements Record.
func (p *RolloutPlan) Key() string { return p.ID }

// RolloutPlan returns a rollout plan by id.
func (s *Store) RolloutPlan(id string) (*RolloutPlan, bool) {
	return first[RolloutPlan](s.Txn(), KindRolloutPlan, "id", id)
}

// RolloutPlans returns every rollout plan, by id.
func (s *Store) RolloutPlans() []*RolloutPlan {
	out := all[RolloutPlan](s.Txn(), KindRolloutPlan, "id")
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
