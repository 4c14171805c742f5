package policy

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// EnforceFor is a report-only policy's `enforce_for`: the waves of a
// rollout plan for whose people the policy is already enforced. Everyone
// else still gets what report-only gives (the version in force, the
// shadowed policy, or a signed-in allow).
type EnforceFor struct {
	// Rollout is the plan's id.
	Rollout string
	// Waves are the wave names as written.
	Waves []string
	// keys are the waves as "<plan>/<wave>" (rollout.Key), what
	// Input.Waves holds.
	keys []string
}

// Keys are the waves' keys, "<plan>/<wave>" (the form of rollout.Key).
// The slice is shared; do not modify it.
func (e *EnforceFor) Keys() []string { return e.keys }

// EnforcedFor reports whether a report-only policy is enforced for a
// person in the given waves (Input.Waves): it is when it has an
// enforce_for naming one of them. An enforced policy answers false: it
// needs no waves to be enforced.
func (p *Policy) EnforcedFor(waves []string) bool {
	if p.EnforceFor == nil || p.Mode != ReportOnly {
		return false
	}
	for _, w := range waves {
		if slices.Contains(p.EnforceFor.keys, w) {
			return true
		}
	}
	return false
}

var enforceForKeys = []string{"rollout", "waves"}

// enforceFor reads `enforce_for: {rollout: <plan id>, waves: [..]}`. Plan
// and wave names are slugs (package rollout's rule), so a typo is caught
// here rather than silently enforcing for nobody.
func (p *parser) enforceFor(n *yaml.Node) *EnforceFor {
	fs, ok := p.fields(n, "enforce_for")
	if !ok {
		return nil
	}
	e := &EnforceFor{}
	before := len(p.Errs)
	var wavesSeen bool
	for _, f := range fs {
		switch f.key {
		case "rollout":
			if s, ok := p.nonEmpty(f.val, "enforce_for.rollout"); ok {
				if !validSlug(s) {
					p.errorf(p.resolve(f.val), "enforce_for.rollout %q is not a rollout plan id (lower-case letters, digits and '-')", s)
				}
				e.Rollout = s
			}
		case "waves":
			wavesSeen = true
			names, nodes, ok := p.strList(f.val, "enforce_for.waves")
			if !ok {
				continue
			}
			for i, w := range names {
				switch {
				case !validSlug(w):
					p.errorf(nodes[i], "enforce_for.waves: %q is not a wave name (lower-case letters, digits and '-')", w)
				case slices.Contains(e.Waves, w):
					p.errorf(nodes[i], "enforce_for.waves: wave %q is listed twice", w)
				default:
					e.Waves = append(e.Waves, w)
				}
			}
		default:
			p.unknownKey(f, "enforce_for", enforceForKeys...)
		}
	}
	if len(p.Errs) > before {
		return nil
	}
	if e.Rollout == "" {
		p.errorf(p.resolve(n), "enforce_for needs rollout: (the id of the rollout plan)")
		return nil
	}
	if !wavesSeen {
		p.errorf(p.resolve(n), "enforce_for needs waves: (the plan's waves the policy is enforced for)")
		return nil
	}
	for _, w := range e.Waves {
		e.keys = append(e.keys, e.Rollout+"/"+w)
	}
	return e
}

// validSlug is package rollout's id rule: 1 to 63 lower-case letters,
// digits or '-', starting with a letter or digit.
func validSlug(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
