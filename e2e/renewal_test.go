package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// TestRenewedDeviceKeepsOldCertificateUntilRevoked is the browser that
// still holds the certificate from before a renewal (the agent replaced
// it in the NSS database, but an open browser may keep presenting the one
// it chose): the proxy accepts the previous certificate until it expires,
// as the new one; revoking the device closes both.
func TestRenewedDeviceKeepsOldCertificateUntilRevoked(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tok := w.apiToken("owner")
	var code struct{ Code string }
	if st := w.api(w.browser(nil), tok, "POST", "/api/v1/enrollment/codes", `{"ownership":"corporate","user":"ann@example.com","ttl":"15m"}`, &code); st != 201 {
		t.Fatalf("create code = %d", st)
	}
	dir := t.TempDir()
	enrolled, err := agent.Enroll(ctx, agent.EnrollOptions{Server: w.url("localhost", ""), Code: code.Code, StateDir: dir,
		Fingerprint: w.srv.CA().Fingerprint(), Version: "1.0.0", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	pair := func() tls.Certificate {
		p, err := tls.LoadX509KeyPair(filepath.Join(dir, agent.CertFile), filepath.Join(dir, agent.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := pair()
	// The device earned high trust (as its posture would give it).
	d, _ := w.srv.Store().Device(enrolled.DeviceID)
	cp := *d
	cp.Trust, cp.Compliant, cp.State = store.TrustHigh, true, store.DeviceActive
	if err := w.srv.Store().Write(ctx, store.Put(&cp)); err != nil {
		t.Fatal(err)
	}
	ag, err := agent.Open(agent.Options{StateDir: dir, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	if err := ag.Renew(ctx); err != nil {
		t.Fatalf("renew: %v", err)
	}
	after := pair()
	if before.Leaf.SerialNumber.Cmp(after.Leaf.SerialNumber) == 0 {
		t.Fatal("the renewal gave the same serial")
	}
	reach := func(name string, c tls.Certificate) (int, string) {
		t.Helper()
		w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
		resp, body := get(t, w.browser(&c), "GET", w.url("app.localhost", "/page"))
		return resp.StatusCode, body
	}
	for name, c := range map[string]tls.Certificate{"certificate before the renewal": before, "renewed certificate": after} {
		if st, body := reach(name, c); st != 200 || body != "hello from upstream" {
			t.Errorf("%s: %d\n%s", name, st, body)
		}
	}
	if st := w.api(w.browser(nil), tok, "POST", "/api/v1/devices/"+enrolled.DeviceID+"/actions", `{"type":"revoke"}`, nil); st/100 != 2 {
		t.Fatalf("revoke = %d", st)
	}
	for name, c := range map[string]tls.Certificate{"certificate before the renewal": before, "renewed certificate": after} {
		if st, body := reach(name, c); st != 403 || !strings.Contains(body, "revoked") {
			t.Errorf("%s after the device was revoked: %d\n%s", name, st, body)
		}
	}
}
