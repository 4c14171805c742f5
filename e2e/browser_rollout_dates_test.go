package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/clocktest"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
)

// rolloutConfig: the app's policy is report-only (nothing enforced yet)
// and would let only the finance group in; ann is in staff.
const rolloutConfig = `
routes:
  - {id: app, from: "https://app.localhost:{{port}}", to: "{{upstream}}", policy: apps}
policies:
  - id: apps
    mode: report-only
    allow:
      or:
        - id: finance-only
          group: {has: finance}
`

// TestBrowserRolloutPlanDates: a rollout plan on Portier's injected clock. An
// unmanaged browser first gets the coexistence interstitial and continues
// to the app; the pilot wave's date moves the app's policy to enforce for
// the pilot's people (ann is denied by it); from the coexistence deadline
// the unmanaged browser is denied for that reason.
func TestBrowserRolloutPlanDates(t *testing.T) {
	exe := requireChromium(t)
	clk := clocktest.New()
	s := startSiteAt(t, rolloutConfig, clk.Now)
	s.addUser("ann@example.com", "correct horse battery", "staff")
	start, deadline := clk.Now().Add(time.Hour), clk.Now().Add(3*time.Hour)
	plan := &store.RolloutPlan{ID: "mdm", Name: "MDM 2027", Policies: []string{"apps"},
		Waves:       []store.RolloutWave{{Name: "pilot", People: []string{"ann@example.com"}, Start: start}},
		Coexistence: &store.Coexistence{Deadline: deadline, Routes: []string{"app"}}}
	if err := rollout.Validate(plan); err != nil {
		t.Fatal(err)
	}
	if err := s.srv.Store().Write(context.Background(), store.Put(plan)); err != nil {
		t.Fatal(err)
	}
	date := deadline.UTC().Format(time.DateOnly)
	b := s.newTab(exe)

	b.open(s.url("app.localhost", "/docs"))
	b.signIn("ann@example.com", "correct horse battery")
	b.waitAt(s.url("app.localhost", "/docs"))
	b.waitUntil("the coexistence interstitial", `document.querySelector("#continue") !== null`)
	b.wantText("h1", "Enroll this device before "+date)
	b.wantText("#deadline", "From "+date)
	if href := b.evalString(`document.querySelector("#enroll").href`); href != s.console()+"/enroll" {
		b.fatalf("enroll link = %q", href)
	}
	if n := s.hits.Load(); n != 0 {
		b.fatalf("the upstream answered %d requests behind the interstitial", n)
	}
	b.do("continue", chromedp.Click(chromedp.CSS("#continue")))
	b.waitUntil("the app", `document.body.innerText.includes("hello from upstream")`)
	if p := b.text("#path"); p != "/docs" {
		b.fatalf("continued to %q, want /docs", p)
	}

	// The pilot's date: the policy is enforced for ann.
	clk.Set(start)
	s.srv.ApplyRollout(context.Background())
	if r, _ := s.srv.Store().RuleOf(store.RulePolicy, "apps"); r == nil || r.Author != rollout.Author("mdm") {
		b.fatalf("the wave step did not write the policy: %+v", r)
	}
	b.open(s.url("app.localhost", "/docs"))
	b.waitUntil("the deny page", `document.title.startsWith("Access denied")`)
	b.wantText("ul", "finance")

	// The deadline: denied for the unmanaged device, with the date and
	// the way to enroll.
	clk.Set(deadline)
	b.open(s.url("app.localhost", "/docs"))
	b.waitUntil("the deny page", `document.title.startsWith("Access denied")`)
	reason := b.wantText("ul", "Since "+date, "needs a device enrolled with Portier", s.console()+"/enroll")
	if strings.Contains(reason, "finance") {
		b.fatalf("the deadline's denial should come before the policy's: %q", reason)
	}
}
