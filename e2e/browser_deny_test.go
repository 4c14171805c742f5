package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// denyConfig protects payroll for the finance group only; ann is in staff.
const denyConfig = `
routes:
  - {from: "https://payroll.localhost:{{port}}", to: "{{upstream}}", policy: finance}
policies:
  - id: finance
    allow:
      or:
        - id: finance-only
          group: {has: finance}
`

// TestBrowserDenyPage signs in through the real sign-in page and opens a
// route the user's groups do not allow: the deny page must say so in
// words a person can act on.
func TestBrowserDenyPage(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, denyConfig)
	s.addUser("ann@example.com", "correct horse battery", "staff")
	b := s.newTab(exe)

	b.open(s.url("payroll.localhost", "/salaries"))
	b.signIn("ann@example.com", "correct horse battery")
	b.waitAt(s.url("payroll.localhost", "/salaries"))

	title, err := chromedp.Run(b.ctx, chromedp.Title())
	if err != nil {
		b.fatalf("title: %v", err)
	}
	if !strings.HasPrefix(title, "Access denied") {
		b.fatalf("document title = %q, want Access denied", title)
	}
	b.wantText("h1", "Access denied")
	reason := b.wantText("ul", "This app needs membership of the group finance.", "What to do: Ask your administrator")
	if b.text("ul li strong") == "" || !strings.Contains(b.text("ul li .fix"), "What to do:") {
		b.fatalf("the reason and its remedy are not both visible: %q", reason)
	}
	if got := b.text("body"); strings.Contains(got, "hello from upstream") {
		b.fatalf("the upstream answered a denied request:\n%s", got)
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("the upstream answered %d denied requests", n)
	}
	b.docScreenshot("deny.png")
}
