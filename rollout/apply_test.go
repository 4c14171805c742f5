package rollout_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/clocktest"
	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
	"gopkg.in/yaml.v3"
)

// applyEnv is a store with the plan's policies, a rules service and an
// applier over them.
type applyEnv struct {
	st  *store.Store
	clk *clocktest.Clock
	svc *rules.Service
	a   *rollout.Applier
}

func newApplyEnv(t *testing.T) *applyEnv { return newApplyEnvOn(t, storetest.OpenBolt(t)) }

// newApplyEnvOn is newApplyEnv on st.
func newApplyEnvOn(t *testing.T, st *store.Store) *applyEnv {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte("external_url: https://localhost\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	e := &applyEnv{st: st, clk: clocktest.At(day0.Add(-time.Hour))}
	e.svc = &rules.Service{Store: e.st, Base: func() *config.Config { return cfg }, Clock: e.clk.Now,
		Compile: func(c *config.Config) ([]*policy.Policy, error) { return policy.ParsePolicies(c.File, &c.Policies) }}
	e.a = &rollout.Applier{Store: e.st, Rules: e.svc, Log: slog.New(slog.DiscardHandler)}
	for _, r := range []struct{ typ, id, body string }{
		{store.RulePolicy, "finance", "mode: report-only\nallow:\n  and:\n    - group: {has: finance}\n    - device: {managed: true}\n"},
		{store.RulePolicy, "strict", "allow: {group: staff}\n"},
		{store.RuleCompliance, "disks", "mode: report-only\nchecks: {disk_encryption: required}\n"},
	} {
		if _, err := e.svc.Put(context.Background(), rules.Actor{Name: "user:ada@example.com"},
			rules.Change{Type: r.typ, ID: r.id, Body: []byte(r.body), File: r.id}); err != nil {
			t.Fatal(err)
		}
	}
	p := plan()
	p.Policies = []string{"finance", "strict", "ghost"}
	p.Compliance = []string{"disks"}
	if err := rollout.Validate(p); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Write(context.Background(), store.Put(p)); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *applyEnv) apply(t *testing.T, at time.Time) int {
	t.Helper()
	e.clk.Set(at)
	n, err := e.a.Apply(context.Background(), at)
	if err != nil {
		t.Fatalf("Apply at %s: %v", at, err)
	}
	return n
}

func (e *applyEnv) rule(t *testing.T, typ, id string) *store.Rule {
	t.Helper()
	r, ok := e.st.RuleOf(typ, id)
	if !ok {
		t.Fatalf("no %s %q", typ, id)
	}
	return r
}

// waves are the enforce_for waves of a rule's text, as the parser reads them.
func waves(t *testing.T, r *store.Rule) []string {
	t.Helper()
	d, err := rules.DocOf(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Type == store.RuleCompliance {
		pc, err := rules.CompileCompliance(&config.Config{}, []*rules.Doc{d})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pc.ReportOnly {
			return p.EnforceFor
		}
		return nil
	}
	ps, err := policy.ParsePolicies("t", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{d.Node}})
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].EnforceFor == nil {
		return nil
	}
	return ps[0].EnforceFor.Keys()
}

