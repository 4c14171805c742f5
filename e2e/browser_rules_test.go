package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserRulesEditor: in real Chromium, a security engineer signs in,
// confirms with a virtual security key, opens the access rules, sees the
// editor's lint answer as they type, switches the staff policy to
// report-only with a comment and saves; the new version is in the
// history, in their name, and the policy list shows it report-only. A
// help-desk member gets the 403 page on /rules.
func TestBrowserRulesEditor(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
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

	b.do("open the staff policy", chromedp.Click(chromedp.CSS(`#policies a[href="/rules/policies/staff"]`)))
	b.waitAt(s.console() + "/rules/policies/staff")
	b.do("type in the editor", chromedp.SendKeys(chromedp.ID("policy-text"), "\n"))
	b.waitUntil("the lint answer", `document.getElementById("policy-lint").textContent.includes("No errors.")`)
	b.do("save in report-only",
		chromedp.SetValue(chromedp.CSS(`#policy-editor select[name=mode]`), "report-only"),
		chromedp.SendKeys(chromedp.CSS(`#policy-editor input[name=comment]`), "observe first"),
		chromedp.Click(chromedp.CSS(`#policy-editor button[type=submit]`)),
	)
	b.waitUntil("version 2 in the history", `document.getElementById("version-2") !== null`)
	b.wantText("#version-2", "user:sec@example.com", "observe first")
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
