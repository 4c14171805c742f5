package enrollment

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// browserReq is a browser certificate request for person with a fresh key.
func browserReq(t *testing.T, person string) agentwire.BrowserCertificateRequest {
	return agentwire.BrowserCertificateRequest{CSR: csrPEM(t, p256(t), nil), Person: person, KeyProtection: "software"}
}

// TestBrowserCertificate: a browser certificate says purpose browser, the
// person and the agent's claim; it is recorded, in the history and the
// audit log; it cannot call the agent API; a newer one for the same person
// supersedes the older, which stays valid.
func TestBrowserCertificate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{})
	d := res.Device
	bc, err := e.svc.IssueBrowserCertificate(ctx, d, browserReq(t, "ada"))
	if err != nil {
		t.Fatal(err)
	}
	k := ca.KeyInfoFromCert(bc.Chain[0])
	if k.Purpose != ca.PurposeBrowser || k.Person != "ada" || k.Protection != store.KeySoftware || k.Source != store.KeySourceAgent {
		t.Fatalf("key info = %+v", k)
	}
	serial := bc.Chain[0].SerialNumber.String()
	rec, ok := e.st.Certificate(serial)
	if !ok || rec.DeviceID != d.ID || rec.Purpose != ca.PurposeBrowser || rec.Person != "ada" {
		t.Fatalf("certificate record = %+v", rec)
	}
	if cur, _ := e.st.Device(d.ID); cur.CertSerial != d.CertSerial {
		t.Fatal("a browser certificate replaced the agent's certificate of the device")
	}
	var ev *store.DeviceEvent
	for _, x := range e.st.DeviceEvents(d.ID) {
		if x.Type == "browser_certificate_issued" {
			ev = x
		}
	}
	if ev == nil || ev.Detail["person"] != "ada" || ev.Detail["certificate"] == "" {
		t.Fatalf("browser_certificate_issued event = %+v", ev)
	}
	audited := false
	for _, ev := range e.st.Audit() {
		audited = audited || (ev.Action == "device.browser_certificate" && ev.Target == d.ID && ev.Actor == "device:"+d.ID)
	}
	if !audited {
		t.Fatal("no audit entry")
	}
	if _, err := e.svc.Authenticate(bc.Chain); apperr.Status(err) != 403 {
		t.Fatalf("agent API with a browser certificate: %v, want 403", err)
	}

	next, err := e.svc.IssueBrowserCertificate(ctx, d, browserReq(t, "ada"))
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Superseded) != 1 || next.Superseded[0] != serial {
		t.Fatalf("superseded = %v, want [%s]", next.Superseded, serial)
	}
	if _, revoked := e.st.Revocation(serial); revoked {
		t.Fatal("the superseded certificate was revoked; it must stay valid until it expires")
	}
	if other, err := e.svc.IssueBrowserCertificate(ctx, d, browserReq(t, "bob")); err != nil || len(other.Superseded) != 0 {
		t.Fatalf("another person: %v, superseded %v", err, other.Superseded)
	}
}

// TestBrowserCertificateCap: at most MaxBrowserCertificates valid ones per
// device; expired and revoked ones do not count.
func TestBrowserCertificateCap(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	var first string
	for i := 0; i < MaxBrowserCertificates; i++ {
		bc, err := e.svc.IssueBrowserCertificate(ctx, d, browserReq(t, "ada"))
		if err != nil {
			t.Fatalf("certificate %d: %v", i, err)
		}
		if i == 0 {
			first = bc.Chain[0].SerialNumber.String()
		}
	}
	before := certCount(e.st)
	_, err := e.svc.IssueBrowserCertificate(ctx, d, browserReq(t, "bob"))
	if apperr.Status(err) != 409 || !strings.Contains(err.Error(), "20 valid browser certificates") {
		t.Fatalf("beyond the cap: %v, want 409", err)
	}
	if certCount(e.st) != before {
		t.Fatal("a certificate was issued beyond the cap")
	}
	if err := e.ca.Revoke(ctx, first, ca.ReasonSuperseded, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.IssueBrowserCertificate(ctx, d, browserReq(t, "bob")); err != nil {
		t.Fatalf("after one was revoked: %v", err)
	}
}

// TestBrowserCertificateRefusedDevices: a device waiting for approval or
// quarantined gets none; a retired device's browser certificates are
// revoked with it.
func TestBrowserCertificateRefusedDevices(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device

	pending := *d
	pending.RequestedOwnership = store.OwnershipCorporate
	if _, err := e.svc.IssueBrowserCertificate(ctx, &pending, browserReq(t, "ada")); apperr.Status(err) != 403 {
		t.Fatalf("pending approval: %v", err)
	}
	quarantined := *d
	quarantined.State = store.DeviceQuarantined
	if _, err := e.svc.IssueBrowserCertificate(ctx, &quarantined, browserReq(t, "ada")); apperr.Status(err) != 403 {
		t.Fatalf("quarantined: %v", err)
	}

	bc, err := e.svc.IssueBrowserCertificate(ctx, d, browserReq(t, "ada"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Retire(ctx, admin, d.ID, "stolen"); err != nil {
		t.Fatal(err)
	}
	if _, revoked := e.st.Revocation(bc.Chain[0].SerialNumber.String()); !revoked {
		t.Fatal("the browser certificate survived its device's retirement")
	}
	if _, _, err := e.ca.VerifyClient(bc.Chain, e.clock.Now()); !errors.Is(err, ca.ErrRevoked) {
		t.Fatalf("VerifyClient of the retired device's browser certificate: %v", err)
	}
	retiredDev, _ := e.st.Device(d.ID)
	if _, err := e.svc.IssueBrowserCertificate(ctx, retiredDev, browserReq(t, "ada")); apperr.Status(err) != 403 {
		t.Fatalf("retired: %v", err)
	}
}

// TestParseBrowserCertificateRequest names the field at fault.
func TestParseBrowserCertificateRequest(t *testing.T) {
	csr := `"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n"`
	for _, tc := range []struct{ body, field string }{
		{`{"person":"ada"}`, "csr"},
		{`{` + csr + `}`, "person"},
		{`{` + csr + `,"person":"   "}`, "person"},
		{`{` + csr + `,"person":"` + strings.Repeat("a", 257) + `"}`, "person"},
		{`{` + csr + `,"person":"ada\u202eevil"}`, "person"},
		{`{` + csr + `,"person":"ada\u0007"}`, "person"},
		{`{` + csr + `,"person":"ada","key_protection":"quantum"}`, "key_protection"},
		{`{` + csr + `,"person":"ada","extra":1}`, "extra"},
	} {
		_, err := ParseBrowserCertificateRequest([]byte(tc.body))
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != tc.field {
			t.Errorf("%s: err = %v, want field %s", tc.body, err, tc.field)
		}
	}
	if _, err := ParseBrowserCertificateRequest([]byte(`{` + csr + `,"person":"S-1-5-21-1004336348-1177238915-682003330-512","key_protection":"hardware"}`)); err != nil {
		t.Errorf("a Windows SID: %v", err)
	}
}
