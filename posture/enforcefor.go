package posture

import (
	"slices"
	"strings"

	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// A report-only compliance policy may carry `enforce_for: {rollout: <plan
// id>, waves: [..]}`: it is then enforced for the devices whose owner is
// in one of those waves of that rollout plan, and stays report-only (a
// would-be verdict) for every other device. The engine asks Options.Waves
// for a device's waves.

// EnforcedFor reports whether the report-only policy is enforced for a
// device in the given waves ("<plan>/<wave>" keys, rollout.Key).
func (p *Policy) EnforcedFor(waves []string) bool {
	if p.Mode != ModeReportOnly || len(p.EnforceFor) == 0 {
		return false
	}
	for _, w := range waves {
		if slices.Contains(p.EnforceFor, w) {
			return true
		}
	}
	return false
}

// ForWaves is the configuration for a device in the given waves: c itself
// when none of its report-only policies is enforced for them, otherwise c
// with those policies moved among the enforced ones (and out of the
// would-be verdict). Derived configurations are built once per
// combination and kept with c.
func (c *Config) ForWaves(waves []string) *Config {
	if len(waves) == 0 || len(c.ReportOnly) == 0 {
		return c
	}
	var key strings.Builder
	for i, p := range c.ReportOnly {
		if p.EnforcedFor(waves) {
			key.WriteRune(rune(i + 1))
		}
	}
	if key.Len() == 0 {
		return c
	}
	c.setsMu.Lock()
	defer c.setsMu.Unlock()
	if d, ok := c.derived[key.String()]; ok {
		return d
	}
	d := &Config{Policies: slices.Clone(c.Policies), Drafts: c.Drafts, Privacy: c.Privacy, Sources: c.Sources,
		DefaultCompliance: c.DefaultCompliance, profs: c.profs}
	for _, p := range c.ReportOnly {
		if p.EnforcedFor(waves) {
			d.Policies = append(d.Policies, p)
		} else {
			d.ReportOnly = append(d.ReportOnly, p)
		}
	}
	if len(d.ReportOnly) > 0 {
		all := append(slices.Clone(d.Policies), d.ReportOnly...)
		d.shadow = &Config{Policies: all, Privacy: c.Privacy, Sources: c.Sources, profs: c.profs}
	}
	if c.derived == nil {
		c.derived = map[string]*Config{}
	}
	c.derived[key.String()] = d
	return d
}

// forDevice is cfg as it applies to device d: with the report-only
// policies enforced for its owner's rollout waves.
func (e *Engine) forDevice(cfg *Config, d *store.Device) *Config {
	if e.waves == nil || len(cfg.ReportOnly) == 0 {
		return cfg
	}
	return cfg.ForWaves(e.waves(d))
}

var enforceForKeys = []string{"rollout", "waves"}

// enforceFor reads `enforce_for:` (the same shape as an access policy's):
// the plan id and its waves, as "<plan>/<wave>" keys.
func (p *parser) enforceFor(n *yaml.Node) (string, []string) {
	fs, ok := p.fields(n, "enforce_for")
	if !ok {
		return "", nil
	}
	before := len(p.Errs)
	var plan string
	var waves []string
	var wavesSeen bool
	for _, f := range fs {
		switch f.key {
		case "rollout":
			if s, ok := p.str(f.val, "enforce_for.rollout"); ok {
				if !slugRE.MatchString(s) {
					p.errorf(f.val, "enforce_for.rollout %q is not a rollout plan id (lower-case letters, digits and '-')", s)
				}
				plan = s
			}
		case "waves":
			wavesSeen = true
			names, nodes, _ := p.strList(f.val, "enforce_for.waves", false)
			for i, w := range names {
				switch {
				case !slugRE.MatchString(w):
					p.errorf(nodes[i], "enforce_for.waves: %q is not a wave name (lower-case letters, digits and '-')", w)
				case slices.Contains(waves, w):
					p.errorf(nodes[i], "enforce_for.waves: wave %q is listed twice", w)
				default:
					waves = append(waves, w)
				}
			}
		default:
			p.unknownKey(f, "enforce_for", enforceForKeys)
		}
	}
	if len(p.Errs) > before {
		return "", nil
	}
	if plan == "" {
		p.errorf(n, "enforce_for needs rollout: (the id of the rollout plan)")
		return "", nil
	}
	if !wavesSeen {
		p.errorf(n, "enforce_for needs waves: (the plan's waves the policy is enforced for)")
		return "", nil
	}
	keys := make([]string, len(waves))
	for i, w := range waves {
		keys[i] = plan + "/" + w
	}
	return plan, keys
}
