package rules_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// TestCompliancePoliciesVersioned: a compliance policy is a versioned
// rule like the others: If-Match, 422 naming the line, versions, audit,
// rollback; and what the store holds compiles into the posture config.
func TestCompliancePoliciesVersioned(t *testing.T) {
	st := storetest.OpenBolt(t)
	clk := &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s := newService(t, st, clk)
	ctx := context.Background()
	a := rules.Actor{Name: "user:ada@example.com"}
	put(t, s, store.RuleCompliance, "disks", nil, "mode: report-only\nchecks: {disk_encryption: required}\n")
	_, err := s.Put(ctx, a, rules.Change{Type: store.RuleCompliance, ID: "disks", Body: []byte("checks: {firewall: required}\n")})
	if code(err) != apperr.PreconditionMissing {
		t.Errorf("a write without If-Match = %v, want 428", err)
	}
	_, err = s.Put(ctx, a, rules.Change{Type: store.RuleCompliance, ID: "disks", IfMatch: v(1), File: "body",
		Body: []byte("mode: report-only\nchecks:\n  disk_encryption: sometimes\n")})
	var ae *apperr.Error
	if code(err) != apperr.Unprocessable || !asAppErr(err, &ae) || ae.Line != 3 || !strings.Contains(err.Error(), "disk_encryption") {
		t.Errorf("invalid compliance policy = %v, want 422 naming line 3 and the field", err)
	}
	_, err = s.Put(ctx, a, rules.Change{Type: store.RuleCompliance, ID: "disks", IfMatch: v(1), File: "body",
		Body: []byte("mode: sometimes\nchecks: {firewall: required}\n")})
	if code(err) != apperr.Unprocessable || !strings.Contains(err.Error(), "mode must be draft, report-only or enforce") {
		t.Errorf("bad mode = %v", err)
	}
	r := put(t, s, store.RuleCompliance, "disks", v(1), "mode: enforce\nchecks: {disk_encryption: required}\n")
	if r.Version != 2 {
		t.Fatalf("version = %d", r.Version)
	}
	vs, _, err := s.Versions(ctx, store.RuleCompliance, "disks", "", 10)
	if err != nil || len(vs) != 2 || !strings.Contains(vs[0].Diff, "-mode: report-only") || !strings.Contains(vs[0].Diff, "+mode: enforce") {
		t.Fatalf("versions = %v %v", vs, err)
	}
	if _, err := s.Rollback(ctx, a, rules.Change{Type: store.RuleCompliance, ID: "disks", IfMatch: v(2)}, 1); err != nil {
		t.Fatal(err)
	}
	docs, err := rules.ComplianceFromStore(st)
	if err != nil || len(docs) != 1 || docs[0].Mode != rules.ModeReportOnly {
		t.Fatalf("compliance in the store = %v %v", docs, err)
	}
	pc, err := rules.CompileCompliance(s.Base(), docs)
	if err != nil || len(pc.Policies) != 0 || len(pc.ReportOnly) != 1 {
		t.Fatalf("compiled: %v, %d enforced, %d report-only", err, len(pc.Policies), len(pc.ReportOnly))
	}
	var actions []string
	for _, ev := range st.Audit() {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, ","); got != "compliance.create,compliance.update,compliance.rollback" {
		t.Errorf("audit = %s", got)
	}
}

// TestComplianceScheduledPromotion: a report-only compliance policy with
// promote_at becomes enforced when it is due.
func TestComplianceScheduledPromotion(t *testing.T) {
	st := storetest.OpenBolt(t)
	clk := &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s := newService(t, st, clk)
	ctx := context.Background()
	put(t, s, store.RuleCompliance, "disks", nil,
		"mode: report-only\nchecks: {disk_encryption: required}\npromote_at: 2026-12-02T09:00:00Z\npromote_to: enforce\n")
	clk.Add(24 * time.Hour)
	if n, err := s.Promote(ctx); n != 1 || err != nil {
		t.Fatalf("promotions = %d %v", n, err)
	}
	docs, _ := rules.ComplianceFromStore(st)
	pc, err := rules.CompileCompliance(s.Base(), docs)
	if err != nil || len(pc.Policies) != 1 || len(pc.ReportOnly) != 0 {
		t.Fatalf("after the promotion: %v, %d enforced, %d report-only", err, len(pc.Policies), len(pc.ReportOnly))
	}
	evs := st.Audit()
	if last := evs[len(evs)-1]; last.Action != "compliance.promote" || last.Actor != rules.ScheduleAuthor {
		t.Errorf("last audit event = %s by %s", last.Action, last.Actor)
	}
}

// TestComplianceSeededThenRefused: the file's compliance seeds the store
// (the built-in baseline when the file has none); afterwards a file whose
// compliance differs is refused naming file:line, unless
// config_policies: file.
func TestComplianceSeededThenRefused(t *testing.T) {
	st := storetest.OpenBolt(t)
	clk := &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s := newService(t, st, clk)
	ctx := context.Background()
	load := func(doc string) *config.Config {
		cfg, err := config.Parse("portier.yaml", []byte("external_url: https://localhost\n"+doc))
		if err != nil {
			t.Fatal(err)
		}
		cfg.ApplyDefaults()
		return cfg
	}
	if n, err := s.Sync(ctx, load("")); n != 1 || err != nil {
		t.Fatalf("seeding without compliance: wrote %d, %v; want the baseline", n, err)
	}
	if r, ok := st.RuleOf(store.RuleCompliance, "baseline"); !ok || r.Author != rules.ConfigAuthor {
		t.Fatalf("baseline not seeded: %+v", r)
	}
	if _, err := s.Sync(ctx, load("")); err != nil {
		t.Errorf("a file without compliance after seeding: %v", err)
	}
	own := "compliance:\n  - id: disks\n    checks: {disk_encryption: required}\n"
	_, err := s.Sync(ctx, load(own))
	if err == nil || !strings.Contains(err.Error(), "portier.yaml:") || !strings.Contains(err.Error(), `compliance "disks" is not in the store`) {
		t.Errorf("a file with other compliance after seeding = %v, want a refusal naming the file", err)
	}
	if n, err := s.Sync(ctx, load("config_policies: file\n"+own)); n != 2 || err != nil {
		t.Fatalf("config_policies: file wrote %d, %v; want disks created and baseline deleted", n, err)
	}
	if r, _ := st.RuleOf(store.RuleCompliance, "baseline"); !r.Deleted {
		t.Error("the baseline the file lacks was not deleted")
	}
}

func asAppErr(err error, out **apperr.Error) bool {
	ae, ok := err.(*apperr.Error)
	*out = ae
	return ok
}
