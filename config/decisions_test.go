package config

import (
	"strings"
	"testing"
	"time"
)

func TestDecisionsDefaultsAndValidation(t *testing.T) {
	base := "external_url: https://portier.localhost:8443\n"
	cfg, err := Parse("c.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := cfg.Decisions
	if !d.Recording() || d.RetentionOrDefault() != 720*time.Hour || d.MaxRowsOrDefault() != DefaultDecisionMaxRows || d.FlushOrDefault() != 5*time.Second {
		t.Fatalf("defaults: %+v", d)
	}
	cfg, err = Parse("c.yaml", []byte(base+"decisions: {record: false, retention: 48h, max_rows: 1000}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Decisions.Recording() || cfg.Decisions.RetentionOrDefault() != 48*time.Hour || cfg.Decisions.MaxRowsOrDefault() != 1000 {
		t.Fatalf("set: %+v", cfg.Decisions)
	}
	for _, bad := range []string{"decisions: {retention: 10m}", "decisions: {max_rows: -1}", "decisions: {flush_interval: 2h}"} {
		cfg, err := Parse("c.yaml", []byte(base+bad+"\n"))
		if err == nil {
			cfg.ApplyDefaults()
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "decisions.") || !strings.Contains(err.Error(), "c.yaml:2") {
			t.Errorf("%s: got %v, want an error naming decisions at line 2", bad, err)
		}
	}
}
