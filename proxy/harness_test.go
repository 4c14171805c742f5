package proxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"github.com/portier/portier/clocktest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// seen is what the upstream received.
type seen struct {
	mu  sync.Mutex
	req *http.Request
}

func (s *seen) last() *http.Request { s.mu.Lock(); defer s.mu.Unlock(); return s.req }

// env is a proxy under test: a real store, CA, signer and TLS listener in
// front of a real upstream.
type env struct {
	t        testing.TB
	st       *store.Store
	ca       *ca.CA
	signer   *assertion.Signer
	clk      *clocktest.Clock
	p        *proxy.Proxy
	srv      *httptest.Server
	upstream *httptest.Server
	got      *seen
	pols     []*policy.Policy // the test policies, for tests that load their own routes
	logs     *strings.Builder
	logMu    *sync.Mutex
}

const testPolicies = `
policies:
  - id: staff
    allow:
      or:
        - id: managed-staff
          and:
            - group: {has: staff}
            - device: {trust: {gte: medium}}
  - id: stepup
    allow:
      and:
        - group: {has: staff}
        - mfa: {max_age: 10m}
  - id: byod
    allow:
      and:
        - group: {has: staff}
    restrictions: [read_only, block_downloads, no_store]
  - id: staff-v2
    mode: report-only
    shadows: staff
    allow:
      and:
        - group: {has: admins}
`

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// newEnv starts a proxy under test; opts adjust its options.
func newEnv(t testing.TB, opts ...func(*proxy.Options)) *env {
	t.Helper()
	e := &env{t: t, st: storetest.OpenBolt(t), clk: clocktest.New(), got: &seen{}, logs: &strings.Builder{}, logMu: &sync.Mutex{}}
	log := slog.New(slog.NewJSONHandler(lockedWriter{e.logMu, e.logs}, nil))
	var err error
	e.ca, err = ca.New(context.Background(), ca.Options{Store: e.st, Keys: &ca.FileKeyStore{Dir: t.TempDir()}, Clock: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.signer, err = assertion.New(context.Background(), assertion.Options{Store: e.st, Clock: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.got.mu.Lock()
		e.got.req = r.Clone(context.Background())
		e.got.mu.Unlock()
		switch r.URL.Path {
		case "/report.pdf":
			w.Header().Set("Content-Disposition", `attachment; filename="report.pdf"`)
			w.Header().Set("Content-Type", "application/pdf")
		case "/plant-cookies": // a malicious upstream trying session fixation
			for _, c := range []string{"__Host-portier_session=attacker; Path=/; Secure; HttpOnly",
				"__host-PORTIER_attempt_x=attacker; Path=/; Secure", "portier_session=attacker; Path=/",
				"app_pref=dark; Path=/"} {
				w.Header().Add("Set-Cookie", c)
			}
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "upstream says hi")
	}))
	t.Cleanup(e.upstream.Close)
	po := proxy.Options{Store: e.st, CA: e.ca, Signer: e.signer, Clock: e.clk.Now, Log: log,
		ExternalURL: "https://portier.localhost", SampleAllows: 1}
	for _, o := range opts {
		o(&po)
	}
	e.p = proxy.New(po)
	pols, err := policy.Parse("test.yaml", []byte(testPolicies))
	e.pols = pols
	if err != nil {
		t.Fatal(err)
	}
	route := func(from, pol string) proxy.Route {
		return proxy.Route{Route: config.Route{From: from, To: e.upstream.URL, Policy: pol}}
	}
	if err := e.p.Load([]proxy.Route{
		route("https://wiki.localhost", "staff"),
		route("https://wiki.localhost/admin", "stepup"),
		route("https://files.localhost", "byod"),
		route("https://new.localhost", "staff-v2"),
	}, pols); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(e.p)
	e.p.Attach(e.srv.Config)
	e.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	e.srv.EnableHTTP2 = true // clients here speak HTTP/1.1 unless a test asks for h2
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go e.p.Run(ctx)
	return e
}

// session creates a signed-in user's session on wiki.localhost (see
// sessionOn) and returns its cookie value.
func (e *env) session(email string, groups ...string) (string, *store.Session) {
	return e.sessionOn("wiki.localhost", email, groups...)
}

// sessionOn creates a signed-in console session and a route session handed
// off from it to host, as a sign-in and a hand-off would, and returns the
// route session's cookie value and record. A route session counts only on
// its own host.
func (e *env) sessionOn(host, email string, groups ...string) (string, *store.Session) {
	_, parentID := identity.NewSessionSecret()
	cookie, id := identity.NewSessionSecret()
	now := e.clk.Now()
	parent := &store.Session{ID: parentID, UserID: "usr_" + strings.Split(email, "@")[0], Email: email, Groups: groups, IdP: "local",
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(identity.SessionAbsolute)}
	s := *parent
	s.ID, s.ParentID, s.Host = id, parentID, host
	if err := e.st.Write(context.Background(), store.Put(parent), store.Put(&s)); err != nil {
		e.t.Fatal(err)
	}
	return cookie, &s
}

// consoleCookie gives console session id a new cookie value (only hashes
// are stored, so a test re-keys the record) and returns it.
func (e *env) consoleCookie(id string) string {
	e.t.Helper()
	s, ok := e.st.Session(id)
	if !ok {
		e.t.Fatalf("no session %s", id)
	}
	cookie, newID := identity.NewSessionSecret()
	cp := *s
	cp.ID = newID
	if err := e.st.Write(context.Background(), store.Put(&cp)); err != nil {
		e.t.Fatal(err)
	}
	return cookie
}

// device enrolls a device with a trust level and returns a client
// certificate for it, issued by Portier's CA.
func (e *env) device(id string, trust store.Trust, own store.Ownership) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	if err != nil {
		e.t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	chain, err := e.ca.IssueDevice(context.Background(), csr, id, ca.KeyInfo{})
	if err != nil {
		e.t.Fatal(err)
	}
	// Shared: these devices serve whichever test user signs in; owner
	// binding has its own tests (owner_test.go).
	d := &store.Device{ID: id, Ownership: own, State: store.DeviceActive, Trust: trust, Platform: "linux",
		CertSerial: chain[0].SerialNumber.String(), LastSeen: e.clk.Now(), Shared: true}
	if err := e.st.Write(context.Background(), store.Put(d)); err != nil {
		e.t.Fatal(err)
	}
	var raw [][]byte
	for _, c := range chain {
		raw = append(raw, c.Raw)
	}
	return tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: chain[0]}
}

// client returns an HTTPS client to the proxy, presenting cert if given,
// that does not follow redirects.
func (e *env) client(cert *tls.Certificate) *http.Client {
	tlsCfg := &tls.Config{InsecureSkipVerify: true}
	if cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: tlsCfg, DialTLSContext: nil, Proxy: nil, ForceAttemptHTTP2: false},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// get sends a request for host+path to the proxy's listener.
func (e *env) do(c *http.Client, method, rawURL, cookie string, hdr map[string]string) (*http.Response, string) {
	e.t.Helper()
	u, _ := url.Parse(rawURL)
	target := e.srv.URL + u.RequestURI()
	req, _ := http.NewRequest(method, target, nil)
	req.Host = u.Host
	req.Header.Set("Accept", "text/html")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: cookie})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *env) jwks() assertion.JWKS {
	var set assertion.JWKS
	if err := json.Unmarshal(e.signer.JWKS(), &set); err != nil {
		e.t.Fatal(err)
	}
	return set
}

func (e *env) logText() string { e.logMu.Lock(); defer e.logMu.Unlock(); return e.logs.String() }
