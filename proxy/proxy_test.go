package proxy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/ca/catest"
	"github.com/portier/portier/store"
)

func TestUnknownHostAndNoSession(t *testing.T) {
	e := newEnv(t)
	c := e.client(nil)
	if resp, _ := e.do(c, "GET", "https://nope.localhost/", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown host = %d, want 404", resp.StatusCode)
	}
	resp, _ := e.do(c, "GET", "https://wiki.localhost/page?x=1", "", nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 302 || !strings.HasPrefix(loc, "https://portier.localhost/auth/sign_in?rd=") || !strings.Contains(loc, "wiki.localhost%2Fpage%3Fx%3D1") {
		t.Errorf("no session: %d %q, want a redirect to sign in and back", resp.StatusCode, loc)
	}
	resp, _ = e.do(c, "POST", "https://wiki.localhost/api", "", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != 401 {
		t.Errorf("API call without a session = %d, want 401", resp.StatusCode)
	}
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", "forged-cookie", nil); resp.StatusCode != 302 {
		t.Errorf("unknown cookie = %d, want a sign-in redirect", resp.StatusCode)
	}
	if e.got.last() != nil {
		t.Error("a request reached the upstream without a session")
	}
}

func TestAllowWithDeviceCertificate(t *testing.T) {
	e := newEnv(t)
	cookie, s := e.session("ann@example.com", "staff")
	cert := e.device("dev_ann", store.TrustHigh, store.OwnershipCorporate)
	c := e.client(&cert)
	resp, body := e.do(c, "GET", "https://wiki.localhost/page", cookie, map[string]string{
		"X-Portier-Email": "ceo@example.com", "x-portier-trust": "high", "X-Portier-Assertion": "forged",
		"Cookie":          "theme=dark; " + "__Host-portier_session=" + cookie + "; lang=fr",
		"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Host": "evil.example", "Accept-Language": "fr",
	})
	if resp.StatusCode != 200 || body != "upstream says hi" {
		t.Fatalf("allowed request = %d %q", resp.StatusCode, body)
	}
	up := e.got.last()
	if got := up.Header.Get("X-Portier-Email"); got != "ann@example.com" {
		t.Errorf("upstream X-Portier-Email = %q: the client's spoofed value was not replaced", got)
	}
	if up.Header.Get("X-Portier-Device") != "dev_ann" || up.Header.Get("X-Portier-Trust") != "high" || up.Header.Get("X-Portier-Groups") != "staff" {
		t.Errorf("identity headers = %v", up.Header)
	}
	if xff, xfh, xfp := up.Header.Values("X-Forwarded-For"), up.Header.Get("X-Forwarded-Host"), up.Header.Get("X-Forwarded-Proto"); len(xff) != 1 || xff[0] != "127.0.0.1" || xfh != "wiki.localhost" || xfp != "https" {
		t.Errorf("upstream X-Forwarded-For %q, -Host %q, -Proto %q: want the real client address, the route host and https, never the client's own values", xff, xfh, xfp)
	}
	if up.Header.Get("Accept-Language") != "fr" || up.Host != strings.TrimPrefix(e.upstream.URL, "http://") {
		t.Errorf("upstream Accept-Language %q, Host %q: the client's other headers pass, Host is the upstream's", up.Header.Get("Accept-Language"), up.Host)
	}
	if ck := up.Header.Get("Cookie"); strings.Contains(ck, "portier_session") || !strings.Contains(ck, "theme=dark") || !strings.Contains(ck, "lang=fr") {
		t.Errorf("upstream Cookie = %q: Portier's cookie must go, others stay", ck)
	}
	claims, err := assertion.Verify(up.Header.Get("X-Portier-Assertion"), e.jwks(), "https://portier.localhost", "https://wiki.localhost", e.clk.Now())
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	if claims.Subject != s.UserID || claims.Device == nil || claims.Device.ID != "dev_ann" || claims.Device.Trust != "high" || claims.Expiry-claims.IssuedAt > 300 {
		t.Errorf("claims = %+v", claims)
	}
	// The same session and device reuse the signed assertion.
	first := up.Header.Get("X-Portier-Assertion")
	e.do(c, "GET", "https://wiki.localhost/other", cookie, nil)
	if e.got.last().Header.Get("X-Portier-Assertion") != first {
		t.Error("the assertion was re-signed although nothing changed")
	}
	if !strings.Contains(e.logText(), `"outcome":"allow"`) {
		t.Error("no decision log entry for the allow")
	}
}

func TestDenyExplainsAndDeviceCredentialProblems(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.session("bob@example.com", "staff")
	low := e.device("dev_low", store.TrustLow, store.OwnershipCorporate)
	resp, body := e.do(e.client(&low), "GET", "https://wiki.localhost/", cookie, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "Access denied") || !strings.Contains(body, "trust") || !strings.Contains(body, "What to do") {
		t.Errorf("low trust = %d\n%s", resp.StatusCode, body)
	}
	if resp, body := e.do(e.client(nil), "GET", "https://wiki.localhost/", cookie, nil); resp.StatusCode != 403 || !strings.Contains(body, "not enrolled") || !strings.Contains(body, "trust level is untrusted") {
		t.Errorf("no device = %d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(e.logText(), `"outcome":"deny"`) {
		t.Error("denials are not logged")
	}

	// A certificate from another CA counts as no device, and the page says why.
	foreign := catest.ForeignDevice(t, "dev_fake")
	resp, body = e.do(e.client(&foreign), "GET", "https://wiki.localhost/", cookie, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "did not issue") {
		t.Errorf("foreign certificate = %d\n%s", resp.StatusCode, body)
	}

	// Revocation takes effect on the next request, on the same connection.
	good := e.device("dev_good", store.TrustHigh, store.OwnershipCorporate)
	c := e.client(&good)
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", cookie, nil); resp.StatusCode != 200 {
		t.Fatalf("before revocation = %d", resp.StatusCode)
	}
	if err := e.ca.Revoke(context.Background(), good.Leaf.SerialNumber.String(), 1, "key compromise"); err != nil {
		t.Fatal(err)
	}
	resp, body = e.do(c, "GET", "https://wiki.localhost/", cookie, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "revoked") {
		t.Errorf("after revocation = %d\n%s", resp.StatusCode, body)
	}

	// An expired certificate counts as no device.
	fresh := e.device("dev_fresh", store.TrustHigh, store.OwnershipCorporate)
	e.clk.Advance(25 * time.Hour)
	cookie2, _ := e.session("bob2@example.com", "staff")
	resp, body = e.do(e.client(&fresh), "GET", "https://wiki.localhost/", cookie2, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "expired") {
		t.Errorf("expired certificate = %d\n%s", resp.StatusCode, body)
	}
}

func TestSessionEndsTakeEffectAtOnce(t *testing.T) {
	e := newEnv(t)
	cookie, s := e.session("cat@example.com", "staff")
	cert := e.device("dev_cat", store.TrustHigh, store.OwnershipCorporate)
	c := e.client(&cert)
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", cookie, nil); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	if err := e.st.Write(context.Background(), store.Delete(store.KindSession, s.ID)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", cookie, nil); resp.StatusCode != 302 {
		t.Errorf("revoked session = %d, want a sign-in redirect", resp.StatusCode)
	}
	// Idle and absolute timeouts.
	cookie, _ = e.session("cat@example.com", "staff")
	e.clk.Advance(9 * time.Hour)
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", cookie, nil); resp.StatusCode != 302 {
		t.Errorf("idle session = %d, want a sign-in redirect", resp.StatusCode)
	}
	// A quarantined device (trust dropped) is denied on the next request.
	cookie, _ = e.session("cat@example.com", "staff")
	cert = e.device("dev_cat2", store.TrustHigh, store.OwnershipCorporate)
	c = e.client(&cert)
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", cookie, nil); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	d, _ := e.st.Device("dev_cat2")
	q := *d
	q.State, q.Trust = store.DeviceQuarantined, store.TrustUntrusted
	if err := e.st.Write(context.Background(), store.Put(&q)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", cookie, nil); resp.StatusCode != 403 {
		t.Errorf("quarantined device = %d, want 403", resp.StatusCode)
	}
}

