package e2e

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/store"
)

// TestBrowserRolloutPlan: in real Chromium, an administrator (signed in,
// confirmed with a security key) creates a rollout plan from the page —
// the staff policy, a pilot naming one person and a sales wave — sees the
// per-wave table and a no-go naming the failing criterion (the pilot's
// only device is not compliant), then enters the pilot's open tickets,
// which the table and the stored plan show.
func TestBrowserRolloutPlan(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
	s.addUser("adm@example.com", "correct horse battery", "staff")
	s.setRole("adm@example.com", "admin")
	if err := s.srv.Store().Write(context.Background(),
		store.Put(&store.ExpectedDevice{ID: "E1", OwnerEmail: "ada@example.com", EnrolledAs: "d1"}),
		store.Put(&store.Device{ID: "d1", OwnerEmail: "ada@example.com", State: store.DeviceActive}),
		store.Put(&store.ExpectedDevice{ID: "S1", OwnerEmail: "sam@example.com", Department: "sales"}),
	); err != nil {
		t.Fatal(err)
	}

	b := s.newTab(exe)
	b.open(s.console() + "/rollout")
	b.signIn("adm@example.com", "correct horse battery")
	b.waitAt(s.console() + "/rollout")
	b.keyCheck(s, "/rollout")
	b.wantText("header nav", "Rollout plans")
	b.wantText("#no-plans", "No rollout plan yet.")
	b.do("open the new-plan form", chromedp.Click(chromedp.ID("new-plan")))
	b.waitAt(s.console() + "/rollout/new")
	b.do("fill the plan",
		chromedp.SendKeys(chromedp.ID("plan-id"), "mdm-2027"),
		chromedp.SendKeys(chromedp.ID("plan-name"), "MDM 2027"),
		chromedp.Click(chromedp.CSS(`input[name=policy][value=staff]`)),
		chromedp.SendKeys(chromedp.ID("wave-name-0"), "pilot"),
		chromedp.SendKeys(chromedp.ID("wave-people-0"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("wave-start-0"), "2027-01-04 08:00"),
		chromedp.SendKeys(chromedp.ID("wave-name-1"), "sales"),
		chromedp.SendKeys(chromedp.ID("wave-departments-1"), "sales"),
		chromedp.SendKeys(chromedp.ID("wave-start-1"), "2027-01-18"),
		chromedp.Click(chromedp.ID("save-plan")),
	)
	b.waitUntil("the plan page", `location.pathname === "/rollout/mdm-2027"`)
	b.wantText("#waves", "pilot", "sales")
	b.wantText("#wave-pilot .enrollment", "1 / 1")
	b.wantText("#wave-pilot .compliance", "0 / 1")
	b.wantText("#go-no-go", "No-go", "Wave pilot does not meet these exit criteria")
	b.wantText("#failing", "compliance 0 % < 90 %")

	b.do("enter the pilot's tickets",
		chromedp.SetValue(chromedp.ID("tickets-pilot"), "3"),
		chromedp.Click(chromedp.ID("save-tickets-pilot")),
	)
	b.waitUntil("the tickets saved", `location.search.includes("done=tickets")`)
	b.wantText("#wave-pilot .criteria", "open tickets 3 ≤ 10")
	if v := b.value("#tickets-pilot"); v != "3" {
		t.Errorf("tickets field = %q after saving 3", v)
	}
	p, ok := s.srv.Store().RolloutPlan("mdm-2027")
	if !ok || p.Waves[0].Tickets != 3 || len(p.Policies) != 1 || p.Policies[0] != "staff" || p.CreatedBy != "user:adm@example.com" {
		t.Fatalf("stored plan: %+v", p)
	}
	b.docScreenshot("rollout-plan.png")

	b.open(s.console() + "/rollout")
	b.wantText(`tr[data-plan="mdm-2027"]`, "MDM 2027", "No-go", "compliance 0 % < 90 %", "pilot · 2027-01-04 08:00 UTC")
}
