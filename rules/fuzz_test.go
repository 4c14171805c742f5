package rules_test

import (
	"testing"

	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// FuzzParseDoc: a request body never crashes the parser, and what it
// accepts it stores as text that parses back to the same rule.
func FuzzParseDoc(f *testing.F) {
	f.Add(true, []byte("from: https://wiki.example.com\nto: http://127.0.0.1:9\npolicy: staff\ncomment: x\n"))
	f.Add(false, []byte("mode: draft\nallow:\n  or:\n    - group: {has: staff}\npromote_at: 2026-01-01T00:00:00Z\npromote_to: enforce\n"))
	f.Add(false, []byte(`{"id":"p","allow":{"or":[{"email":{"is":"a@b.c"}}]}}`))
	f.Add(true, []byte("- a\n- b\n"))
	f.Add(false, []byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, route bool, b []byte) {
		typ := store.RulePolicy
		if route {
			typ = store.RuleRoute
		}
		d, err := rules.ParseDoc(typ, "body", b, "p")
		if err != nil {
			return
		}
		again, err := rules.ParseDoc(typ, "stored", []byte(d.Text), "p")
		if err != nil {
			t.Fatalf("stored text does not parse back: %v\n%s", err, d.Text)
		}
		if !rules.Same(d, again) {
			t.Fatalf("stored text parses to another rule:\n%s", d.Text)
		}
	})
}

// FuzzParseComplianceDoc: a compliance policy body never crashes the
// parser, and what it accepts it stores as text that parses back the same.
func FuzzParseComplianceDoc(f *testing.F) {
	f.Add([]byte("mode: report-only\nchecks: {disk_encryption: required}\npromote_at: 2026-01-01T00:00:00Z\npromote_to: enforce\n"))
	f.Add([]byte(`{"id":"c","checks":{"firewall":"required"},"escalation":{"notify":"0s","quarantine":"1h","queue_selective_wipe":true}}`))
	f.Add([]byte("checks:\n  min_os_version: {macos: \"14\"}\nescalation: none\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := rules.ParseDoc(store.RuleCompliance, "body", b, "c")
		if err != nil {
			return
		}
		again, err := rules.ParseDoc(store.RuleCompliance, "stored", []byte(d.Text), "c")
		if err != nil {
			t.Fatalf("stored text does not parse back: %v\n%s", err, d.Text)
		}
		if !rules.Same(d, again) {
			t.Fatalf("stored text parses to another rule:\n%s", d.Text)
		}
	})
}
