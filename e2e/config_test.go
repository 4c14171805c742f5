package e2e

import (
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/server"
)

// loadConfig parses a test's config as `portier serve` would (defaults,
// validation, compiled policies), failing the test on any error.
func loadConfig(t *testing.T, name, yaml string) (*config.Config, []*policy.Policy) {
	t.Helper()
	cfg, err := config.Parse(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pols, err := server.CompilePolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, pols
}
