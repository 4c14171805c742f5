package e2e

// The real-browser harness: a Portier started with server.Start, an
// upstream, and Debian's Chromium driven by chromedp. The browser tests
// (TestBrowser*) live in browser_*_test.go.
//
// Trust: Chromium is started with --ignore-certificate-errors-spki-list
// naming the SHA-256 of the SPKI of the leaf certificate Portier serves (read
// over a TLS connection verified against Portier's root). Only that key is
// excused; any other certificate error still fails. With the key listed, the
// verifier reports no error at all, so pages are ordinary secure contexts:
// __Host- cookies are set and WebAuthn runs (Chromium refuses WebAuthn on
// pages with certificate errors, which --ignore-certificate-errors would
// leave flagged).

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/server"
	"github.com/portier/portier/store"
)

// browserTimeout bounds each browser test: browser start, every page and
// every ceremony.
const browserTimeout = 60 * time.Second

// requireChromium returns the Chromium to drive. It skips the test when
// there is none, and fails it when PORTIER_TEST_REQUIRE_ALL=1 (CI).
func requireChromium(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const msg = "real-browser test needs Chromium (/usr/bin/chromium or chromium in PATH; Debian: apt-get install chromium); none found"
	if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
		t.Fatal(msg + ", and PORTIER_TEST_REQUIRE_ALL=1 requires it")
	}
	t.Skip("skipping: " + msg)
	return ""
}

// site is a running Portier for a browser test, with an upstream app.
type site struct {
	t        *testing.T
	srv      *server.Server
	port     string
	logs     *lockedBuffer
	upstream *httptest.Server
	hits     atomic.Int64 // requests the upstream answered
	// tabTimeout bounds each new tab's whole life: browserTimeout unless
	// a long flow sets more.
	tabTimeout time.Duration
}

// startSite starts Portier on a free loopback port with the console at
// https://localhost:<port>. extra is appended to the base config, with
// {{port}} and {{upstream}} replaced.
func startSite(t *testing.T, extra string) *site { return startSiteAt(t, extra, time.Now) }

// startSiteAt is startSite on the given clock.
func startSiteAt(t *testing.T, extra string, clock func() time.Time) *site {
	t.Helper()
	s := &site{t: t, logs: &lockedBuffer{}}
	s.upstream = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, `<!doctype html><html><head><title>Upstream app</title></head><body>
<h1>hello from upstream</h1><p id="who">%s</p><p id="path">%s</p></body></html>`,
			html.EscapeString(r.Header.Get("X-Portier-Email")), html.EscapeString(r.URL.Path))
	}))
	t.Cleanup(s.upstream.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	yaml := fmt.Sprintf("external_url: https://localhost:%[1]s\nlisten: 127.0.0.1:%[1]s\nmetrics_listen: \"off\"\ndata_dir: %[2]s\n",
		s.port, filepath.Join(t.TempDir(), "data"))
	yaml += strings.NewReplacer("{{port}}", s.port, "{{upstream}}", s.upstream.URL).Replace(extra)
	cfg, pols := loadConfig(t, "browser.yaml", yaml)
	log := slog.New(slog.NewJSONHandler(s.logs, nil))
	s.srv, err = server.Start(context.Background(), server.Options{Config: cfg, Policies: pols, Log: log, Clock: clock,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.srv.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("Portier's log:\n%s", s.logs.String())
		}
	})
	return s
}

func (s *site) url(host, path string) string { return "https://" + host + ":" + s.port + path }

// console is the console's origin.
func (s *site) console() string { return s.url("localhost", "") }

// addUser creates a local account with a password, as an administrator
// would.
func (s *site) addUser(email, password string, groups ...string) {
	s.t.Helper()
	hash, err := identity.HashPassword(password)
	if err != nil {
		s.t.Fatal(err)
	}
	u := &store.User{ID: "usr_" + strings.ReplaceAll(strings.Split(email, "@")[0], ".", "_"), Email: email,
		Groups: groups, PasswordHash: hash, CreatedAt: time.Now()}
	if err := s.srv.Store().Write(context.Background(), store.Create(u)); err != nil {
		s.t.Fatal(err)
	}
}

// leafSPKI is the base64 SHA-256 of the SPKI of the certificate Portier
// serves, read over a connection verified against Portier's root.
func (s *site) leafSPKI() string {
	s.t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.CA().Roots()[0])
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+s.port,
		&tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		s.t.Fatalf("TLS to Portier: %v", err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// tab is one Chromium tab, bounded by browserTimeout.
type tab struct {
	t       *testing.T
	s       *site
	ctx     context.Context
	output  *lockedBuffer // Chromium's stdout and stderr
	console *lockedBuffer // the pages' console messages and exceptions
}

// newTab starts a fresh headless Chromium (its own profile under
// t.TempDir()) that trusts only s's server key and resolves every
// *.localhost name to loopback; extra options are added last.
func (s *site) newTab(exe string, extra ...chromedp.ExecAllocatorOption) *tab {
	t := s.t
	t.Helper()
	b := &tab{t: t, s: s, output: &lockedBuffer{}, console: &lockedBuffer{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors-spki-list", s.leafSPKI()),
		chromedp.WindowSize(1100, 900),
		chromedp.CombinedOutput(b.output),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	timeout := browserTimeout
	if s.tabTimeout > 0 {
		timeout = s.tabTimeout
	}
	ctx, cancel := context.WithTimeout(browserCtx, timeout)
	b.ctx = ctx
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("page console:\n%s", b.console.String())
			t.Logf("Chromium output (D-Bus noise left out):\n%s", tail(withoutDBus(b.output.String()), 4000))
		}
		cancel()
		cancelBrowser()
		cancelAlloc() // waits for Chromium to exit, before t.TempDir is removed
	})
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, tail(b.output.String(), 4000))
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			fmt.Fprintf(b.console, "%s %s:%d %s\n", m.Type, m.URL, m.Line+1, m)
		}
	}()
	return b
}

