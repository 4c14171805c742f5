package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// attackConfig is e2eConfig plus a host whose upstream ignores case (as
// IIS does): a loose route on / and a strict one on /admin.
var attackConfig = strings.Replace(e2eConfig, "routes:\n", `routes:
  - {from: "https://iis.localhost:%[1]s", to: "%[6]s", policy: staff, idp: mock, case_insensitive_paths: true}
  - {from: "https://iis.localhost:%[1]s/admin", to: "%[6]s", policy: admin, idp: mock, case_insensitive_paths: true}
`, 1)

// signedInStaff signs ann (staff, high-trust device, no fresh MFA: not
// allowed on /admin) in on app.localhost and iis.localhost, and returns
// her browser, which does not follow redirects.
func signedInStaff(t *testing.T, w *world) *http.Client {
	t.Helper()
	c := w.browser(w.enrolledDevice("dev_ann", store.TrustHigh))
	for _, host := range []string{"app.localhost", "iis.localhost"} {
		w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
		if resp, body := get(t, c, "GET", w.url(host, "/page")); resp.StatusCode != 200 {
			t.Fatalf("sign-in on %s: %d %s", host, resp.StatusCode, body)
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// upstreamPaths drains what the upstream received since the last call.
func (w *world) upstreamPaths() []string {
	var out []string
	for {
		select {
		case r := <-w.seen:
			out = append(out, r.URL.EscapedPath())
		default:
			return out
		}
	}
}

// TestPathTricksDoNotReachStricterRoute is the attack on the route table:
// /admin needs a fresh MFA, / does not. A signed-in member of staff without
// it asks for admin content through path spellings that the loose route
// would match but the upstream resolves to /admin. Each must get what
// /admin/users gets (the step-up), or be refused as ambiguous (400), and
// the upstream must never see the request.
func TestPathTricksDoNotReachStricterRoute(t *testing.T) {
	w := newWorldWith(t, attackConfig)
	c := signedInStaff(t, w)
	w.upstreamPaths()

	stepUp := func(resp *http.Response) bool {
		return resp.StatusCode == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "/auth/step_up?")
	}
	if resp, _ := get(t, c, "GET", w.url("app.localhost", "/admin/users")); !stepUp(resp) {
		t.Fatalf("/admin/users = %d %q: the strict route does not hold even without a trick", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, tc := range []struct {
		host, path string
		want       int // 302 = treated as /admin (step-up); 400 = refused
	}{
		{"app.localhost", "/public/../admin/users", 302},
		{"app.localhost", "/public/./../admin/users", 302},
		{"app.localhost", "//admin/users", 302},
		{"app.localhost", "/public//../admin/users", 302},
		{"app.localhost", "/%61dmin/users", 302},
		{"app.localhost", "/%2fadmin/users", 400},
		{"app.localhost", "/%2Fadmin/users", 400},
		{"app.localhost", "/x/%2e%2e/admin/users", 400},
		{"app.localhost", "/x/.%2E/admin/users", 400},
		{"app.localhost", "/public/..%2fadmin/users", 400},
		{"app.localhost", "/public/..%5cadmin/users", 400},
		{"app.localhost", "/public/%252e%252e/admin/users", 400},
		{"app.localhost", "/public/..;/admin/users", 400},
		{"app.localhost", "/admin;x/users", 400},
		{"app.localhost", "/admin%3bx/users", 400},
		{"app.localhost", "/admin%00/users", 400},
		{"app.localhost", "/../admin/users", 400},
		{"iis.localhost", "/admin/users", 302},
		{"iis.localhost", "/ADMIN/users", 302},
		{"iis.localhost", "/Admin/users", 302},
		{"iis.localhost", "/%41DMIN/users", 302},
		{"iis.localhost", "/public/../AdMiN/users", 302},
		{"iis.localhost", "/admin./users", 400},
	} {
		resp, body := get(t, c, "GET", w.url(tc.host, tc.path))
		got := resp.StatusCode
		if got == http.StatusFound && !stepUp(resp) {
			got = -1
		}
		if got != tc.want {
			t.Errorf("GET https://%s%s = %d %q, want %d\n%s", tc.host, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.want, body)
		}
		if seen := w.upstreamPaths(); len(seen) > 0 {
			t.Errorf("GET https://%s%s reached the upstream as %q", tc.host, tc.path, seen)
		}
	}
}

// TestCleanPathsForwardedAsRouted checks the other side of the rule: what
// the loose route lets through reaches the upstream as exactly the path
// Portier routed and decided on.
func TestCleanPathsForwardedAsRouted(t *testing.T) {
	w := newWorldWith(t, attackConfig)
	c := signedInStaff(t, w)
	w.upstreamPaths()
	for _, tc := range []struct{ host, path, upstream string }{
		{"app.localhost", "/public/page", "/public/page"},
		{"app.localhost", "/public/../page", "/page"},
		{"app.localhost", "/a//b/./c/", "/a/b/c/"},
		{"app.localhost", "/%7Euser/%41bc", "/~user/Abc"},
		{"app.localhost", "/Admin/users", "/Admin/users"}, // a case-sensitive upstream: not /admin
		{"app.localhost", "/a%20b/c%3Fd", "/a%20b/c%3Fd"},
		{"app.localhost", "/administrator", "/administrator"},
		{"iis.localhost", "/Public/Page", "/public/page"},
	} {
		resp, body := get(t, c, "GET", w.url(tc.host, tc.path))
		seen := w.upstreamPaths()
		if resp.StatusCode != 200 || len(seen) != 1 || seen[0] != tc.upstream {
			t.Errorf("GET https://%s%s = %d, upstream saw %q, want 200 and %q\n%s", tc.host, tc.path, resp.StatusCode, seen, tc.upstream, body)
		}
	}
}

// TestConsolePathTricks checks that the console host (gin) routes path
// spellings of guarded API routes to no public handler: without a token
// nothing answers 200.
func TestConsolePathTricks(t *testing.T) {
	w := newWorld(t)
	c := w.browser(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{
		"/healthz/../api/v1/users", "//api/v1/users", "/api/v1//users", "/api/v1/./users",
		"/api/v1/%75sers", "/API/v1/users", "/ca/..%2fapi/v1/users", "/api/v1/users;x",
	} {
		resp, body := get(t, c, "GET", w.url("localhost", p))
		if resp.StatusCode == 200 || strings.Contains(body, "@") {
			t.Errorf("console GET %s = %d without a token\n%s", p, resp.StatusCode, body)
		}
	}
}

// TestSpoofedHeaderVariants is the attack on CGI-style upstreams: header
// names that differ from Portier's only by case or by '_' for '-' are read
// as the same variable (HTTP_X_PORTIER_EMAIL) by CGI, WSGI and PHP.
func TestSpoofedHeaderVariants(t *testing.T) {
	w := newWorldWith(t, attackConfig)
	c := signedInStaff(t, w)
	w.upstreamPaths()
	spoofed := map[string]string{
		"X_Portier_Email":        "ceo@example.com",
		"X-Portier_Email":        "ceo@example.com",
		"x_portier_groups":       "admins",
		"X-PORTIER-TRUST":        "spoofed-trust",
		"X_Forwarded_For":        "10.9.9.9",
		"X-Forwarded_Host":       "admin.example.com",
		"X_Forwarded_Proto":      "spoofed-proto",
		"X-Real-IP":              "10.9.9.9",
		"X_Real_IP":              "10.9.9.9",
		"Forwarded":              "for=10.9.9.9",
		"True-Client-IP":         "10.9.9.9",
		"X-Original-URL":         "/admin/users",
		"X_Rewrite_URL":          "/admin/users",
		"X-HTTP-Method-Override": "DELETE",
	}
	req, _ := http.NewRequest("GET", w.url("app.localhost", "/page"), nil)
	for k, v := range spoofed {
		req.Header[k] = []string{v} // exactly as spelled, not canonicalised
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var up *http.Request
	for len(w.seen) > 0 {
		up = <-w.seen
	}
	if resp.StatusCode != 200 || up == nil {
		t.Fatalf("status %d, upstream saw %v", resp.StatusCode, up)
	}
	bad := map[string]bool{}
	for _, v := range spoofed {
		bad[v] = true
	}
	for k, vs := range up.Header {
		for _, v := range vs {
			if bad[v] || strings.Contains(v, "10.9.9.9") {
				t.Errorf("upstream got %s: %q (spoofed by the client)", k, v)
			}
		}
	}
	for k, want := range map[string]string{"X-Portier-Email": "ann@example.com", "X-Real-Ip": "127.0.0.1", "X-Forwarded-For": "127.0.0.1"} {
		if got := up.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("upstream %s = %q, want exactly %q", k, got, want)
		}
	}
}

// TestTLSOffersOnlyAEADSuites dials the running listener with TLS 1.2
// clients that offer one suite each: CBC suites fail the handshake, the
// ECDHE AEAD ones succeed.
func TestTLSOffersOnlyAEADSuites(t *testing.T) {
	w := newWorld(t)
	dial := func(suite uint16) error {
		d := &net.Dialer{Timeout: 5 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", "127.0.0.1:"+w.port, &tls.Config{
			ServerName: "localhost", InsecureSkipVerify: true, // #nosec G402 -- only the cipher suite is under test
			MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}})
		if err == nil {
			conn.Close()
		}
		return err
	}
	for _, s := range []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	} {
		if err := dial(s); err == nil {
			t.Errorf("TLS 1.2 with only %s: handshake succeeded, want refused", tls.CipherSuiteName(s))
		}
	}
	for _, s := range []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	} {
		if err := dial(s); err != nil {
			t.Errorf("TLS 1.2 with %s: %v, want a handshake", tls.CipherSuiteName(s), err)
		}
	}
}
