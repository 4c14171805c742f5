package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/store"
)

// TestBrowserRulesEditor: in real Chromium, a security engineer signs in,
// confirms with a virtual security key, opens the wiki through the proxy
// (recorded), opens the access rules, sees the editor's lint answer as
// they type a stricter staff policy, previews it (the diff, and the
// impact replay naming them as newly denied on their own recorded
// request), then saves it in report-only with a comment; the new version
// is in the history, in their name, and the policy list shows it
// report-only. A help-desk member gets the 403 page on /rules.
func TestBrowserRulesEditor(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig+"decisions: {flush_interval: 200ms}\n")
	s.addUser("sec@example.com", "correct horse battery", "staff")
	s.setRole("sec@example.com", "security")
	s.addUser("hal@example.com", "correct horse battery", "staff")
	s.setRole("hal@example.com", "helpdesk")

	b := s.newTab(exe)
	b.open(s.console() + "/rules")
	b.signIn("sec@example.com", "correct horse battery")
	b.waitAt(s.console() + "/rules")
	b.wantText("main", "security key") // the role waits for a key
	b.keyCheck(s, "/rules")
	b.wantText("h1", "Access rules")
	b.wantText("#policies", "staff", "managed")
	b.wantText("#routes", "wiki.localhost")

	// A real request through the proxy, recorded for the replay.
	b.open(s.url("wiki.localhost", "/"))
	b.waitAt(s.url("wiki.localhost", "/"))
	b.wantText("#who", "sec@example.com")
	s.waitRecorded("sec@example.com")

	b.open(s.console() + "/rules")
	b.do("open the staff policy", chromedp.Click(chromedp.CSS(`#policies a[href="/rules/policies/staff"]`)))
	b.waitAt(s.console() + "/rules/policies/staff")
	b.do("type a stricter policy",
		chromedp.SetValue(chromedp.ID("policy-text"), "allow:\n  and:\n    - group: {has: ops}"),
		chromedp.SendKeys(chromedp.ID("policy-text"), "\n"))
	b.waitUntil("the lint answer", `document.getElementById("policy-lint").textContent.includes("No errors.")`)
	b.do("preview over 7 days",
		chromedp.SetValue(chromedp.CSS(`#policy-editor select[name=days]`), "7"),
		chromedp.Click(chromedp.ID("preview-button")))
	b.waitUntil("the preview", `document.getElementById("impact-denied") !== null`)
	b.wantText("#diff", "-    - group: {has: staff}", "+    - group: {has: ops}")
	if got := b.text("#impact-counts tr.impact-denied td:nth-of-type(2)"); got != "1" {
		b.fatalf("newly denied people = %q, want 1", got)
	}
	b.wantText("#impact-denied", "sec@example.com", "policy.no_match")
	b.docScreenshot("rules-preview.png")
	if got := b.value("#policy-text"); !strings.Contains(got, "has: ops") {
		b.fatalf("the preview did not keep the text: %q", got)
	}
	if got := b.value(`#policy-editor select[name=days]`); got != "7" {
		b.fatalf("the preview did not keep the window: %q", got)
	}
	b.do("save in report-only",
		chromedp.SetValue(chromedp.CSS(`#policy-editor select[name=mode]`), "report-only"),
		chromedp.SendKeys(chromedp.CSS(`#policy-editor input[name=comment]`), "observe first"),
		chromedp.Click(chromedp.ID("save-button")),
	)
	b.waitUntil("version 2 in the history", `document.getElementById("version-2") !== null`)
	b.wantText("#version-2", "user:sec@example.com", "observe first")
	if diff := b.evalString(`document.querySelector("#version-2 pre").textContent`); !strings.Contains(diff, "+    - group: {has: ops}") || !strings.Contains(diff, "+mode: report-only") {
		b.fatalf("version 2's diff: %s", diff)
	}
	b.wantText("main h2", "report-only")
	b.screenshot("rules-editor.png")
	b.open(s.console() + "/rules")
	b.wantText("#policies", "report-only")

	h := s.newTab(exe)
	h.open(s.console() + "/rules")
	h.signIn("hal@example.com", "correct horse battery")
	h.waitAt(s.console() + "/rules")
	h.wantText("h1", "Not allowed")
}

// waitRecorded waits until a request of user is in the store's recorded
// access (the server flushes its records every decisions.flush_interval).
func (s *site) waitRecorded(user string) {
	s.t.Helper()
	dl, err := s.srv.Store().Decisions()
	if err != nil {
		s.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		recs, err := dl.QueryDecisions(context.Background(), store.DecisionQuery{User: user, Limit: 1})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(recs) > 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no recorded access of %s within 10s", user)
		}
	}
}
