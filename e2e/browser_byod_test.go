package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/portier/portier/store"
)

// byodConfig opens an app to personal devices only, contained: a
// watermark, no downloads (its /export path is served by the upstream
// {{files}}), no copy and paste.
const byodConfig = `
routes:
  - {from: "https://mail.localhost:{{port}}", to: "{{upstream}}", policy: personal}
  - {from: "https://mail.localhost:{{port}}/export", to: "{{files}}", policy: personal}
policies:
  - id: personal
    allow:
      or:
        - id: personal-device
          and:
            - domain: example.com
            - device: {ownership: byod}
    restrictions: [watermark, block_downloads, block_clipboard]
`

// TestBrowserBYODPasskey is issue 8's done-when: a person without the
// agent signs in, is denied an app for personal devices, registers this
// browser on /enroll (a device-bound passkey from a platform
// authenticator), and the same app then lets them in; a new sign-in
// confirms the device with the passkey on /auth/device.
func TestBrowserBYODPasskey(t *testing.T) {
	exe := requireChromium(t)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/export/strict" {
			// A page that sets a strict CSP for itself in a <meta> tag.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; `+
				`script-src 'nonce-app1' 'strict-dynamic'; style-src 'none'"><title>Strict app</title></head><body><p>numbers</p></body></html>`)
			return
		}
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="inbox.csv"`)
		_, _ = io.WriteString(w, "from,subject\nceo@example.com,numbers\n")
	}))
	t.Cleanup(files.Close)
	s := startSite(t, strings.ReplaceAll(byodConfig, "{{files}}", files.URL))
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
	// Next to it, the agent for this computer, served by Portier, with its
	// SHA-256.
	if link := b.evalString(`document.querySelector("#agent-download a").href`); link != s.console()+"/download/agent/"+runtime.GOOS+"-"+runtime.GOARCH {
		b.fatalf("the agent download link = %q", link)
	}
	if sum := b.text("#agent-sha256"); len(sum) != 64 {
		b.fatalf("the agent's SHA-256 = %q", sum)
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

	// The same app now lets the browser in as that personal device,
	// contained.
	b.open(app)
	b.waitUntil("the upstream page", `document.title === "Upstream app"`)
	b.wantText("#who", email)
	b.wantContained(email)
	// A page whose own <meta> CSP allows no stylesheet and only scripts
	// with its nonce still shows the watermark and runs Portier's script.
	b.open(s.url("mail.localhost", "/export/strict"))
	b.waitUntil("the strict page, watermarked, with Portier's script running", `document.title === "Strict app" && (() => {
		const w = document.querySelector("portier-wm");
		if (!w || getComputedStyle(w).position !== "fixed") return false;
		const e = new Event("copy", {bubbles: true, cancelable: true}); document.body.dispatchEvent(e); return e.defaultPrevented;
	})()`)
	b.open(s.url("mail.localhost", "/export/inbox.csv"))
	b.wantText("h1", "Download blocked")
	b.wantText("body", "Restrictions on this device: block_downloads, watermark, block_clipboard (rule personal-device).")

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

	// 13 hours later (the proof time moved back: the default re-check is
	// 12h), the app sends the browser to confirm the device with its
	// passkey again, and back.
	s.ageDeviceProof(email, 13*time.Hour)
	hits := s.hits.Load()
	b.open(app + "?again=1")
	b.waitAt(s.console() + "/auth/device?")
	if n := s.hits.Load(); n != hits {
		b.fatalf("the upstream answered %d requests while the device proof was too old", n-hits)
	}
	b.do("confirm this device again", chromedp.Click(chromedp.CSS(`button[data-webauthn="device"]`)))
	b.waitAt(app + "?again=1")
	b.waitUntil("the upstream page", `document.title === "Upstream app"`)
	b.wantText("#who", email)
}

// ageDeviceProof moves the device-proof time of every session of email
// back by d, as if that much time had passed since the passkey check.
func (s *site) ageDeviceProof(email string, d time.Duration) {
	s.t.Helper()
	u, ok := s.srv.Store().UserByEmail(email)
	if !ok {
		s.t.Fatalf("no user %s", email)
	}
	var ops []store.Op
	for _, x := range s.srv.Store().SessionsOf(u.ID) {
		cp := *x
		if cp.DeviceID != "" {
			cp.DeviceCheckedAt = cp.DeviceCheckedAt.Add(-d)
			ops = append(ops, store.Update(&cp))
		}
	}
	if len(ops) == 0 {
		s.t.Fatalf("no session of %s is bound to a device", email)
	}
	if err := s.srv.Store().Write(context.Background(), ops...); err != nil {
		s.t.Fatal(err)
	}
}

// platformAuthenticator attaches a built-in (platform) authenticator with
// user verification that does not sync its passkeys, like a phone's.
func (b *tab) platformAuthenticator() webauthn.AuthenticatorID {
	return b.addAuthenticator(webauthn.AuthenticatorTransportInternal)
}

// wantContained checks what a person sees of the containment on the
// upstream page: the watermark with their e-mail and the time, laid over
// the page and visible but not in the way; the banner naming the
// restrictions and the rule; copy refused; and a watermark removed by a
// script put back. With PORTIER_UPDATE_SCREENSHOTS=1 it saves the page to
// docs/images/byod-watermark.png.
func (b *tab) wantContained(email string) {
	b.t.Helper()
	b.waitUntil("the watermark, visible over the page", `(() => {
		const w = document.querySelector("portier-wm");
		if (!w || !w.textContent.includes(`+jsString(email+" · ")+`)) return false;
		const s = getComputedStyle(w), r = w.getBoundingClientRect();
		const span = w.querySelector("span"), sr = span.getBoundingClientRect(), ss = getComputedStyle(span);
		return s.position === "fixed" && s.pointerEvents === "none" && s.visibility === "visible" && s.display !== "none" &&
			r.width >= innerWidth - 1 && r.height >= innerHeight - 1 && Number(s.zIndex) > 1000000 &&
			sr.width > 50 && sr.top < innerHeight && !ss.color.endsWith(", 0)");
	})()`)
	b.wantText("portier-banner", "Restricted access on this device: downloads blocked, pages watermarked with your e-mail, copy and paste blocked. Access rule: personal-device.")
	// The application's own link under the watermark still takes clicks.
	if got := b.evalString(`document.elementFromPoint(innerWidth / 2, 20).tagName + "/" + document.elementFromPoint(30, 30).closest("portier-wm")`); !strings.HasSuffix(got, "/null") {
		b.fatalf("the watermark takes pointer events: %s", got)
	}
	b.waitUntil("Portier's script to be running", `document.querySelector("script[src^='/.portier/mam/mam.js']") !== null &&
		(() => { const e = new Event("copy", {bubbles: true, cancelable: true}); document.body.dispatchEvent(e); return e.defaultPrevented; })()`)
	b.docScreenshot("byod-watermark.png")
	b.evalString(`document.querySelector("portier-wm").remove(), "removed"`)
	b.waitUntil("the removed watermark to come back", `document.querySelector("portier-wm") !== null`)
}
