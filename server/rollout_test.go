package server

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/clocktest"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// TestRolloutWaveAndDeadlineOnTheServer: the server's wiring: a wave's
// date (injected clock) moves the attached policy to enforce for the
// wave's people, and the coexistence deadline denies unmanaged devices,
// as the console's what-if (which decides like the proxy) shows.
func TestRolloutWaveAndDeadlineOnTheServer(t *testing.T) {
	start := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	clk := clocktest.At(start.Add(-time.Hour))
	srv := startRulesServerAt(t, clk.Now)
	ctx := context.Background()
	// staff is observed in report-only with a stricter allow; the
	// enforced version stays in force meanwhile.
	cur, _ := srv.store.RuleOf(store.RulePolicy, "staff")
	v := cur.Version
	if _, err := srv.rules.Put(ctx, rules.Actor{Name: "user:sec@example.com"}, rules.Change{Type: store.RulePolicy, ID: "staff", IfMatch: &v,
		Body: []byte("mode: report-only\nallow:\n  or:\n    - group: {has: admins}\n")}); err != nil {
		t.Fatal(err)
	}
	p := &store.RolloutPlan{ID: "mdm", Name: "MDM 2027", Policies: []string{"staff"},
		Waves:       []store.RolloutWave{{Name: "pilot", People: []string{"ada@example.com"}, Start: start}},
		Coexistence: &store.Coexistence{Deadline: start.AddDate(0, 1, 0), Routes: []string{"wiki"}}}
	if err := rollout.Validate(p); err != nil {
		t.Fatal(err)
	}
	if err := srv.store.Write(ctx, store.Put(p)); err != nil {
		t.Fatal(err)
	}
	srv.refreshRollout()
	ask := func(email string) *proxy.Simulation {
		t.Helper()
		q := proxy.Query{Email: email, Groups: "staff", DeviceTrust: "high", Ownership: "corporate"}
		if email == "carl@example.com" {
			q.DeviceTrust, q.Ownership = "", "" // no enrolled device
		}
		res, err := srv.simulate("https://wiki.example.test/", q)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := ask("ada@example.com"); !res.Decision.Outcome.Allowed() {
		t.Fatalf("before the pilot's date: %+v", res.Decision)
	}
	clk.Set(start)
	srv.ApplyRollout(ctx)
	if r, _ := srv.store.RuleOf(store.RulePolicy, "staff"); r.Author != rollout.Author("mdm") {
		t.Fatalf("the wave step did not write staff: %+v", r)
	}
	if res := ask("ada@example.com"); res.Decision.Outcome.Allowed() || res.Decision.ReportOnly {
		t.Errorf("pilot member after the date: %+v, want the report-only policy's denial enforced", res.Decision)
	}
	if res := ask("bob@example.com"); !res.Decision.Outcome.Allowed() || res.Observed == nil {
		t.Errorf("outside the pilot: %+v, want the version in force, the new one observed", res)
	}
	if res := ask("carl@example.com"); !res.Decision.Outcome.Allowed() {
		t.Errorf("unmanaged device before the deadline: %+v", res.Decision)
	}
	clk.Set(start.AddDate(0, 1, 0))
	if res := ask("carl@example.com"); res.Decision.Outcome.Allowed() || len(res.Decision.Reasons) == 0 ||
		res.Decision.Reasons[0].Code != proxy.CodeCoexistenceDeadline {
		t.Errorf("unmanaged device from the deadline: %+v", res.Decision)
	}
}
