package policy

import (
	"net/netip"
	"path"
	"slices"
	"strings"
)

// env is the per-evaluation view of the Input: values derived once per
// request. It lives on the caller's stack; everything it reaches is concrete
// code, so it does not escape.
type env struct {
	in      *Input
	ip      netip.Addr
	domain  string
	path    string
	country int
	// assumeMFA makes mfa conditions hold, to ask "would a fresh
	// multi-factor sign-in make this rule match?".
	assumeMFA bool
	// assumeSignIn makes session_max_age conditions hold, to ask "would
	// signing in again make this rule match?".
	assumeSignIn bool
}

func newEnv(in *Input) env {
	e := env{in: in, ip: in.IP.Unmap(), path: in.Path, country: countryIndex(in.Country)}
	if i := strings.LastIndexByte(in.Email, '@'); i >= 0 {
		e.domain = in.Email[i+1:]
	}
	if needsClean(e.path) {
		e.path = path.Clean(e.path) // allocates only for unusual paths
	}
	return e
}

// needsClean reports whether p has dot segments or doubled slashes.
func needsClean(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// Evaluate decides one request. Deny rules are checked first and any match
// denies. Otherwise the matching allow rule with the fewest restrictions
// grants access (Allow, or AllowRestricted with its restrictions). If no
// allow rule matches but one would with a fresh multi-factor sign-in, the
// outcome is StepUp. Otherwise the request is denied with the reason "no
// rule allows this request" and the failing conditions of the allow rule
// that came closest.
//
// Evaluate does not allocate when it allows; it is safe for concurrent use.
func (p *Policy) Evaluate(in *Input) Decision {
	d := Decision{Policy: p.ID, ReportOnly: p.Mode == ReportOnly}
	if !in.Authenticated {
		d.Reasons = []Reason{unauthenticatedReason()}
		return d
	}
	if in.Now.IsZero() {
		d.Reasons = []Reason{invalidInputReason()}
		return d
	}
	e := newEnv(in)
	if p.anyDeny(&e) {
		return p.denied(*in, d)
	}
	if best := p.bestAllow(&e); best != nil {
		d.Rules = best.ids
		d.Outcome = Allow
		if best.restrict != 0 {
			d.Outcome = AllowRestricted
			d.Restrictions = best.restrict
		}
		return d
	}
	if r := p.stepUpRule(&e); r != nil {
		d.Outcome = StepUp
		d.Rules = r.ids
		return p.stepUp(*in, d, r)
	}
	if r := p.signInAgainRule(&e); r != nil {
		return p.signInAgain(*in, d, r)
	}
	return p.unmatched(*in, d)
}

// signInAgainRule finds the first allow rule that only a sign-in older than
// its session_max_age keeps from matching.
func (p *Policy) signInAgainRule(e *env) *rule {
	e.assumeSignIn = true
	defer func() { e.assumeSignIn = false }()
	var first *rule
	c := p.allowCandidates(e)
	for i, ok := c.next(); ok; i, ok = c.next() {
		r := p.allow[i]
		if r.hasSessionAge && (first == nil || r.pos < first.pos) && r.body.eval(e) {
			first = r
		}
	}
	return first
}

// signInAgain denies with the reason that the sign-in is too old for rule r.
func (p *Policy) signInAgain(in Input, d Decision, r *rule) Decision {
	e := newEnv(&in)
	d.Reasons = r.body.explain(&e, true, r.id, nil)
	return d
}

func (p *Policy) allowCandidates(e *env) candidates {
	return candidates{x: p.allowIdx, n: len(p.allow), in: e.in}
}

func (p *Policy) anyDeny(e *env) bool {
	c := candidates{x: p.denyIdx, n: len(p.deny), in: e.in}
	for i, ok := c.next(); ok; i, ok = c.next() {
		if p.deny[i].body.eval(e) {
			return true
		}
	}
	return false
}

// bestAllow finds the matching allow rule with the fewest restrictions, the
// first in file order on a tie.
func (p *Policy) bestAllow(e *env) *rule {
	var best *rule
	c := p.allowCandidates(e)
	for i, ok := c.next(); ok; i, ok = c.next() {
		r := p.allow[i]
		if best != nil && !r.better(best) {
			if best.restrict == 0 && p.allowIdx == nil {
				break // file order: nothing later can beat an unrestricted match
			}
			continue
		}
		if r.body.eval(e) {
			best = r
		}
	}
	return best
}

// better reports whether r should decide over other when both match.
func (r *rule) better(other *rule) bool {
	rc, oc := r.restrict.Count(), other.restrict.Count()
	return rc < oc || rc == oc && r.pos < other.pos
}

// stepUpRule finds the first allow rule that a fresh multi-factor sign-in
// would make match.
func (p *Policy) stepUpRule(e *env) *rule {
	e.assumeMFA = true
	defer func() { e.assumeMFA = false }()
	var first *rule
	c := p.allowCandidates(e)
	for i, ok := c.next(); ok; i, ok = c.next() {
		r := p.allow[i]
		if r.hasMFA && (first == nil || r.pos < first.pos) && r.body.eval(e) {
			first = r
		}
	}
	return first
}

// The explaining paths below take the Input by value: building reasons
// makes its contents reachable from the heap, and the copy keeps the
// caller's Input on its stack on the allow path.

// stepUp adds the reason for a step-up decision.
func (p *Policy) stepUp(in Input, d Decision, r *rule) Decision {
	e := newEnv(&in)
	d.Reasons = []Reason{r.body.stepUpReason(&e, r.id)}
	return d
}

// denied fills a decision for matching deny rules: every matching rule is
// named, with the conditions that made it match.
func (p *Policy) denied(in Input, d Decision) Decision {
	e := &env{}
	*e = newEnv(&in)
	matched := make([]bool, len(p.deny))
	c := candidates{x: p.denyIdx, n: len(p.deny), in: &in}
	for i, ok := c.next(); ok; i, ok = c.next() {
		matched[i] = matched[i] || p.deny[i].body.eval(e)
	}
	for i, r := range p.deny {
		if !matched[i] {
			continue
		}
		d.Rules = append(d.Rules, r.id)
		if r.message != "" {
			d.Reasons = append(d.Reasons, Reason{Code: "policy.deny", Message: r.message, Remediation: r.remediation, Rule: r.id})
			continue
		}
		d.Reasons = r.body.explain(e, false, r.id, d.Reasons)
	}
	return d
}

// unmatched fills a decision when no rule matched, explaining the allow
// rule the user is closest to: the fewest failing identity conditions
// (email, domain, group, idp: rules meant for someone else come last), then
// unrestricted before restricted (show the way to full access), then the
// fewest failing conditions overall, then file order. In an indexed policy
// only the rules indexed under the user's identity are considered, so a user
// no rule is meant for is told only that no rule allows the request.
func (p *Policy) unmatched(in Input, d Decision) Decision {
	e := &env{}
	*e = newEnv(&in)
	d.Reasons = []Reason{noMatchReason()}
	var closest *rule
	var best [3]int
	c := p.allowCandidates(e)
	for i, ok := c.next(); ok; i, ok = c.next() {
		r := p.allow[i]
		ident, other := r.body.countFailing(e, true)
		restricted := 0
		if r.restrict != 0 {
			restricted = 1
		}
		score := [3]int{ident, restricted, ident + other}
		if c := slices.Compare(score[:], best[:]); closest == nil || c < 0 || c == 0 && r.pos < closest.pos {
			closest, best = r, score
		}
	}
	if closest != nil {
		d.Reasons = closest.body.explain(e, true, closest.id, d.Reasons)
	}
	return d
}

// eval computes the node's truth value.
func (n *node) eval(e *env) bool {
	switch n.op {
	case opLeaf:
		return n.leaf.match(e)
	case opAnd:
		for i := range n.kids {
			if !n.kids[i].eval(e) {
				return false
			}
		}
		return true
	case opOr:
		for i := range n.kids {
			if n.kids[i].eval(e) {
				return true
			}
		}
		return false
	case opNot:
		for i := range n.kids {
			if n.kids[i].eval(e) {
				return false
			}
		}
		return true
	case opNor:
		for i := range n.kids {
			if !n.kids[i].eval(e) {
				return true
			}
		}
		return false
	}
	return false
}
