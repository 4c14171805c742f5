package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/prometheus/client_golang/prometheus"
)

// benchPage is a 32 KiB application page: a head with a stylesheet and
// scripts, then a long body.
var benchPage = func() string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>Inbox</title>` +
		`<link rel="stylesheet" href="/app.css"><script src="/app.js" defer></script></head><body class="app">`)
	for i := 0; b.Len() < 32<<10; i++ {
		b.WriteString(`<tr><td class="from">colleague` + strconv.Itoa(i) + `@example.com</td><td>Quarterly numbers, draft ` +
			strconv.Itoa(i) + `</td><td><time>2026-12-01</time></td></tr>` + "\n")
	}
	b.WriteString("</body></html>")
	return b.String()
}()

// BenchmarkProxyHTMLWatermark is the proxy forwarding a 32 KiB HTML page
// from a real upstream over loopback HTTP, through the same upstream and
// policy with and without the watermark restriction (which also adds the
// banner, amends the page's CSP and streams the page through the
// injector). Each iteration is one request of each; the time per request
// of each and their ratio are reported (docs/performance.md).
func BenchmarkProxyHTMLWatermark(b *testing.B) {
	e := newEnv(b)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'")
		w.Header().Set("Content-Length", strconv.Itoa(len(benchPage)))
		_, _ = io.WriteString(w, benchPage)
	}))
	b.Cleanup(up.Close)
	pols, err := policy.Parse("bench.yaml", []byte(`
policies:
  - {id: plain, allow: {and: [{group: {has: staff}}]}}
  - {id: marked, allow: {and: [{group: {has: staff}}]}, restrictions: [watermark]}
`))
	if err != nil {
		b.Fatal(err)
	}
	p := proxy.New(proxy.Options{Store: e.st, CA: e.ca, Signer: e.signer, Clock: e.clk.Now, Log: slog.New(slog.DiscardHandler),
		ExternalURL: "https://portier.localhost", Metrics: proxy.NewMetrics(prometheus.NewRegistry())})
	if err := p.Load([]proxy.Route{
		{Route: config.Route{From: "https://plain.localhost", To: up.URL, Policy: "plain"}},
		{Route: config.Route{From: "https://marked.localhost", To: up.URL, Policy: "marked"}},
	}, pols); err != nil {
		b.Fatal(err)
	}
	// Alternate the two routes request by request, so that both see the
	// same machine (this one is shared and noisy) and the ratio holds.
	type target struct {
		req    *http.Request
		cookie []string
		spent  time.Duration
	}
	var ts [2]*target
	for i, host := range []string{"plain.localhost", "marked.localhost"} {
		cookie, _ := e.sessionOn(host, "ann@example.com", "staff")
		req, _ := http.NewRequestWithContext(context.Background(), "GET", "https://"+host+"/inbox", nil)
		req.RemoteAddr = "192.0.2.10:51000"
		ts[i] = &target{req: req, cookie: []string{identity.SessionCookie + "=" + cookie}}
	}
	w := &countingWriter{h: http.Header{}}
	b.SetBytes(2 * int64(len(benchPage)))
	for b.Loop() {
		for _, t := range ts {
			t.req.Header = http.Header{"Cookie": t.cookie, "Accept": {"text/html"}, "Accept-Encoding": {"gzip"}, "User-Agent": {"bench"}}
			clear(w.h)
			w.n, w.status = 0, 0
			start := time.Now()
			p.ServeHTTP(w, t.req)
			t.spent += time.Since(start)
			if w.status != 200 || w.n < len(benchPage) {
				b.Fatalf("%s: status %d, %d bytes", t.req.Host, w.status, w.n)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(ts[0].spent.Nanoseconds())/n, "plain-ns/req")
	b.ReportMetric(float64(ts[1].spent.Nanoseconds())/n, "watermark-ns/req")
	b.ReportMetric(float64(ts[1].spent)/float64(ts[0].spent), "watermark/plain")
}

// countingWriter is a ResponseWriter that counts what it is given.
type countingWriter struct {
	h      http.Header
	n      int
	status int
}

func (c *countingWriter) Header() http.Header { return c.h }
func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = 200
	}
	c.n += len(p)
	return len(p), nil
}
func (c *countingWriter) WriteHeader(s int) { c.status = s }
