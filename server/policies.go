package server

import (
	"fmt"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
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
// names one; errors name file:line.
func CompilePolicies(cfg *config.Config) ([]*policy.Policy, error) {
	var pols []*policy.Policy
	if cfg.Policies.Kind != 0 {
		var err error
		if pols, err = policy.ParsePolicies(cfg.File, &cfg.Policies); err != nil {
			return nil, err
		}
	}
	ids := map[string]bool{}
	for _, p := range pols {
		ids[p.ID] = true
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
