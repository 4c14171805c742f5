package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// mfaConfig protects an admin app for staff with a security-key check no
// older than ten minutes.
const mfaConfig = `
routes:
  - {from: "https://admin.localhost:{{port}}", to: "{{upstream}}", policy: staff-mfa}
policies:
  - id: staff-mfa
    allow:
      and:
        - group: {has: staff}
        - mfa: {max_age: 10m}
`

// TestBrowserSecurityKeyStepUp drives the pages' own WebAuthn script with
// Chromium's virtual authenticator: a route that needs a recent MFA sends
// the signed-in user to the step-up page, which has them register a key
// (navigator.credentials.create), then check with it
// (navigator.credentials.get) and land on the app. Signing out ends the
// route's session too; signing in again takes the password and the key,
// or the key alone as a passkey; a fresh session may remove the key.
func TestBrowserSecurityKeyStepUp(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, mfaConfig)
	const email, password = "ann@example.com", "correct horse battery"
	s.addUser(email, password, "staff")
	b := s.newTab(exe)
	auth := b.virtualAuthenticator()
	app := s.url("admin.localhost", "/users?page=2")

	// Signed in with a password only: the app asks for a step-up, and the
	// user has no key yet.
	b.open(app)
	b.signIn(email, password)
	b.waitAt(s.console() + "/auth/step_up?")
	b.wantText("body", "needs a check with a security key, and you have none yet")
	if n := s.hits.Load(); n != 0 {
		t.Fatalf("the upstream answered %d requests before the step-up", n)
	}

	// Register a key on the security-keys page the step-up page links to.
	b.do("follow the registration link", chromedp.Click(chromedp.CSS(`a.button[href^="/auth/security_keys"]`)))
	b.waitAt(s.console() + "/auth/security_keys?")
	b.wantText("h1", "Security keys")
	b.wantText("body", "Signed in as "+email, "You have no security keys yet.")
	b.do("register a key",
		chromedp.SendKeys(chromedp.ID("key-name"), "Virtual key"),
		chromedp.Click(chromedp.CSS(`button[data-webauthn="register"]`)),
	)
	b.waitUntil("the new key in the list", `document.querySelector("table") !== null`)
	b.wantText("table", "Virtual key", "added ")
	if creds := b.credentials(auth); len(creds) != 1 {
		b.fatalf("the virtual authenticator holds %d credentials, want 1", len(creds))
	}
	if n := len(s.srv.Store().CredentialsOf("usr_ann")); n != 1 {
		b.fatalf("Portier stored %d credentials for ann, want 1", n)
	}

	// Back to the step-up, now with a key: the page's script asks the
	// authenticator and the browser lands on the app.
	b.do("continue to the step-up", chromedp.Click(chromedp.CSS(`a.button.secondary[href*="step_up"]`)))
	b.waitAt(s.console() + "/auth/step_up?")
	b.wantText("body", "needs a recent check with your security key")
	b.do("use the key", chromedp.Click(chromedp.CSS(`button[data-webauthn="step_up"]`)))
	b.waitAt(app)
	b.waitUntil("the upstream page", `document.title === "Upstream app"`)
	b.wantText("h1", "hello from upstream")
	b.wantText("#who", email)
	b.wantText("#path", "/users")
	if c := s.srv.Store().CredentialsOf("usr_ann"); len(c) != 1 || c[0].LastUsed.IsZero() {
		b.fatalf("the key's last use was not recorded: %+v", c)
	}

	// Sign out on the console's page: the app asks to sign in again.
	b.signOut()
	hits := s.hits.Load()
	b.open(app)
	b.waitAt(s.console() + "/auth/sign_in?")
	b.wantText("h1", "Sign in")
	if n := s.hits.Load(); n != hits {
		b.fatalf("the upstream answered a request after sign-out")
	}

	// Signing in again takes the password and then the key, and that
	// sign-in counts as a fresh MFA: no step-up this time.
	b.signIn(email, password)
	b.waitUntil("the second-factor page", `document.querySelector('button[data-webauthn="login"][data-pending]') !== null`)
	b.wantText("h1", "Confirm it is you")
	b.do("use the key to sign in", chromedp.Click(chromedp.CSS(`button[data-webauthn="login"]`)))
	b.waitAt(app)
	b.waitUntil("the upstream page", `document.title === "Upstream app"`)
	b.wantText("#who", email)
	if strings.Contains(b.location(), "step_up") {
		b.fatalf("a sign-in with the key still asked for a step-up")
	}
	b.screenshot("admin-app.png")

	// Passwordless: sign out, then "Sign in with a passkey" (a discoverable
	// credential with user verification) goes straight to the app.
	b.signOut()
	b.open(app)
	b.waitAt(s.console() + "/auth/sign_in?")
	b.do("sign in with the passkey", chromedp.Click(chromedp.CSS(`button[data-webauthn="login"]`)))
	b.waitAt(app)
	b.waitUntil("the upstream page", `document.title === "Upstream app"`)
	b.wantText("#who", email)

	// A fresh sign-in may remove the key.
	b.open(s.console() + "/auth/security_keys")
	b.wantText("table", "Virtual key")
	b.do("remove the key", chromedp.Click(chromedp.CSS(`form[action="/auth/security_keys"] button[type=submit]`)))
	b.waitUntil("the key to be gone", `document.querySelector("table") === null || document.body.innerText.includes("came from another site")`)
	b.refusedAsCrossSite("the remove-key form")
	b.wantText("body", "You have no security keys yet.")
	if n := len(s.srv.Store().CredentialsOf("usr_ann")); n != 0 {
		b.fatalf("Portier still stores %d credentials for ann", n)
	}
}

// signOut uses the Sign out button of the console's security-keys page.
func (b *tab) signOut() {
	b.t.Helper()
	b.open(b.s.console() + "/auth/security_keys")
	b.do("sign out", chromedp.Click(chromedp.CSS(`form[action="/auth/sign_out"] button[type=submit]`)))
	b.waitUntil("the sign-out to finish", `location.pathname !== "/auth/security_keys"`)
	b.refusedAsCrossSite("the sign-out form")
	b.waitAt(b.s.console() + "/auth/signed_out")
	b.wantText("h1", "You are signed out")
}

// virtualAuthenticator attaches a CTAP2 USB security key with resident keys
// and user verification to the tab; it answers every ceremony at once.
func (b *tab) virtualAuthenticator() webauthn.AuthenticatorID {
	return b.addAuthenticator(webauthn.AuthenticatorTransportUsb)
}

// addAuthenticator attaches a CTAP2 authenticator on transport with
// resident keys and user verification, answering every ceremony at once.
func (b *tab) addAuthenticator(transport webauthn.AuthenticatorTransport) webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: new(false)}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   transport,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true, // the protocol's default, but a zero bool would send false
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentials lists what the virtual authenticator holds.
func (b *tab) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}
