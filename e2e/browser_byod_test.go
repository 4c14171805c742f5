package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/portier/portier/store"
)

// byodConfig opens an app to personal devices only.
const byodConfig = `
routes:
  - {from: "https://mail.localhost:{{port}}", to: "{{upstream}}", policy: personal}
policies:
  - id: personal
    allow:
      and:
        - domain: example.com
        - device: {ownership: byod}
`

// TestBrowserBYODPasskey is issue 8's done-when: a person without the
// agent signs in, is denied an app for personal devices, registers this
// browser on /enroll (a device-bound passkey from a platform
// authenticator), and the same app then lets them in; a new sign-in
// confirms the device with the passkey on /auth/device.
func TestBrowserBYODPasskey(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, byodConfig)
	const email, password = "bea@example.com", "correct horse battery"
	s.addUser(email, password, "staff")
	b := s.newTab(exe)
	auth := b.platformAuthenticator()
	app := s.url("mail.localhost", "/inbox")

	// Before registering: the browser is no device, so the app refuses.
	b.open(app)
	b.signIn(email, password)
	b.waitAt(app)
	b.wantText("h1", "Access denied")
	if n := s.hits.Load(); n != 0 {
		b.fatalf("the upstream answered %d requests from an unmanaged browser", n)
	}

	// /enroll on a computer: the agent command with the root fingerprint,
	// and "Register this browser".
	b.open(s.console() + "/enroll")
	b.wantText("body", "Signed in as "+email, "Register this browser as my personal device")
	b.do("ask for an agent code", chromedp.Click(chromedp.CSS(`form[action="/enroll"] button[type=submit]`)))
	b.waitUntil("the code page", `document.querySelector("pre") !== null`)
	if cmd := b.text("pre"); !strings.Contains(cmd, "--ca-fingerprint "+s.srv.CA().Fingerprint()) {
		b.fatalf("the agent command lacks the root fingerprint: %q", cmd)
	}
	b.open(s.console() + "/enroll")
	b.do("register this browser", chromedp.Click(chromedp.CSS(`button[data-webauthn="enroll_device"]`)))
	b.waitAt(s.console() + "/my/devices")
	if creds := b.credentials(auth); len(creds) != 1 {
		b.fatalf("the platform authenticator holds %+v", creds)
	}
	var dev *store.Device
	for _, d := range s.srv.Store().Devices() {
		if d.OwnerEmail == email {
			dev = d
		}
	}
	if dev == nil || dev.Ownership != store.OwnershipBYOD || !dev.WorkProfile || dev.State != store.DeviceActive || dev.Platform != "linux" {
		b.fatalf("the registered device = %+v", dev)
	}
	b.wantText("body", dev.Name)

	// The same app now lets the browser in as that personal device.
	b.open(app)
	b.waitUntil("the upstream page", `document.title === "Upstream app"`)
	b.wantText("#who", email)

	// Signed out and in again, the session carries no device until the
	// browser confirms it with its passkey on /auth/device.
	b.signOut()
	b.open(app)
	b.signIn(email, password)
	b.waitAt(app)
	b.wantText("h1", "Access denied")
	b.open(s.console() + "/auth/device?rd=" + app)
	b.do("confirm this device", chromedp.Click(chromedp.CSS(`button[data-webauthn="device"]`)))
	b.waitAt(app)
	b.waitUntil("the upstream page", `document.title === "Upstream app"`)
	b.wantText("#who", email)
}

// platformAuthenticator attaches a built-in (platform) authenticator with
// user verification that does not sync its passkeys, like a phone's.
func (b *tab) platformAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: new(false)}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}
