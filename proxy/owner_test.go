package proxy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// owned makes the device id belong to email (not shared).
func (e *env) owned(id, email string, shared bool) {
	e.t.Helper()
	d, ok := e.st.Device(id)
	if !ok {
		e.t.Fatalf("no device %s", id)
	}
	cp := *d
	cp.OwnerEmail, cp.Shared = email, shared
	if err := e.st.Write(context.Background(), store.Put(&cp)); err != nil {
		e.t.Fatal(err)
	}
}

// TestDeviceCertificateIsBoundToItsOwner is the attack of a person who
// gets hold of a colleague's device certificate (or sits at the
// colleague's unlocked laptop and signs in as themself): over mutual TLS,
// the certificate with another person's session is no managed device for
// that person, and the deny page says why. The owner, and anyone once an
// administrator marks the device as shared, gets through.
func TestDeviceCertificateIsBoundToItsOwner(t *testing.T) {
	e := newEnv(t)
	annCookie, _ := e.session("ann@example.com", "staff")
	malloryCookie, _ := e.session("mallory@example.com", "staff")
	cert := e.device("dev_ann", store.TrustHigh, store.OwnershipCorporate)
	e.owned("dev_ann", "Ann@Example.com", false)

	tests := []struct {
		name, cookie string
		shared       bool
		owner        string
		want         int
		note         string
	}{
		{"owner", annCookie, false, "Ann@Example.com", 200, ""},
		{"another person", malloryCookie, false, "Ann@Example.com", 403, "enrolled to another person"},
		{"no owner", annCookie, false, "", 403, "no assigned owner"},
		{"shared, another person", malloryCookie, true, "Ann@Example.com", 200, ""},
		{"shared, no owner", malloryCookie, true, "", 200, ""},
		{"unshared again", malloryCookie, false, "Ann@Example.com", 403, "enrolled to another person"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.owned("dev_ann", tc.owner, tc.shared)
			resp, body := e.do(e.client(&cert), "GET", "https://wiki.localhost/page", tc.cookie, map[string]string{"Accept": "text/html"})
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.want, body)
			}
			if tc.want == 200 {
				if got := e.got.last().Header.Get("X-Portier-Device"); got != "dev_ann" {
					t.Errorf("upstream X-Portier-Device = %q, want dev_ann", got)
				}
				return
			}
			if !strings.Contains(body, tc.note) || !strings.Contains(body, "unmanaged") {
				t.Errorf("deny page does not say why the device does not count:\n%s", body)
			}
		})
	}
}

// TestWorkProfileCredentialIsBoundToItsOwner: a session bound to another
// person's work-profile device is not that device's.
func TestWorkProfileCredentialIsBoundToItsOwner(t *testing.T) {
	e := newEnv(t)
	cookie, s := e.session("mallory@example.com", "staff")
	d := &store.Device{ID: "dev_fay", Ownership: store.OwnershipBYOD, State: store.DeviceActive, Trust: store.TrustMedium,
		WorkProfile: true, OwnerEmail: "fay@example.com"}
	bound := *s
	bound.DeviceID = d.ID
	if err := e.st.Write(context.Background(), store.Put(d), store.Put(&bound)); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do(e.client(nil), "GET", "https://wiki.localhost/page", cookie, map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 403 || !strings.Contains(body, "enrolled to another person") {
		t.Fatalf("another person's work-profile device = %d\n%s", resp.StatusCode, body)
	}
}
