package console

import (
	"net/http"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

const (
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"
	uaLinux   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)

func (b *browser) getAs(u, ua string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("User-Agent", ua)
	return b.do(req)
}

// TestEnrollPageByPlatform: on a phone /enroll offers only "Register this
// browser" (the agent does not run there); on a computer it offers the
// agent code form too, and the browser path.
func TestEnrollPageByPlatform(t *testing.T) {
	e := newEnv(t)
	e.withEnrollment(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "/enroll")

	phone := b.getAs(extURL+"/enroll", uaAndroid)
	if phone.StatusCode != http.StatusOK || !strings.Contains(phone.body, `data-webauthn="enroll_device"`) ||
		!strings.Contains(phone.body, "Android") || strings.Contains(phone.body, `<form method="post" action="/enroll">`) ||
		!strings.Contains(phone.body, "not on phones or tablets") {
		t.Fatalf("phone page: %d\n%s", phone.StatusCode, phone.body)
	}
	if csp := phone.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(phone.body, `<script src="/static/`) {
		t.Errorf("CSP %q or the page does not load the console script from the console's static files", csp)
	}
	pc := b.getAs(extURL+"/enroll", uaLinux)
	if !strings.Contains(pc.body, `data-webauthn="enroll_device"`) || !strings.Contains(pc.body, `<form method="post" action="/enroll">`) {
		t.Fatalf("computer page:\n%s", pc.body)
	}
}

// TestRegisterBrowserDeviceOverHTTP drives the JSON endpoints with a
// software authenticator: no CSRF token is refused; a registration creates
// the BYOD device bound to the passkey and the session; a synced
// (backup-eligible) passkey creates nothing; a stale session cannot start.
func TestRegisterBrowserDeviceOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.withEnrollment(t)
	u := e.addUser(t, "ada@example.com", pw, false)
	rp := virtualwebauthn.RelyingParty{Name: "Portier", ID: "portier.localhost", Origin: extURL}
	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "/enroll")
	csrf := b.get(extURL + "/enroll").csrf(t)

	if p := b.postJSON(extURL+"/enroll/browser/begin", "", map[string]string{}, nil); p.StatusCode != http.StatusForbidden {
		t.Errorf("begin without CSRF token: %d", p.StatusCode)
	}
	register := func(backup bool) page {
		t.Helper()
		var cer identity.Ceremony
		if p := b.postJSON(extURL+"/enroll/browser/begin", csrf, map[string]string{}, &cer); p.StatusCode != http.StatusOK {
			t.Fatalf("begin: %d %s", p.StatusCode, p.body)
		}
		opts, err := virtualwebauthn.ParseAttestationOptions(string(cer.Options))
		if err != nil {
			t.Fatal(err)
		}
		auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID), BackupEligible: backup})
		att := virtualwebauthn.CreateAttestationResponse(rp, auth, identitytest.NewEC2Credential(), *opts)
		return b.postJSON(extURL+"/enroll/browser/finish", csrf, map[string]any{"ceremony": cer.Token, "credential": rawJSON(att)}, nil)
	}

	if p := register(true); p.StatusCode != http.StatusBadRequest || len(e.st.Devices()) != 0 || len(e.st.CredentialsOf(u.ID)) != 0 {
		t.Fatalf("synced passkey: %d %s; %d devices", p.StatusCode, p.body, len(e.st.Devices()))
	}
	p := register(false)
	if p.StatusCode != http.StatusCreated || !strings.Contains(p.body, `"redirect":"/my/devices"`) {
		t.Fatalf("finish: %d %s", p.StatusCode, p.body)
	}
	devs := e.st.Devices()
	if len(devs) != 1 || devs[0].OwnerEmail != "ada@example.com" || devs[0].Ownership != store.OwnershipBYOD || !devs[0].WorkProfile {
		t.Fatalf("devices = %+v", devs)
	}
	creds := e.st.CredentialsOf(u.ID)
	if len(creds) != 1 || creds[0].Purpose != identity.PurposeDevice || creds[0].DeviceID != devs[0].ID {
		t.Fatalf("credentials = %+v", creds)
	}
	var sess *store.Session
	for _, s := range e.st.SessionsOf(u.ID) {
		if s.UserID == u.ID {
			sess = s
		}
	}
	if sess == nil || sess.DeviceID != devs[0].ID {
		t.Fatalf("session not bound to the device: %+v", sess)
	}
	if my := b.get(extURL + "/my/devices"); !strings.Contains(my.body, "registered in the browser with a passkey") || !strings.Contains(my.body, "Browser") {
		t.Errorf("/my/devices does not show the browser device's notice:\n%s", my.body)
	}
	var audited bool
	for _, ev := range e.st.Audit() {
		audited = audited || (ev.Action == "device.enroll" && ev.Target == devs[0].ID && ev.Actor == "user:ada@example.com")
	}
	if !audited {
		t.Error("the device enrollment was not audited")
	}

	e.clock.Advance(identity.FreshAuth + 1)
	if p := b.postJSON(extURL+"/enroll/browser/begin", csrf, map[string]string{}, nil); p.StatusCode != http.StatusForbidden {
		t.Errorf("begin on a stale session: %d %s", p.StatusCode, p.body)
	}
}