func TestApplyWritesOneVersionPerPolicyPerWave(t *testing.T) {
	e := newApplyEnv(t)
	if n := e.apply(t, day0.Add(-time.Minute)); n != 0 {
		t.Fatalf("before the pilot's date: %d waves applied", n)
	}
	if n := e.apply(t, day0); n != 1 {
		t.Fatalf("on the pilot's date: %d waves applied", n)
	}
	fin := e.rule(t, store.RulePolicy, "finance")
	if fin.Version != 2 || fin.Author != "rollout:mdm-2027" ||
		fin.Comment != `rollout plan "MDM 2027": wave "pilot" reached its date (2027-01-04)` {
		t.Errorf("finance after the pilot: v%d by %s, %q", fin.Version, fin.Author, fin.Comment)
	}
	if got := waves(t, fin); strings.Join(got, ",") != "mdm-2027/pilot" {
		t.Errorf("finance enforce_for = %v", got)
	}
	if got := waves(t, e.rule(t, store.RuleCompliance, "disks")); strings.Join(got, ",") != "mdm-2027/pilot" {
		t.Errorf("disks enforce_for = %v", got)
	}
	if r := e.rule(t, store.RulePolicy, "strict"); r.Version != 1 {
		t.Errorf("an enforced policy was rewritten: v%d", r.Version)
	}
	p, _ := e.st.RolloutPlan("mdm-2027")
	if !p.Waves[0].AppliedAt.Equal(day0) || !p.Waves[1].AppliedAt.IsZero() {
		t.Errorf("applied: %v / %v", p.Waves[0].AppliedAt, p.Waves[1].AppliedAt)
	}
	var step *store.AuditEvent
	updates := 0
	for _, ev := range e.st.Audit() {
		if ev.Action == rollout.AuditWaveApplied {
			step = ev
		}
		if ev.Actor == "rollout:mdm-2027" && strings.HasSuffix(ev.Action, ".update") {
			updates++
		}
	}
	if step == nil || step.Detail["wave"] != "pilot" || !strings.Contains(step.Detail["skipped"], "policy/ghost: missing") ||
		!strings.Contains(step.Detail["skipped"], "policy/strict: already enforced") ||
		step.Detail["written"] != "policy/finance@2,compliance/disks@2" {
		t.Errorf("wave step audit = %+v", step)
	}
	if updates != 2 {
		t.Errorf("%d audited policy writes by the plan, want 2", updates)
	}

	// Again on the same day: nothing more.
	if n := e.apply(t, day0.Add(time.Hour)); n != 0 || e.rule(t, store.RulePolicy, "finance").Version != 2 {
		t.Errorf("a second run applied %d waves", n)
	}
	// Late by two waves: one per run, in order; the last takes everyone
	// and enforces the policy outright.
	late := day0.AddDate(0, 0, 30)
	if n := e.apply(t, late); n != 1 || strings.Join(waves(t, e.rule(t, store.RulePolicy, "finance")), ",") != "mdm-2027/pilot,mdm-2027/sales" {
		t.Fatalf("sales: %d applied, finance %q", n, e.rule(t, store.RulePolicy, "finance").Text)
	}
	if n := e.apply(t, late); n != 1 {
		t.Fatalf("rest: %d applied", n)
	}
	fin = e.rule(t, store.RulePolicy, "finance")
	if fin.Version != 4 || strings.Contains(fin.Text, "enforce_for") || !strings.Contains(fin.Text, "mode: enforce") {
		t.Errorf("after the everyone wave, finance v%d:\n%s", fin.Version, fin.Text)
	}
	if n := e.apply(t, late.Add(time.Hour)); n != 0 {
		t.Errorf("after the last wave: %d applied", n)
	}
}

func TestApplyConcurrentReplicasWriteEachStepOnce(t *testing.T) {
	e := newApplyEnv(t)
	e.clk.Set(day0)
	other := &rollout.Applier{Store: e.st, Rules: e.svc, Log: slog.New(slog.DiscardHandler)}
	var wg sync.WaitGroup
	for _, a := range []*rollout.Applier{e.a, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = a.Apply(context.Background(), day0) // the loser's conflict is not an error
		}()
	}
	wg.Wait()
	// Whatever the interleaving, a few more runs finish the step.
	for range 3 {
		e.apply(t, day0)
	}
	if v := e.rule(t, store.RulePolicy, "finance").Version; v != 2 {
		t.Errorf("finance at version %d, want 2: the step was written twice", v)
	}
	steps := 0
	for _, ev := range e.st.Audit() {
		if ev.Action == rollout.AuditWaveApplied {
			steps++
		}
	}
	if steps != 1 {
		t.Errorf("%d wave steps audited, want 1", steps)
	}
}

