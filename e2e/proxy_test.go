package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/server"
	"github.com/portier/portier/store"
)

// lockedBuffer collects the server's logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type world struct {
	t        *testing.T
	srv      *server.Server
	port     string
	idp      *identitytest.IdP
	upstream *httptest.Server
	seen     chan *http.Request
	logs     *lockedBuffer
}

const e2eConfig = `
external_url: https://localhost:%[1]s
listen: 127.0.0.1:%[1]s
metrics_listen: "off"
data_dir: %[2]s
decision_log: {sample_allows: 1}
identity_providers:
  - id: mock
    type: oidc
    issuer: %[3]s
    client_id: %[4]s
    client_secret: %[5]s
    scopes: [openid, email, profile, groups]
    groups_claim: groups
routes:
  - {from: "https://app.localhost:%[1]s", to: "%[6]s", policy: staff, idp: mock}
  - {from: "https://app.localhost:%[1]s/admin", to: "%[6]s", policy: admin, idp: mock}
  - {from: "https://files.localhost:%[1]s", to: "%[6]s", policy: byod, idp: mock}
  - {from: "https://next.localhost:%[1]s", to: "%[6]s", policy: staff-next, idp: mock}
policies:
  - id: staff
    allow:
      and:
        - group: {has: staff}
        - device: {trust: {gte: medium}}
  - id: admin
    allow:
      and:
        - group: {has: staff}
        - device: {trust: {gte: medium}}
        - mfa: {max_age: 10m}
  - id: byod
    allow:
      and:
        - group: {has: staff}
    restrictions: [read_only, block_downloads, no_store]
  - id: staff-next
    mode: report-only
    shadows: staff
    allow:
      and:
        - group: {has: admins}
`

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, e2eConfig)
}

