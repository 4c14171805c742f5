package rules_test

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/policy"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// compiled is the store's rule set as every replica compiles it, by id.
func compiled(t *testing.T, s *rules.Service) map[string]*policy.Policy {
	t.Helper()
	routes, pols, err := rules.FromStore(s.Store)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(s.Base(), routes, pols, s.Compile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*policy.Policy{}
	for _, p := range set.Policies {
		out[p.ID] = p
	}
	return out
}

// Observing a change to an enforced policy keeps its last enforced version
// in force: saving staff in report-only must not open the route to every
// signed-in person while the change is observed. Enforcing or rolling
// back ends it; an explicit shadows: is kept as written.
func TestReportOnlyKeepsTheEnforcedVersion(t *testing.T) {
	st := storetest.OpenBolt(t)
	s := newService(t, st, &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})
	ctx := context.Background()
	put(t, s, store.RulePolicy, "staff", nil, "allow:\n  or:\n    - group: {has: staff}\n")
	put(t, s, store.RuleRoute, "wiki", nil, "from: https://wiki.example.com\nto: http://127.0.0.1:9\npolicy: staff\n")

	stricter := "mode: report-only\nallow:\n  and:\n    - group: {has: staff}\n    - group: {has: finance}\n"
	r := put(t, s, store.RulePolicy, "staff", v(1), stricter)
	if r.InForceVersion != 1 || r.InForce == "" {
		t.Fatalf("report-only over enforced version 1: in force %d %q", r.InForceVersion, r.InForce)
	}
	ps := compiled(t, s)
	inForce := ps[rules.InForceID("staff", 1)]
	if inForce == nil || inForce.Mode != policy.Enforce || ps["staff"].Shadows != "staff@v1" || ps["staff"].Mode != policy.ReportOnly {
		t.Fatalf("compiled: staff shadows %q, staff@v1 = %+v", ps["staff"].Shadows, inForce)
	}

	// A second report-only edit still observes against version 1.
	r = put(t, s, store.RulePolicy, "staff", v(2), stricter+"comment: tweak\n")
	if r.InForceVersion != 1 {
		t.Fatalf("second report-only edit: in force version %d, want 1", r.InForceVersion)
	}

	// Enforcing ends it; the next report-only edit observes against it.
	r = put(t, s, store.RulePolicy, "staff", v(3), "mode: enforce\nallow:\n  and:\n    - group: {has: staff}\n    - group: {has: finance}\n")
	if r.InForce != "" {
		t.Fatalf("enforced version keeps an in-force copy: %q", r.InForce)
	}
	if ps := compiled(t, s); len(ps) != 1 || ps["staff"].Shadows != "" {
		t.Fatalf("after enforce: %d policies, shadows %q", len(ps), ps["staff"].Shadows)
	}
	r = put(t, s, store.RulePolicy, "staff", v(4), "mode: report-only\nallow:\n  or:\n    - group: {has: staff}\n")
	if r.InForceVersion != 4 {
		t.Fatalf("report-only over enforced version 4: in force version %d", r.InForceVersion)
	}

	// A rollback to an enforced version enforces it alone.
	r, err := s.Rollback(ctx, rules.Actor{Name: "user:ada@example.com"}, rules.Change{Type: store.RulePolicy, ID: "staff", IfMatch: v(5)}, 1)
	if err != nil || r.InForce != "" {
		t.Fatalf("rollback: %v, in force %q", err, r.InForce)
	}
	if ps := compiled(t, s); ps["staff"].Mode != policy.Enforce || len(ps) != 1 {
		t.Fatalf("after rollback: mode %v, %d policies", ps["staff"].Mode, len(ps))
	}

	// An explicit shadows: is the author's choice.
	put(t, s, store.RulePolicy, "open", nil, "allow:\n  or:\n    - group: {has: staff}\n")
	r = put(t, s, store.RulePolicy, "staff", v(6), "mode: report-only\nshadows: open\nallow:\n  or:\n    - group: {has: ops}\n")
	if r.InForce != "" || compiled(t, s)["staff"].Shadows != "open" {
		t.Fatalf("explicit shadows: in force %q, shadows %q", r.InForce, compiled(t, s)["staff"].Shadows)
	}
}