func TestApplyAfterACrashBetweenPolicyAndPlan(t *testing.T) {
	e := newApplyEnv(t)
	e.clk.Set(day0)
	// A replica wrote finance's step, then died before marking the wave.
	p, _ := e.st.RolloutPlan("mdm-2027")
	cur := e.rule(t, store.RulePolicy, "finance")
	text, _, err := rollout.NextText(cur.Text, p.ID, p.Waves[0])
	if err != nil {
		t.Fatal(err)
	}
	v := cur.Version
	if _, err := e.svc.Put(context.Background(), rules.Actor{Name: rollout.Author(p.ID)},
		rules.Change{Type: store.RulePolicy, ID: "finance", IfMatch: &v, Body: text}); err != nil {
		t.Fatal(err)
	}
	if n := e.apply(t, day0); n != 1 {
		t.Fatalf("the wave was not marked: %d", n)
	}
	if r := e.rule(t, store.RulePolicy, "finance"); r.Version != 2 {
		t.Errorf("finance written again after the crash: v%d\n%s", r.Version, r.Text)
	}
	if r := e.rule(t, store.RuleCompliance, "disks"); r.Version != 2 {
		t.Errorf("disks not written: v%d", r.Version)
	}
}

func TestApplySkipsPausedPlansAndNeverUndoesARollback(t *testing.T) {
	e := newApplyEnv(t)
	ctx := context.Background()
	p, _ := e.st.RolloutPlan("mdm-2027")
	paused := *p
	paused.Paused, paused.Version = true, p.Version+1
	if err := e.st.Write(ctx, store.PutIf(&paused, p.Version)); err != nil {
		t.Fatal(err)
	}
	if n := e.apply(t, day0.AddDate(0, 0, 1)); n != 0 || e.rule(t, store.RulePolicy, "finance").Version != 1 {
		t.Fatalf("a paused plan applied %d waves", n)
	}
	resumed := paused
	resumed.Paused, resumed.Version = false, paused.Version+1
	if err := e.st.Write(ctx, store.PutIf(&resumed, paused.Version)); err != nil {
		t.Fatal(err)
	}
	if n := e.apply(t, day0.AddDate(0, 0, 1)); n != 1 {
		t.Fatalf("the resumed plan applied %d waves", n)
	}
	// An admin rolls finance back to before the pilot.
	v := uint64(2)
	if _, err := e.svc.Rollback(ctx, rules.Actor{Name: "user:ada@example.com"}, rules.Change{Type: store.RulePolicy, ID: "finance", IfMatch: &v}, 1); err != nil {
		t.Fatal(err)
	}
	if n := e.apply(t, day0.AddDate(0, 0, 2)); n != 0 || e.rule(t, store.RulePolicy, "finance").Version != 3 {
		t.Errorf("the rolled-back pilot was applied again")
	}
	// The next wave extends what is there now: sales only.
	e.apply(t, day0.AddDate(0, 0, 14))
	if got := waves(t, e.rule(t, store.RulePolicy, "finance")); strings.Join(got, ",") != "mdm-2027/sales" {
		t.Errorf("after sales: enforce_for %v", got)
	}
}

func TestNextTextSkips(t *testing.T) {
	w := store.RolloutWave{Name: "pilot"}
	for text, want := range map[string]string{
		"allow: {group: a}\n":                "already enforced for everyone",
		"mode: enforce\nallow: {group: a}\n": "already enforced for everyone",
		"mode: draft\nallow: {group: a}\n":   "a draft",
		"mode: report-only\nenforce_for: {rollout: other, waves: [x]}\nallow: {group: a}\n":   "another rollout plan",
		"mode: report-only\nenforce_for: {rollout: mdm, waves: [pilot]}\nallow: {group: a}\n": "",
	} {
		out, why, err := rollout.NextText(text, "mdm", w)
		if err != nil || out != nil || !strings.Contains(why, want) {
			t.Errorf("%q: %q, %q, %v; want skipped: %q", text, out, why, err, want)
		}
	}
}
