package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// TestRemoveMyBrowserDevice: a person removes the personal device they
// registered in a browser from /my/devices. The device is retired, its
// passkey deleted and the removal audited under their name; a device with
// the agent, a colleague's device, a request without the page's CSRF token
// and a cross-site post are refused.
func TestRemoveMyBrowserDevice(t *testing.T) {
	e := newEnv(t)
	e.withEnrollment(t)
	ada := e.addUser(t, "ada@example.com", pw, false)
	bob := e.addUser(t, "bob@example.com", pw, false)
	now := e.clock.Now()
	browserDevice := func(id, owner string) *store.Device {
		return &store.Device{ID: id, Name: "Browser on Android", Platform: "android", Ownership: store.OwnershipBYOD, WorkProfile: true,
			OwnerEmail: owner, State: store.DeviceActive, Trust: store.TrustLow, EnrolledAt: now}
	}
	if err := e.st.Write(context.Background(),
		store.Put(browserDevice("dev_phone", "ada@example.com")),
		store.Put(&store.Credential{ID: "cred_phone", UserID: ada.ID, Purpose: "device", DeviceID: "dev_phone", CreatedAt: now}),
		store.Put(&store.Device{ID: "dev_laptop", Name: "ADA-LAPTOP", Platform: "linux", Ownership: store.OwnershipCorporate,
			OwnerEmail: "ada@example.com", State: store.DeviceActive, CertSerial: "123", AgentVersion: "1.0", EnrolledAt: now}),
		store.Put(browserDevice("dev_bobphone", "bob@example.com")),
		store.Put(&store.Credential{ID: "cred_bob", UserID: bob.ID, Purpose: "device", DeviceID: "dev_bobphone", CreatedAt: now}),
	); err != nil {
		t.Fatal(err)
	}

	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "/my/devices")
	// A security key added after signing in (with one, a password alone
	// would not sign in): it must outlive the device's removal.
	if err := e.st.Write(context.Background(), store.Put(&store.Credential{ID: "cred_key", UserID: ada.ID, Purpose: "mfa", CreatedAt: now})); err != nil {
		t.Fatal(err)
	}
	p := b.get(extURL + "/my/devices")
	if !strings.Contains(p.body, `action="/my/devices/dev_phone/remove"`) || strings.Contains(p.body, `action="/my/devices/dev_laptop/remove"`) {
		t.Fatalf("the page should offer to remove the browser device only:\n%s", p.body)
	}
	tok := p.csrf(t)

	for name, tc := range map[string]struct {
		id   string
		form url.Values
		hdr  []string
		want int
	}{
		"no CSRF token":       {"dev_phone", url.Values{}, nil, http.StatusForbidden},
		"wrong CSRF token":    {"dev_phone", url.Values{"csrf": {"x" + tok}}, nil, http.StatusForbidden},
		"cross-site":          {"dev_phone", url.Values{"csrf": {tok}}, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, http.StatusForbidden},
		"a device with agent": {"dev_laptop", url.Values{"csrf": {tok}}, nil, http.StatusNotFound},
		"a colleague's":       {"dev_bobphone", url.Values{"csrf": {tok}}, nil, http.StatusNotFound},
	} {
		if got := b.postForm(extURL+"/my/devices/"+tc.id+"/remove", tc.form, tc.hdr...); got.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d: %s", name, got.StatusCode, tc.want, got.body)
		}
	}
	for _, id := range []string{"dev_phone", "dev_laptop", "dev_bobphone"} {
		if d := mustDevice(t, e.st, id); d.State != store.DeviceActive {
			t.Fatalf("a refused removal changed %s: %s", id, d.State)
		}
	}

	got := b.postForm(extURL+"/my/devices/dev_phone/remove", url.Values{"csrf": {tok}})
	if got.StatusCode != http.StatusSeeOther || got.Header.Get("Location") != "/my/devices" {
		t.Fatalf("remove = %d %q: %s", got.StatusCode, got.Header.Get("Location"), got.body)
	}
	if d := mustDevice(t, e.st, "dev_phone"); d.State != store.DeviceRetired {
		t.Errorf("the removed device is %s, want retired", d.State)
	}
	if _, ok := e.st.Credential("cred_phone"); ok {
		t.Error("the device's passkey was not deleted")
	}
	if _, ok := e.st.Credential("cred_key"); !ok {
		t.Error("the person's security key was deleted with the device")
	}
	var audited bool
	for _, ev := range e.st.Audit() {
		if ev.Action == "device.retire" && ev.Target == "dev_phone" && ev.Actor == "user:ada@example.com" {
			audited = true
		}
	}
	if !audited {
		t.Errorf("no audit event for the removal: %+v", e.st.Audit())
	}
	if p := b.get(extURL + "/my/devices"); strings.Contains(p.body, `action="/my/devices/dev_phone/remove"`) || !strings.Contains(p.body, "retired") {
		t.Errorf("after removal the page still offers it or does not show it retired:\n%s", p.body)
	}
}
