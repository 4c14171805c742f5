package config

import (
	"strings"
	"testing"
	"time"
)

func TestApprovalsDefaultsAndValidation(t *testing.T) {
	base := "external_url: https://portier.localhost:8443\n"
	cfg, err := Parse("c.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if a := cfg.Approvals; a.BulkThresholdOrDefault() != 10 || a.ExpiryOrDefault() != 24*time.Hour {
		t.Fatalf("defaults: %+v", a)
	}
	cfg, err = Parse("c.yaml", []byte(base+"approvals: {bulk_threshold: 3, expiry: 2h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Approvals; a.BulkThresholdOrDefault() != 3 || a.ExpiryOrDefault() != 2*time.Hour || a.Disabled {
		t.Fatalf("set: %+v", a)
	}
	if cfg, err = Parse("c.yaml", []byte(base+"approvals: {disabled: true}\n")); err != nil || !cfg.Approvals.Disabled {
		t.Fatalf("disabled: %v %+v", err, cfg)
	}
	for _, bad := range []string{"approvals: {bulk_threshold: -1}", "approvals: {expiry: 1m}", "approvals: {expiry: 1000h}"} {
		cfg, err := Parse("c.yaml", []byte(base+bad+"\n"))
		if err == nil {
			cfg.ApplyDefaults()
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "approvals.") || !strings.Contains(err.Error(), "c.yaml:2") {
			t.Errorf("%s: got %v, want an error naming approvals at line 2", bad, err)
		}
	}
}
