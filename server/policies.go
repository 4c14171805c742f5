package server

import (
	"fmt"
	"strings"

	"github.com/portier/portier/config"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/posture"
)

// demoPolicy lets any signed-in user on any device into the demo app: it is
// there to show what Portier sees, not to protect anything.
const demoPolicy = `
policies:
  - id: demo
    allow:
      or:
        - id: any-signed-in-user
          device: {trust: {gte: untrusted}}
`

// CompilePolicies parses the config's policies and checks that every route
// names one and every `device: {check: ...}` names a compliance check; it
// also validates the compliance, privacy, posture source and enrollment
// sections, so `portier policy lint`, start-up and reload refuse the same
// files. Errors name file:line.
func CompilePolicies(cfg *config.Config) ([]*policy.Policy, error) {
	if _, err := posture.FromConfig(cfg); err != nil {
		return nil, err
	}
	if _, err := enrollment.ParseConfig(cfg); err != nil {
		return nil, err
	}
	var pols []*policy.Policy
	if cfg.Policies.Kind != 0 {
		var err error
		if pols, err = policy.ParsePolicies(cfg.File, &cfg.Policies); err != nil {
			return nil, err
		}
	}
	ids := map[string]bool{}
	checks := map[string]bool{}
	for _, n := range posture.CheckNames() {
		checks[n] = true
	}
	for _, p := range pols {
		ids[p.ID] = true
		for _, c := range p.CheckRefs {
			if !checks[c.Name] {
				return nil, &config.Error{File: c.File, Line: c.Line,
					Msg: fmt.Sprintf("unknown compliance check %q (known: %s)", c.Name, strings.Join(posture.CheckNames(), ", "))}
			}
		}
	}
	for i, r := range cfg.Routes {
		if !ids[r.Policy] {
			return nil, &config.Error{File: cfg.File, Line: cfg.Line("routes", i, "policy"),
				Msg: fmt.Sprintf("route %q names policy %q, which is not defined", r.From, r.Policy)}
		}
	}
	if cfg.DemoEnabled() {
		demo, err := policy.Parse("(built-in demo policy)", []byte(demoPolicy))
		if err != nil {
			return nil, err
		}
		if ids["demo"] {
			return nil, &config.Error{File: cfg.File, Line: cfg.Line("policies"), Msg: `policy id "demo" is reserved while the demo app is on (set demo: false)`}
		}
		pols = append(pols, demo...)
	}
	return pols, nil
}
