package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserFirstRun is a person's first five minutes: open the set-up
// link Portier printed, create the owner account, then open the demo app,
// sign in with that account on the sign-in page, and see the demo app show
// who Portier says they are, with a verified signed assertion.
func TestBrowserFirstRun(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, "") // no routes: the demo app is on
	if !strings.HasPrefix(s.srv.SetupLink, s.console()+"/setup?token=") {
		t.Fatalf("set-up link = %q, want %s/setup?token=…", s.srv.SetupLink, s.console())
	}
	b := s.newTab(exe)
	const email, password = "owner@example.com", "a long owner passphrase"

	// The set-up page.
	b.open(s.srv.SetupLink)
	b.wantText("h1", "Portier set-up")
	b.wantText("body", "Create the first owner account")
	b.do("fill in the set-up form",
		chromedp.SendKeys(chromedp.CSS(`form[action="/setup"] input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/setup"] input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form[action="/setup"] button[type=submit]`)),
	)
	b.waitUntil("the owner token", `document.getElementById("token") !== null`)
	b.wantText("body", "The owner account "+email+" is ready.")
	token := strings.TrimSpace(b.text("#token"))
	if len(token) < 32 {
		b.fatalf("owner API token = %q, want a long secret", token)
	}
	s.wantWhoami(token, "owner")

	// The link is single-use.
	b.open(s.srv.SetupLink)
	b.wantText("body", "This set-up link was already used.")

	// The demo app sends the browser to sign in, and back.
	demo := s.url("demo.localhost", "/")
	b.open(demo)
	b.waitAt(s.console() + "/auth/sign_in?")
	// rd is the page asked for, plus the reference of this browser's
	// sign-in attempt (the hand-off is bound to it).
	if rd := b.evalString(`new URL(location.href).searchParams.get("rd")`); !strings.HasPrefix(rd, demo+"?portier_attempt=") {
		b.fatalf("sign-in page rd = %q, want %q with the attempt reference", rd, demo)
	}
	b.signIn(email, password)
	b.waitAt(demo)
	b.waitUntil("the demo app", `document.title === "Portier demo app"`)
	b.wantText("h1", "Hello, "+email)
	b.wantText("table", email, "verified with Portier's JWKS")
	if got := b.text("body"); strings.Contains(got, "Signing you in") {
		b.fatalf("still on the hand-off page")
	}
	path := b.screenshot("demo.png")
	t.Logf("screenshot of the demo app: %s", path)
}

// wantWhoami checks an API token works and has the role.
func (s *site) wantWhoami(token, role string) {
	s.t.Helper()
	c := (&world{t: s.t, srv: s.srv, port: s.port}).browser(nil)
	req, _ := http.NewRequest("GET", s.url("localhost", "/api/v1/whoami"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("whoami: %v", err)
	}
	defer resp.Body.Close()
	var who map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&who)
	if resp.StatusCode != 200 || who["role"] != role {
		s.t.Errorf("whoami with the set-up token = %d %v, want role %s", resp.StatusCode, who, role)
	}
}