func TestStepUpAndRestrictionsAndReportOnly(t *testing.T) {
	e := newEnv(t)
	cookie, s := e.session("dan@example.com", "staff")
	c := e.client(nil)
	resp, _ := e.do(c, "GET", "https://wiki.localhost/admin/users", cookie, nil)
	if resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), "https://portier.localhost/auth/step_up?rd=") {
		t.Errorf("stale MFA = %d %q, want a step-up redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	mfa := *s
	mfa.MFAAt = e.clk.Now()
	if err := e.st.Write(context.Background(), store.Put(&mfa)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/admin/users", cookie, nil); resp.StatusCode != 200 {
		t.Errorf("fresh MFA = %d, want 200", resp.StatusCode)
	}

	// BYOD restrictions: read-only, no downloads, no-store.
	cookie, _ = e.sessionOn("files.localhost", "dan@example.com", "staff")
	resp, body := e.do(c, "GET", "https://files.localhost/list", cookie, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("restricted GET = %d cache %q %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	if resp, body := e.do(c, "POST", "https://files.localhost/upload", cookie, nil); resp.StatusCode != 403 || !strings.Contains(body, "read-only") {
		t.Errorf("restricted POST = %d %s", resp.StatusCode, body)
	}
	if resp, body := e.do(c, "GET", "https://files.localhost/report.pdf", cookie, nil); resp.StatusCode != 403 || !strings.Contains(body, "Download") {
		t.Errorf("restricted download = %d %s", resp.StatusCode, body)
	}

	// Report-only: staff-v2 (admins only) is observed, staff is enforced.
	cert := e.device("dev_dan", store.TrustHigh, store.OwnershipCorporate)
	cookie, _ = e.sessionOn("new.localhost", "dan@example.com", "staff")
	resp, _ = e.do(e.client(&cert), "GET", "https://new.localhost/", cookie, nil)
	if resp.StatusCode != 200 {
		t.Errorf("report-only route = %d, want the shadowed staff policy to allow", resp.StatusCode)
	}
	if logs := e.logText(); !strings.Contains(logs, `"report_only":true`) || !strings.Contains(logs, `"policy":"staff-v2","outcome":"deny"`) {
		t.Errorf("the report-only denial was not logged:\n%s", logs)
	}
}

func TestOversizedBodyRefused(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.session("big@example.com", "staff")
	cert := e.device("dev_big", store.TrustHigh, store.OwnershipCorporate)
	c := e.client(&cert)
	req, _ := http.NewRequest("POST", e.srv.URL+"/upload", strings.NewReader(strings.Repeat("x", 33<<20)))
	req.Host = "wiki.localhost"
	req.AddCookie(&http.Cookie{Name: "__Host-portier_session", Value: cookie})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("33 MiB body = %d, want 413", resp.StatusCode)
	}
	if e.got.last() != nil {
		t.Error("the oversized request reached the upstream")
	}
}

func TestBrowserOnlyWorkProfileDevice(t *testing.T) {
	e := newEnv(t)
	cookie, s := e.sessionOn("files.localhost", "fay@example.com", "staff")
	d := &store.Device{ID: "dev_byod", Ownership: store.OwnershipBYOD, State: store.DeviceActive, Trust: store.TrustMedium, WorkProfile: true, OwnerEmail: "fay@example.com"}
	bound := *s
	bound.DeviceID = d.ID
	if err := e.st.Write(context.Background(), store.Put(d), store.Put(&bound)); err != nil {
		t.Fatal(err)
	}
	resp, _ := e.do(e.client(nil), "GET", "https://files.localhost/list", cookie, nil)
	if resp.StatusCode != 200 || e.got.last().Header.Get("X-Portier-Device") != "dev_byod" {
		t.Errorf("work-profile browser = %d device %q", resp.StatusCode, e.got.last().Header.Get("X-Portier-Device"))
	}
	retired := *d
	retired.State = store.DeviceRetired
	if err := e.st.Write(context.Background(), store.Put(&retired)); err != nil {
		t.Fatal(err)
	}
	resp, _ = e.do(e.client(nil), "GET", "https://files.localhost/list", cookie, nil)
	if resp.StatusCode != 200 || e.got.last().Header.Get("X-Portier-Device") != "" {
		t.Errorf("after retirement the browser still counts as the device: %d %q", resp.StatusCode, e.got.last().Header.Get("X-Portier-Device"))
	}
}