// fatalf fails the test with what the tab shows.
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	b.t.Fatalf("%s\n  at %s\n  page text:\n%s", fmt.Sprintf(format, args...), b.location(), indent(b.bodyText()))
}

// do runs actions, failing the test on an error.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// open navigates to u and waits for its load.
func (b *tab) open(u string) { b.t.Helper(); b.do("open "+u, chromedp.Navigate(u)) }

// location is the tab's URL ("" when it cannot be read).
func (b *tab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	return u
}

// bodyText is the page's visible text ("" when it cannot be read).
func (b *tab) bodyText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// waitUntil polls a JavaScript condition until it holds. A navigation in
// between (which replaces the page's JavaScript context) is retried.
func (b *tab) waitUntil(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete" && !!(`+cond+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.fatalf("waiting for %s: condition %s never held (last error: %v)", what, cond, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAt waits until the tab shows a page whose URL starts with prefix.
func (b *tab) waitAt(prefix string) {
	b.t.Helper()
	b.waitUntil("a page at "+prefix, "location.href.startsWith("+jsString(prefix)+")")
}

// text returns the visible text of the first element matching css
// (chromedp.Text). Right after a navigation chromedp's copy of the DOM can
// still name nodes of the page before ("No node with given id found"), so
// a failed query is retried for a while.
func (b *tab) text(css string) string {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
		cancel()
		if err == nil {
			return s
		}
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.fatalf("text of %s: %v", css, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// value returns the value of the first form field matching css.
func (b *tab) value(css string) string {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(css)))
		cancel()
		if err == nil {
			return s
		}
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.fatalf("value of %s: %v", css, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantText fails unless the visible text of css contains every one of want.
func (b *tab) wantText(css string, want ...string) string {
	b.t.Helper()
	got := b.text(css)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.fatalf("text of %s does not contain %q:\n%s", css, w, indent(got))
		}
	}
	return got
}

// signIn fills the sign-in page's password form as a person would and
// sends it. The page must be the sign-in page.
func (b *tab) signIn(email, password string) {
	b.t.Helper()
	b.waitAt(b.s.console() + "/auth/sign_in")
	b.wantText("h1", "Sign in")
	if csrf := b.value(`form[action="/auth/password"] input[name=csrf]`); len(csrf) < 32 {
		b.fatalf("the sign-in form carries no CSRF token (got %q)", csrf)
	}
	b.do("sign in as "+email,
		chromedp.SendKeys(chromedp.CSS(`form[action="/auth/password"] input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/auth/password"] input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form[action="/auth/password"] button[type=submit]`)),
	)
	b.waitUntil("the password form to be sent", `location.pathname !== "/auth/sign_in"`)
	b.refusedAsCrossSite("the sign-in form")
}

// refusedAsCrossSite fails the test when the page says Portier refused a
// same-origin form POST as cross-site.
func (b *tab) refusedAsCrossSite(what string) {
	b.t.Helper()
	if strings.Contains(b.bodyText(), "came from another site") {
		b.fatalf("PRODUCT BUG: Portier refused %s, posted from its own page, as cross-site. The sign-in pages send "+
			"Referrer-Policy: no-referrer, so Chromium sends \"Origin: null\" (with Sec-Fetch-Site: same-origin) on the "+
			"form POST, and console.sameOrigin refuses any Origin other than the console's", what)
	}
}

// screenshot saves a full-page PNG under t.TempDir() and checks it is one.
func (b *tab) screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatalf("screenshot: %v", err)
	}
	if len(png) < 1000 || string(png[:8]) != "\x89PNG\r\n\x1a\n" {
		b.fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	path := filepath.Join(b.t.TempDir(), name)
	if err := os.WriteFile(path, png, 0o600); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// docScreenshot takes a screenshot and, with PORTIER_UPDATE_SCREENSHOTS=1,
// saves it as docs/images/<name> for the guides.
func (b *tab) docScreenshot(name string) {
	b.t.Helper()
	data, err := os.ReadFile(b.screenshot(name))
	if err != nil {
		b.t.Fatal(err)
	}
	if os.Getenv("PORTIER_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "images", name), data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

// withoutDBus drops Chromium's complaints about the missing D-Bus.
func withoutDBus(s string) string {
	var kept []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "dbus") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// evalString evaluates a JavaScript expression to a string.
func (b *tab) evalString(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.fatalf("evaluate %s: %v", js, err)
	}
	return s
}