// newWorldWith starts a world from a config template with e2eConfig's
// placeholders.
func newWorldWith(t *testing.T, tmpl string) *world {
	t.Helper()
	w := &world{t: t, idp: identitytest.StartIdP(t), seen: make(chan *http.Request, 100), logs: &lockedBuffer{}}
	w.upstream = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.seen <- r.Clone(context.Background())
		io.WriteString(rw, "hello from upstream")
	}))
	t.Cleanup(w.upstream.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	yaml := fmt.Sprintf(tmpl, w.port, filepath.Join(t.TempDir(), "data"), w.idp.Issuer(), w.idp.ClientID, w.idp.ClientSecret, w.upstream.URL)
	cfg, pols := loadConfig(t, "e2e.yaml", yaml)
	log := slog.New(slog.NewJSONHandler(w.logs, nil))
	w.srv, err = server.Start(context.Background(), server.Options{Config: cfg, Policies: pols, Log: log, Clock: time.Now, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// browser is a person's browser: cookies per host, Portier's root trusted,
// every *.localhost name dialled on loopback, and optionally a device
// certificate in its key store.
func (w *world) browser(cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(w.srv.CA().Roots()[0])
	tlsCfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cert}
	}
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Jar: jar, Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsCfg,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			if strings.HasSuffix(host, ".localhost") || host == "localhost" {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
}

// enrolledDevice issues a device certificate from Portier's CA and records
// the device with a trust level, as the posture side would. A device at
// high has its agent's key in a TPM, attested (trust high needs a hardware
// key), and the certificate says so; others have a software key.
func (w *world) enrolledDevice(id string, trust store.Trust) *tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	csr, _ := x509.ParseCertificateRequest(der)
	info := ca.KeyInfo{Protection: store.KeySoftware, Purpose: ca.PurposeAgent}
	if trust == store.TrustHigh {
		info.Protection, info.Source = store.KeyHardware, store.KeySourceTPM
	}
	chain, err := w.srv.CA().IssueDevice(context.Background(), csr, id, info)
	if err != nil {
		w.t.Fatal(err)
	}
	// Shared: the device serves whichever test user signs in; owner
	// binding is tested in attack_device_test.go.
	d := &store.Device{ID: id, Ownership: store.OwnershipCorporate, State: store.DeviceActive, Trust: trust, Platform: "linux",
		Compliant: trust >= store.TrustMedium, CertSerial: chain[0].SerialNumber.String(), LastSeen: time.Now(), Shared: true,
		KeyProtection: info.Protection, KeyProtectionSource: info.Source}
	if err := w.srv.Store().Write(context.Background(), store.Put(d)); err != nil {
		w.t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{chain[0].Raw, chain[1].Raw}, PrivateKey: key, Leaf: chain[0]}
}

func (w *world) url(host, path string) string { return "https://" + host + ":" + w.port + path }

func get(t *testing.T, c *http.Client, method, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSignInAndAccessEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))

	// Without a device certificate: the OIDC sign-in succeeds, the policy
	// denies, and the page says why.
	plain := w.browser(nil)
	resp, body := get(t, plain, "GET", w.url("app.localhost", "/page"))
	if resp.StatusCode != 403 || !strings.Contains(body, "not enrolled") || !strings.Contains(body, "trust level") {
		t.Fatalf("without a device: %d %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	auth := w.idp.Authorizations()
	if len(auth) != 1 || auth[0].Get("code_challenge_method") != "S256" || auth[0].Get("state") == "" || auth[0].Get("nonce") == "" {
		t.Errorf("authorize request = %v, want PKCE S256, state and nonce", auth)
	}

	// With an enrolled, trusted device: the request reaches the upstream
	// with a verifiable assertion.
	w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
	cert := w.enrolledDevice("dev_ann", store.TrustHigh)
	laptop := w.browser(cert)
	resp, body = get(t, laptop, "GET", w.url("app.localhost", "/page?x=1"))
	if resp.StatusCode != 200 || body != "hello from upstream" {
		t.Fatalf("with a device: %d %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	var up *http.Request
	for len(w.seen) > 0 {
		up = <-w.seen
	}
	if up == nil || up.URL.RequestURI() != "/page?x=1" {
		t.Fatalf("upstream saw %v", up)
	}
	var set assertion.JWKS
	_, jwks := get(t, laptop, "GET", w.url("localhost", "/.well-known/portier/jwks.json"))
	json.Unmarshal([]byte(jwks), &set)
	claims, err := assertion.Verify(up.Header.Get("X-Portier-Assertion"), set, "https://localhost:"+w.port, "https://app.localhost:"+w.port, time.Now())
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	if claims.Email != "ann@example.com" || claims.Device == nil || claims.Device.ID != "dev_ann" || !contains(claims.Groups, "staff") {
		t.Errorf("claims = %+v", claims)
	}
	for _, ck := range up.Cookies() {
		if strings.Contains(ck.Name, "portier") {
			t.Errorf("Portier's cookie %s reached the upstream", ck.Name)
		}
	}

	// Step-up: the admin path needs a fresh security-key check.
	noFollow := *laptop
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ = get(t, &noFollow, "GET", w.url("app.localhost", "/admin/users"))
	if resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), "https://localhost:"+w.port+"/auth/step_up?rd=") {
		t.Errorf("admin without fresh MFA = %d %q, want the step-up ceremony", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Restrictions on the BYOD route: read-only and no-store.
	w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
	resp, _ = get(t, plain, "GET", w.url("files.localhost", "/list"))
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("restricted GET = %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if resp, body := get(t, plain, "POST", w.url("files.localhost", "/upload")); resp.StatusCode != 403 || !strings.Contains(body, "read-only") {
		t.Errorf("restricted POST = %d %s", resp.StatusCode, body)
	}

	// Report-only: the observed policy would deny; the shadowed one allows.
	w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
	if resp, _ := get(t, laptop, "GET", w.url("next.localhost", "/")); resp.StatusCode != 200 {
		t.Errorf("report-only route = %d, want 200 (staff is enforced)", resp.StatusCode)
	}
	if logs := w.logs.String(); !strings.Contains(logs, `"policy":"staff-next","outcome":"deny","report_only":true`) {
		t.Errorf("no report-only decision logged")
	}

	// Revocation: the next request on the same browser is denied.
	if err := w.srv.CA().Revoke(context.Background(), cert.Leaf.SerialNumber.String(), 1, "lost laptop"); err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, laptop, "GET", w.url("app.localhost", "/page"))
	if resp.StatusCode != 403 || !strings.Contains(body, "revoked") {
		t.Errorf("after revocation: %d\n%s", resp.StatusCode, body)
	}
}

func TestSpoofedHeadersAndOpenRedirect(t *testing.T) {
	w := newWorld(t)
	w.idp.QueueUser(identitytest.NewUser("sub-bo", "bo@example.com", "staff"))
	cert := w.enrolledDevice("dev_bo", store.TrustHigh)
	c := w.browser(cert)
	req, _ := http.NewRequest("GET", w.url("app.localhost", "/"), nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Portier-Email", "ceo@example.com")
	req.Header.Set("X-Portier-Groups", "admins")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var up *http.Request
	for len(w.seen) > 0 {
		up = <-w.seen
	}
	if resp.StatusCode != 200 || up == nil || up.Header.Get("X-Portier-Email") != "bo@example.com" || up.Header.Get("X-Portier-Groups") != "staff" {
		t.Errorf("spoofed headers: %d, upstream saw %v", resp.StatusCode, up)
	}
	// After sign-in, only routes and the console are destinations.
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, rd := range []string{"https://evil.example.com/", "//evil.example.com", "https://localhost.evil.com/", "javascript:alert(1)"} {
		resp, _ := get(t, &noFollow, "GET", w.url("localhost", "/auth/sign_in?rd="+urlQuery(rd)))
		loc := resp.Header.Get("Location")
		if strings.Contains(loc, "evil") || strings.HasPrefix(loc, "javascript") {
			t.Errorf("rd=%s redirected to %q", rd, loc)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestOversizedHeadersAndUnknownHost(t *testing.T) {
	w := newWorld(t)
	c := w.browser(nil)
	req, _ := http.NewRequest("GET", w.url("app.localhost", "/"), nil)
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB header = %d, want 431", resp.StatusCode)
	}
	resp, _ = get(t, c, "GET", w.url("unknown.localhost", "/"))
	if resp.StatusCode != 404 {
		t.Errorf("unknown host = %d, want 404", resp.StatusCode)
	}
	if len(w.seen) != 0 {
		t.Error("a refused request reached the upstream")
	}
}
