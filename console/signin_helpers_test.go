package console

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

const (
	extURL   = "https://portier.localhost:8443"
	extHost  = "portier.localhost:8443"
	routeURL = "https://wiki.localhost:8443"
)

// testAttemptRef is the reference of the sign-in attempt cookie a proxy set
// in the test browser; attempted adds it to a route URL, as the proxy does
// when it sends a browser to sign in.
var testAttemptRef = identity.HashSecret("attempt cookie of the test browser")

func attempted(routeURL string) string { return identity.WithAttempt(routeURL, testAttemptRef) }

func routeFor(u *url.URL) string {
	if u.Scheme == "https" && u.Host == "wiki.localhost:8443" {
		return routeURL
	}
	return ""
}

// env is a console with sign-in, served over TLS by httptest, reached as
// https://portier.localhost:8443 by a cookie-keeping test browser.
type env struct {
	st    *store.Store
	clock *identitytest.Clock
	id    *identity.Service
	srv   *httptest.Server
}

func newEnv(t *testing.T, idps ...config.IdP) *env {
	t.Helper()
	st := identitytest.OpenStore(t)
	clock := identitytest.NewClock()
	log := slog.New(slog.DiscardHandler)
	id, err := identity.New(identity.Options{Store: st, Clock: clock.Now, Log: log, ExternalURL: extURL,
		IdPs: idps, Destination: routeFor})
	if err != nil {
		t.Fatal(err)
	}
	con := New(Options{Store: st, Log: log, Clock: clock.Now, ExternalURL: extURL,
		Roots: http.NotFoundHandler(), CRL: http.NotFoundHandler(),
		Ready: func(context.Context) error { return nil }, Identity: id})
	srv := httptest.NewTLSServer(con)
	t.Cleanup(srv.Close)
	return &env{st: st, clock: clock, id: id, srv: srv}
}

// browser is a test browser: it keeps cookies, follows no redirects, and
// sends portier.localhost:8443 to the test server.
type browser struct {
	t *testing.T
	c *http.Client
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	pool := x509.NewCertPool()
	pool.AddCert(e.srv.Certificate())
	addr := e.srv.Listener.Addr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == extHost {
				a = addr
			}
			return (&net.Dialer{}).DialContext(ctx, network, a)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, c: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp, string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func (b *browser) postForm(u string, v url.Values, hdr ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", extURL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

func (b *browser) postJSON(u, csrf string, body any, out any) page {
	b.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", extURL)
	req.Header.Set("X-CSRF-Token", csrf)
	p := b.do(req)
	if out != nil && p.StatusCode < 300 {
		if err := json.Unmarshal([]byte(p.body), out); err != nil {
			b.t.Fatalf("%s: %v in %s", u, err, p.body)
		}
	}
	return p
}

// cookie returns the browser's cookie for the console.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(extURL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var csrfRE = regexp.MustCompile(`name="csrf" (?:value|content)="([^"]+)"`)

// csrf is the CSRF token a page carries.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", p.body)
	}
	return m[1]
}

// setCookie returns the response's Set-Cookie for name, as sent.
func (p page) setCookie(name string) string {
	for _, v := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// addUser stores a local account.
func (e *env) addUser(t *testing.T, email, password string, disabled bool) *store.User {
	t.Helper()
	h, err := identity.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{ID: "usr_" + identity.HashSecret(email)[:12], Email: email, PasswordHash: h, Disabled: disabled,
		Groups: []string{"staff"}, CreatedAt: e.clock.Now()}
	if err := e.st.Write(context.Background(), store.Put(u)); err != nil {
		t.Fatal(err)
	}
	return u
}

// signInPassword signs b in with a local account and returns the response.
func (b *browser) signInPassword(email, password, rd string) page {
	b.t.Helper()
	p := b.get(extURL + "/auth/sign_in?" + url.Values{"rd": {rd}}.Encode())
	return b.postForm(extURL+"/auth/password", url.Values{"email": {email}, "password": {password},
		"rd": {rd}, "csrf": {p.csrf(b.t)}})
}
