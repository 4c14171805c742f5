package proxy

import (
	"slices"
	"time"

	"github.com/portier/portier/policy"
	"github.com/portier/portier/rollout"
)

// CodeCoexistenceDeadline is the reason code of a denial by a rollout
// plan's coexistence deadline: the request comes from an unmanaged device
// after the date from which the route needs an enrolled one.
const CodeCoexistenceDeadline = "coexistence_deadline"

// rolloutState is what the proxy reads of the rollout plans on each
// request: who is in which wave, and the coexistence deadlines. It is
// immutable and swapped whole when the plans (or the people) change.
type rolloutState struct {
	index *rollout.Index
	// coexist are the plans' coexistence periods, earliest deadline first.
	coexist []coexistence
	// enroll is the console's enrollment page, for the remediation.
	enroll string
}

// coexistence is one plan's coexistence period.
type coexistence struct {
	plan     string // the plan's id
	name     string // the plan's name
	deadline time.Time
	routes   []string // route ids; empty = every route
}

// newRolloutState indexes x's plans for the proxy; nil when no plan
// exists, so that the hot path skips everything with one nil check.
func newRolloutState(x *rollout.Index, externalURL string) *rolloutState {
	if x == nil || len(x.Plans()) == 0 {
		return nil
	}
	s := &rolloutState{index: x, enroll: externalURL + "/enroll"}
	for _, p := range x.Plans() {
		if c := p.Coexistence; c != nil && !c.Deadline.IsZero() {
			s.coexist = append(s.coexist, coexistence{plan: p.ID, name: p.Name, deadline: c.Deadline, routes: c.Routes})
		}
	}
	slices.SortStableFunc(s.coexist, func(a, b coexistence) int { return a.deadline.Compare(b.deadline) })
	return s
}

// waves are the person's rollout wave keys (nil when no plan exists).
func (s *rolloutState) waves(email string, groups []string) []string {
	if s == nil {
		return nil
	}
	return s.index.Waves(rollout.Person{Email: email, Groups: groups})
}

// coexistFor is the coexistence period that covers a request to rt from
// in's device: the earliest deadline of the plans that cover the route,
// when the person is signed in from an unmanaged device; nil otherwise.
func (s *rolloutState) coexistFor(rt *route, in *policy.Input) *coexistence {
	if s == nil || len(s.coexist) == 0 || !in.Authenticated || in.Device.Managed {
		return nil
	}
	for i := range s.coexist {
		c := &s.coexist[i]
		if len(c.routes) == 0 || slices.Contains(c.routes, rt.id) {
			return c
		}
	}
	return nil
}

// deadlineDenial is the decision for a request covered by c once its
// deadline has passed.
func (s *rolloutState) deadlineDenial(rt *route, c *coexistence) policy.Decision {
	date := c.deadline.UTC().Format(time.DateOnly)
	return policy.Decision{Outcome: policy.Deny, Policy: rt.policy.ID, Rules: []string{"rollout:" + c.plan + "/coexistence"},
		Reasons: []policy.Reason{{Code: CodeCoexistenceDeadline,
			Message:     "Since " + date + ", this application needs a device enrolled with Portier: access from unmanaged devices ended with the rollout plan " + `"` + c.name + `"` + ".",
			Remediation: "Enroll this device at " + s.enroll + " (or use a device that is enrolled), then open the page again."}}}
}

// SetRollout gives the proxy the rollout plans' wave membership and
// coexistence deadlines (the server calls it whenever the store's plans,
// people or devices change). A nil or empty index clears them.
func (p *Proxy) SetRollout(x *rollout.Index) { p.rollout.Store(newRolloutState(x, p.opts.ExternalURL)) }

// WithRollout returns a copy of s that decides with x's waves and
// coexistence deadlines, as the live proxy given x does; externalURL is
// the console, for the enrollment link.
func (s *Simulator) WithRollout(x *rollout.Index, externalURL string) *Simulator {
	out := *s
	out.ro = newRolloutState(x, externalURL)
	return &out
}
