package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// analystConfig is the console's site with records written every 200 ms,
// so the explorer shows a request a moment after it was made.
const analystConfig = consoleConfig + "decisions: {flush_interval: 200ms}\n"

// reloadUntil opens u again until cond holds (records reach the store
// on the next flush, rules every replica within a second).
func (b *tab) reloadUntil(u, what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b.open(u)
		if b.evalString(`String(!!(`+cond+`))`) == "true" {
			return
		}
		if time.Now().After(deadline) {
			b.fatalf("waiting for %s on %s: %s never held", what, u, cond)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestBrowserSecurityAnalystFlow is the security team's workflow in real
// Chromium, against requests an employee makes through the proxy in the
// same test: an owner invites a security engineer from /people, who
// accepts and signs in with a virtual security key, previews a stricter
// staff policy (its diff, and the impact replay naming the employee as
// newly denied on her recorded request), saves it in report-only (the
// enforced version stays in force: the employee still gets in, and the
// explorer shows what the new version would have denied), promotes it
// to enforce (the
// employee's next request is denied, and the explorer shows it with the
// reasons the deny page gave), then rolls back (the next request gets in
// again). A help-desk member gets the 403 page on the policy pages.
func TestBrowserSecurityAnalystFlow(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, analystConfig)
	s.tabTimeout = 4 * time.Minute
	const pw = "correct horse battery"
	s.addUser("olga@example.com", pw, "staff")
	s.setRole("olga@example.com", "owner")
	s.addUser("ann@example.com", pw, "staff")
	s.addUser("sam@example.com", pw, "staff")
	s.addUser("hal@example.com", pw, "staff")
	s.setRole("hal@example.com", "helpdesk")
	wiki := func(path string) string { return s.url("wiki.localhost", path) }

	// The owner invites sam as a security engineer.
	owner := s.newTab(exe)
	owner.open(s.console() + "/people")
	owner.signIn("olga@example.com", pw)
	owner.keyCheck(s, "/people")
	invitation := owner.inviteFromPeople(s, "sam@example.com", "security")

	ann := s.newTab(exe)
	ann.open(wiki("/before"))
	ann.signIn("ann@example.com", pw)
	ann.waitAt(wiki("/before"))
	ann.wantText("h1", "hello from upstream")

	// sam accepts, signs in with a virtual security key and opens the
	// staff policy.
	sec := s.newTab(exe)
	sec.signInThroughLink(s, invitation, "sam@example.com", pw, "/rules")
	sec.open(s.console() + "/rules/policies/staff")

	// Stricter: first the impact replay on ann's recorded request, then
	// saved in report-only.
	s.waitRecorded("ann@example.com")
	stricter := "allow:\n  and:\n    - group: {has: staff}\n    - group: {has: finance}\n"
	sec.do("write the stricter policy and preview it",
		chromedp.SetValue(chromedp.ID("policy-text"), stricter),
		chromedp.Click(chromedp.ID("preview-button")))
	sec.waitUntil("the impact replay", `document.getElementById("impact-denied") !== null`)
	sec.wantText("#diff", "+    - group: {has: finance}")
	sec.wantText("#impact-denied", "ann@example.com", "finance")
	sec.do("save it in report-only",
		chromedp.SetValue(chromedp.CSS(`#policy-editor select[name=mode]`), "report-only"),
		chromedp.SendKeys(chromedp.CSS(`#policy-editor input[name=comment]`), "finance only"),
		chromedp.Click(chromedp.CSS(`#policy-editor button[type=submit]`)),
	)
	sec.waitUntil("version 2 in the history", `document.getElementById("version-2") !== null`)
	sec.wantText("main h2", "report-only")
	sec.wantText("#in-force", "Version 1 stays in force")

	// The enforced version 1 stays in force: ann still gets in, and the
	// explorer shows what version 2 would have done.
	ann.open(wiki("/observed"))
	ann.wantText("h1", "hello from upstream")
	decisions := s.console() + "/decisions?user=ann%40example.com"
	sec.reloadUntil(decisions, "ann's report-only record",
		`[...document.querySelectorAll("#decisions tr")].some(r => r.textContent.includes("report-only would: deny"))`)
	sec.wantText("#decisions", "report-only would: deny", "(report-only policy) This app needs membership of the group finance.")

	// Enforce: ann's next request is denied, with the reason.
	sec.open(s.console() + "/rules/policies/staff")
	sec.do("promote to enforce",
		chromedp.SetValue(chromedp.CSS(`#policy-editor select[name=mode]`), "enforce"),
		chromedp.SendKeys(chromedp.CSS(`#policy-editor input[name=comment]`), "enforce"),
		chromedp.Click(chromedp.CSS(`#policy-editor button[type=submit]`)),
	)
	sec.waitUntil("version 3 in the history", `document.getElementById("version-3") !== null`)
	ann.open(wiki("/enforced"))
	ann.wantText("h1", "Access denied")
	reason := ann.wantText("ul", "finance")
	sec.reloadUntil(decisions+"&outcome=deny", "ann's denied request",
		`[...document.querySelectorAll("#decisions tr[data-outcome=deny]")].length > 0`)
	got := sec.wantText("#decisions", "deny", "finance")
	if !strings.Contains(reason, "finance") || !strings.Contains(got, "ann@example.com") {
		t.Fatalf("the explorer's deny %q does not match the deny page's %q", got, reason)
	}
	sec.docScreenshot("decisions-deny.png")

	// Roll back to version 1: the next request gets in again.
	sec.open(s.console() + "/rules/policies/staff")
	sec.do("roll back to version 1", chromedp.Click(chromedp.CSS(`#version-1 button[type=submit]`)))
	sec.waitUntil("version 4 in the history", `document.getElementById("version-4") !== null`)
	sec.wantText("#version-4", "rollback to version 1")
	ann.open(wiki("/rolled-back"))
	ann.wantText("h1", "hello from upstream")

	// The help desk cannot reach the policy pages.
	hal := s.newTab(exe)
	hal.open(s.console() + "/rules/policies/staff")
	hal.signIn("hal@example.com", pw)
	hal.keyCheck(s, "/rules")
	hal.wantText("h1", "Not allowed")
	hal.open(s.console() + "/rules/policies/staff")
	hal.wantText("h1", "Not allowed")
}
