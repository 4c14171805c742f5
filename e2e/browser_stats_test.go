package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/store"
)

// TestBrowserDecisionStats: in real Chromium, a security engineer opens
// the statistics page: the report-only policy's would-deny list names the
// person and device with the reason, the rule charts are SVG bars coloured
// by the console's stylesheet under the strict CSP, and the top deny
// reason's link opens the explorer on its records, whose export link
// carries the same filters.
func TestBrowserDecisionStats(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
	s.addUser("sec@example.com", "correct horse battery", "staff")
	s.setRole("sec@example.com", "security")
	dl, err := s.srv.Store().Decisions()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-2 * time.Hour)
	rec := func(user, device, outcome string, n uint64) *store.DecisionRecord {
		r := &store.DecisionRecord{First: at, Last: at, Count: n, Route: "https://wiki.localhost", Policy: "staff",
			UserID: "usr_" + user, User: user + "@example.com", Device: device, Outcome: outcome, Rules: []string{"staff/allow"}}
		if outcome == "deny" {
			r.Rules = nil
			r.Reasons = []store.DecisionReason{{Code: "device.trust", Message: "This device's trust level is too low."}}
		}
		store.RecordTimes(r)
		return r
	}
	cy := rec("cy", "dev_cy", "allow", 4)
	cy.ReportOnly = &store.Observed{Policy: "staff-next", Outcome: "deny", Rules: []string{},
		Reasons: []store.DecisionReason{{Code: "device.ownership", Message: "Personal devices may not open this."}}}
	if err := dl.AppendDecisions(context.Background(), []*store.DecisionRecord{rec("ann", "dev_ann", "allow", 3),
		rec("bob", "", "deny", 2), cy}); err != nil {
		t.Fatal(err)
	}

	b := s.newTab(exe)
	b.open(s.console() + "/decisions/stats")
	b.signIn("sec@example.com", "correct horse battery")
	b.waitAt(s.console() + "/decisions/stats")
	b.keyCheck(s, "/decisions/stats")
	b.wantText("h1", "Decision statistics")
	b.wantText("#totals", "9 requests, 2 denied.")
	b.wantText(".would-deny", "staff-next", "4 requests would be denied", "cy@example.com", "dev_cy", "device.ownership")
	b.wantText("#deny-reasons", "device.trust", "This device's trust level is too low.")
	if fill := b.evalString(`getComputedStyle(document.querySelector("svg.chart rect.bar-allow")).fill`); fill != "rgb(47, 74, 128)" {
		t.Errorf("the allow bars are %q, not the stylesheet's colour", fill)
	}
	b.docScreenshot("decision-stats.png")

	b.do("open the reason's records", chromedp.Click(chromedp.CSS(`#deny-reasons a`)))
	b.waitAt(s.console() + "/decisions?")
	b.wantText("#decisions", "bob@example.com")
	if body := b.bodyText(); strings.Contains(body, "ann@example.com") || !strings.Contains(body, "reason=device.trust") {
		t.Errorf("explorer from the reason link:\n%s", body)
	}
	if href := b.evalString(`document.getElementById("export").getAttribute("href")`); !strings.HasPrefix(href, "/decisions/export?") ||
		!strings.Contains(href, "reason=device.trust") || !strings.Contains(href, "outcome=deny") {
		t.Errorf("export link %q", href)
	}
}
