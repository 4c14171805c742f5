package posture

import (
	"strings"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// Evaluation is the compliance and trust verdict for one device at one
// moment. It is a pure function of the device record, its signals, the
// configuration and the time (see Config.Evaluate).
type Evaluation struct {
	Checks    []CheckResult `json:"checks"`
	Policies  []string      `json:"policies"` // assigned compliance policies
	Compliant bool          `json:"compliant"`
	Passing   []string      `json:"passing_checks"`
	Failing   []string      `json:"failing_checks"` // failing and unknown
	Stale     bool          `json:"stale"`          // no check-in within max_checkin_age
	// FailingSince is when the current non-compliant streak began.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Step is the escalation step reached: "", grace, notify, lower_trust, block or quarantine.
	Step string `json:"escalation_step,omitempty"`
	// Ladder is the effective ladder (from the policies whose checks fail),
	// with each step's due time in Due.
	Grace  time.Duration `json:"-"`
	Ladder Ladder        `json:"-"`
	Due    []time.Time   `json:"-"`
	// NextDue is when the next step is due; zero when none is left.
	NextDue     time.Time   `json:"next_step_due,omitzero"`
	Trust       store.Trust `json:"trust"`
	TrustReason string      `json:"trust_reason"`
}

// checkSet is the merged requirements of one combination of policies.
type checkSet struct {
	policies []*Policy
	ids      []string
	checks   Checks
	by       map[string][]string // check name -> ids of the policies that require it
}

// assigned returns the merged requirements of the policies that apply to a device.
func (c *Config) assigned(d *store.Device) *checkSet {
	var key setKey
	for i, p := range c.Policies {
		if p.matches(d) {
			key.set(i)
		}
	}
	c.setsMu.RLock()
	s, ok := c.sets[key]
	c.setsMu.RUnlock()
	if ok {
		return s
	}
	s = &checkSet{by: map[string][]string{}, checks: Checks{MaxSecurityUpdateAgeDays: -1, MaxPendingSecurityUpdates: -1}}
	for i, p := range c.Policies {
		if !key.has(i) {
			continue
		}
		s.policies = append(s.policies, p)
		s.ids = append(s.ids, p.ID)
		merge(&s.checks, &p.Checks)
		for _, def := range checks {
			if def.on(&p.Checks) {
				s.by[def.name] = append(s.by[def.name], p.ID)
			}
		}
	}
	c.setsMu.Lock()
	defer c.setsMu.Unlock()
	if prev, ok := c.sets[key]; ok {
		return prev
	}
	if c.sets == nil {
		c.sets = map[setKey]*checkSet{}
	}
	c.sets[key] = s
	return s
}

// setKey is a set of policy indexes: a bitmap over the first 256 policies
// plus a string for the rest, so the common case allocates nothing.
type setKey struct {
	bits [4]uint64
	more string
}

func (k *setKey) set(i int) {
	if i < 256 {
		k.bits[i/64] |= 1 << (i % 64)
		return
	}
	k.more += string(rune(i)) // a unique, comparable encoding of large indexes
}

func (k *setKey) has(i int) bool {
	if i < 256 {
		return k.bits[i/64]&(1<<(i%64)) != 0
	}
	return strings.ContainsRune(k.more, rune(i))
}

// matches reports whether a policy's assignment covers the device: every
// filter given must list the device's value (any device group counts).
func (p *Policy) matches(d *store.Device) bool {
	if len(p.Platforms) > 0 && !contains(p.Platforms, strings.ToLower(d.Platform)) {
		return false
	}
	if len(p.Ownership) > 0 {
		found := false
		for _, o := range p.Ownership {
			found = found || o == d.Ownership
		}
		if !found {
			return false
		}
	}
	if len(p.Groups) > 0 {
		found := false
		for _, g := range d.Groups {
			found = found || contains(p.Groups, g)
		}
		if !found {
			return false
		}
	}
	return true
}

// PoliciesFor returns the ids of the compliance policies that apply to a device.
func (c *Config) PoliciesFor(d *store.Device) []string { return c.assigned(d).ids }

// Evaluate computes a device's checks, compliance, escalation step and
// trust at now. agent is the agent's latest signals and external each
// external source's current signals, by source name; signals the device's
// data profile does not allow are ignored here too. The device's previous
// FailingSince and EscalationStep carry the streak forward.
func (c *Config) Evaluate(d *store.Device, agent []collect.Signal, external map[string][]collect.Signal, now time.Time) Evaluation {
	set := c.assigned(d)
	allowed := c.Profile(d).allowed
	x := &evalCtx{d: d, now: now, platform: strings.ToLower(d.Platform), sigs: make([]observed, 0, len(agent))}
	for _, s := range agent {
		if allowed.Has(s.Name) {
			x.sigs = append(x.sigs, observed{s, agentSource})
		}
	}
	for _, name := range sortedKeys(external) {
		for _, s := range external[name] {
			if allowed.Has(s.Name) {
				x.sigs = append(x.sigs, observed{s, externalSourcePrefix + name})
			}
		}
	}
	ev := Evaluation{Policies: set.ids}
	if len(set.policies) == 0 {
		ev.Checks = []CheckResult{{Name: CheckPolicyAssigned, Status: Fail, Message: "no compliance policy applies to this device", Remediation: remedyPolicy(x.platform)}}
	}
	for _, def := range checks {
		if !def.on(&set.checks) || (len(def.signals) > 0 && !allowed.Any(def.signals...)) {
			continue // not required, or the data profile forbids what it reads
		}
		r := def.eval(x, &set.checks)
		r.Policies = set.by[def.name]
		if r.Status != Pass {
			r.Remediation = def.remedy(x.platform)
		}
		ev.Checks = append(ev.Checks, r)
	}
	ev.Compliant = len(set.policies) > 0
	var failingPols []*Policy
	for _, r := range ev.Checks {
		if r.Status == Pass {
			ev.Passing = append(ev.Passing, r.Name)
			continue
		}
		ev.Compliant = false
		ev.Failing = append(ev.Failing, r.Name)
		ev.Stale = ev.Stale || r.Name == CheckRecentCheckin
		for _, p := range set.policies {
			if contains(r.Policies, p.ID) && !containsPolicy(failingPols, p) {
				failingPols = append(failingPols, p)
			}
		}
	}
	c.escalate(&ev, d, failingPols, now)
	ev.Trust, ev.TrustReason = trustOf(d, &ev)
	return ev
}

func containsPolicy(list []*Policy, p *Policy) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

// escalate places the device on its ladder. The streak starts at the first
// non-compliant evaluation and ends only when the device is compliant
// again; within a streak the step never goes back.
func (c *Config) escalate(ev *Evaluation, d *store.Device, failing []*Policy, now time.Time) {
	if ev.Compliant {
		return
	}
	ev.FailingSince = d.FailingSince
	if ev.FailingSince.IsZero() || ev.FailingSince.After(now) {
		ev.FailingSince = now
	}
	if len(failing) == 0 {
		return // no policy applies: nothing to escalate
	}
	ev.Grace, ev.Ladder = mergeLadders(failing)
	ev.Step = StepGrace
	start := ev.FailingSince.Add(ev.Grace)
	for _, s := range ev.Ladder.Steps {
		due := start.Add(s.After)
		ev.Due = append(ev.Due, due)
		if !now.Before(due) {
			ev.Step = s.Name
		} else if ev.NextDue.IsZero() {
			ev.NextDue = due
		}
	}
	if !d.FailingSince.IsZero() && stepRank(d.EscalationStep) > stepRank(ev.Step) {
		ev.Step = d.EscalationStep
	}
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
