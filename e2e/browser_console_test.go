package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portier/portier/store"
)

// consoleConfig: the wiki opens to staff from any device, payroll only
// from a managed device of trust medium or more.
const consoleConfig = `
routes:
  - {from: "https://wiki.localhost:{{port}}", to: "{{upstream}}", policy: staff}
  - {from: "https://payroll.localhost:{{port}}", to: "{{upstream}}", policy: managed}
policies:
  - id: staff
    allow:
      and:
        - group: {has: staff}
  - id: managed
    allow:
      and:
        - group: {has: staff}
        - device: {trust: {gte: medium}}
`

// setRole gives an account a console role, as an owner would.
func (s *site) setRole(email, role string) {
	s.t.Helper()
	for _, u := range s.srv.Store().Users() {
		if u.Email == email {
			cp := *u
			cp.Role = role
			if err := s.srv.Store().Write(context.Background(), store.Put(&cp)); err != nil {
				s.t.Fatal(err)
			}
			return
		}
	}
	s.t.Fatalf("no user %s", email)
}

// keyCheck gives the signed-in person a security key (a virtual
// authenticator, registered on the security-keys page) and confirms with it
// on the step-up page, which then opens path: what a console role needs.
func (b *tab) keyCheck(s *site, path string) {
	b.t.Helper()
	b.virtualAuthenticator()
	b.open(s.console() + "/auth/security_keys")
	b.do("register a key",
		chromedp.SendKeys(chromedp.ID("key-name"), "Virtual key"),
		chromedp.Click(chromedp.CSS(`button[data-webauthn="register"]`)),
	)
	b.waitUntil("the new key in the list", `document.querySelector("table") !== null`)
	b.open(s.console() + "/auth/step_up?rd=" + url.QueryEscape(path))
	b.do("use the key", chromedp.Click(chromedp.CSS(`button[data-webauthn="step_up"]`)))
	b.waitAt(s.console() + path)
}

// TestBrowserConsoleHome: in real Chromium, signing in lands on the
// console home, which lists the wiki as allowed and payroll as needing an
// enrolled device (this browser is no device), styled by the console's
// own stylesheet under the strict CSP; the wiki link opens the wiki. A
// help-desk member gets the HTML 403 page for the audit log, and in
// French when the browser speaks French; an auditor opens it once the
// session has used a security key.
func TestBrowserConsoleHome(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
	s.addUser("ann@example.com", "correct horse battery", "staff")
	s.addUser("hal@example.com", "correct horse battery", "staff")
	s.setRole("hal@example.com", "helpdesk")
	s.addUser("abe@example.com", "correct horse battery", "staff")
	s.setRole("abe@example.com", "auditor")

	b := s.newTab(exe)
	b.open(s.console() + "/")
	b.signIn("ann@example.com", "correct horse battery")
	b.waitAt(s.console() + "/")
	b.wantText("h1", "Your applications")
	wiki := s.url("wiki.localhost", "/")
	payroll := s.url("payroll.localhost", "/")
	if got := b.evalString(`document.querySelector('li[data-app="` + wiki + `"]').dataset.state`); got != "allowed" {
		b.fatalf("wiki state = %q, want allowed", got)
	}
	if got := b.evalString(`document.querySelector('li[data-app="` + payroll + `"]').dataset.state`); got != "enroll" {
		b.fatalf("payroll state = %q, want enroll", got)
	}
	b.wantText(`li[data-app="`+payroll+`"]`, "needs an enrolled device", "Enroll this device")
	b.wantText("#this-device", "not on an enrolled device")
	// The stylesheet loaded (CSP allows 'self' only): the header is dark.
	if bg := b.evalString(`getComputedStyle(document.querySelector("header")).backgroundColor`); bg != "rgb(29, 44, 77)" {
		b.fatalf("header background = %q: the console stylesheet did not apply", bg)
	}
	nav := b.text("header nav")
	if !strings.Contains(nav, "Security keys") || strings.Contains(nav, "Audit log") {
		b.fatalf("an employee's menu: %q", nav)
	}
	b.do("open the wiki", chromedp.Click(chromedp.CSS(`li[data-app="`+wiki+`"] a`)))
	b.waitAt(wiki)
	b.wantText("#who", "ann@example.com")
	b.screenshot("console-home.png")

	// Sign out from the menu; the auditor opens the audit log.
	b.open(s.console() + "/")
	b.do("sign out", chromedp.Click(chromedp.CSS(`header form[action="/auth/sign_out"] button[type=submit]`)))
	b.waitAt(s.console() + "/auth/signed_out")
	b.open(s.console() + "/audit")
	b.signIn("abe@example.com", "correct horse battery")
	b.waitAt(s.console() + "/audit")
	// The auditor role works only in a session that used a security key:
	// register one, confirm with it, and the audit log opens.
	b.wantText("main", "security key")
	b.keyCheck(s, "/audit")
	b.wantText("h1", "Audit log")
	b.wantText("header nav", "Audit log")

	// A French browser, signed in as help desk: the home in French, and
	// the audit log is the 403 page.
	fr := s.newTab(exe, chromedp.Flag("accept-lang", "fr-FR,fr"))
	fr.open(s.console() + "/audit")
	fr.waitAt(s.console() + "/auth/sign_in")
	fr.wantText("h1", "Connexion")
	fr.do("sign in as the help desk",
		chromedp.SendKeys(chromedp.CSS(`form[action="/auth/password"] input[name=email]`), "hal@example.com"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/auth/password"] input[name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/password"] button[type=submit]`)),
	)
	fr.waitAt(s.console() + "/audit")
	fr.wantText("h1", "Accès non autorisé")
	fr.wantText("main", "Votre rôle ne permet pas")
	if lang := fr.evalString(`document.documentElement.lang`); lang != "fr" {
		fr.fatalf("403 page lang = %q", lang)
	}
	fr.open(s.console() + "/")
	fr.wantText("h1", "Vos applications")
	fr.wantText(`li[data-app="`+payroll+`"]`, "exige un appareil enrôlé")
	if nav := fr.text("header nav"); strings.Contains(nav, "Journal d'audit") || !strings.Contains(nav, "Clés de sécurité") {
		fr.fatalf("the help desk's menu: %q", nav)
	}
}
