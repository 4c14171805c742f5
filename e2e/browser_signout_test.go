package e2e

import (
	"strings"
	"testing"
)

// signOutConfig is one application for the staff group.
const signOutConfig = `
routes:
  - {from: "https://app.localhost:{{port}}", to: "{{upstream}}", policy: staff}
policies:
  - id: staff
    allow:
      or:
        - group: {has: staff}
`

// postForm adds a form posting to action to the current page and sends it,
// as a page's sign-out button (or an attacker's auto-submitting form) does.
func (b *tab) postForm(action string) {
	b.t.Helper()
	b.evalString(`(() => { const f = document.createElement("form"); f.method = "post"; f.action = ` + jsString(action) +
		`; document.body.appendChild(f); f.submit(); return "sent"; })()`)
}

// TestBrowserRouteSignOut: in real Chromium, a form on another site posting
// to an application's /.portier/sign_out signs no one out; the sign-out
// form on the application's own page does.
func TestBrowserRouteSignOut(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, signOutConfig)
	s.addUser("ann@example.com", "correct horse battery", "staff")
	b := s.newTab(exe)
	app := s.url("app.localhost", "/home")
	b.open(app)
	b.signIn("ann@example.com", "correct horse battery")
	b.waitAt(app)
	b.wantText("#who", "ann@example.com")

	// The attacker's page, on another site (the upstream reached directly,
	// http://127.0.0.1:…), sends the victim's browser to sign out.
	b.open(s.upstream.URL + "/attacker")
	b.postForm(s.url("app.localhost", "/.portier/sign_out"))
	b.waitUntil("the cross-site sign-out to be answered", `location.host.startsWith("app.localhost")`)
	b.wantText("h1", "Sign-out refused")
	b.open(app)
	b.waitAt(app)
	if got := b.text("#who"); got != "ann@example.com" {
		b.fatalf("after the cross-site form the application shows %q, want ann still signed in", got)
	}

	// The application's own sign-out form works.
	b.postForm(s.url("app.localhost", "/.portier/sign_out"))
	b.waitAt(s.console() + "/auth/signed_out")
	b.wantText("h1", "You are signed out")
	b.open(app)
	b.waitAt(s.console() + "/auth/sign_in")
	if strings.Contains(b.bodyText(), "hello from upstream") {
		b.fatalf("the application answered after sign-out")
	}
}
