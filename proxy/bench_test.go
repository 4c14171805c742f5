package proxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
	"github.com/prometheus/client_golang/prometheus"
)

// discard is a ResponseWriter that keeps nothing, reused across requests.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkServeAllowed is Portier's own work for an allowed request with a
// session cookie and a device certificate, 100,000 devices in the store:
// route match, cookie parsing and stripping, the session and device
// (cached per connection), the policy, the decision metrics, the cached
// assertion and the re-evaluation registration, up to the hand-over to the
// route's handler: here a built-in one that writes nothing (so no upstream
// and no TLS), which, like the demo app, gets the identity headers on the
// request itself. The request's header map is rebuilt each iteration, as a
// server would parse it.
func BenchmarkServeAllowed(b *testing.B) {
	serve := allowedRequest(b, newBenchEnv(b), nil)
	for b.Loop() {
		serve()
	}
}

// BenchmarkServeAllowedRollout is BenchmarkServeAllowed with a rollout
// plan of three waves (groups, departments, everyone) and a coexistence
// deadline on another route: the person's waves are looked up on each
// request.
func BenchmarkServeAllowedRollout(b *testing.B) {
	e := newBenchEnv(b)
	start := e.clk.Now()
	p := &store.RolloutPlan{ID: "mdm", Name: "MDM", Policies: []string{"staff"}, Waves: []store.RolloutWave{
		{Name: "pilot", Groups: []string{"it"}, Start: start},
		{Name: "sales", Departments: []string{"sales"}, Start: start.AddDate(0, 0, 14)},
		{Name: "rest", Everyone: true, Start: start.AddDate(0, 0, 28)},
	}, Coexistence: &store.Coexistence{Deadline: start.AddDate(0, 2, 0), Routes: []string{"other"}}}
	if err := e.st.Write(context.Background(), store.Put(p)); err != nil {
		b.Fatal(err)
	}
	x := rollout.Build(e.st)
	serve := allowedRequest(b, e, nil, func(p *proxy.Proxy) { p.SetRollout(x) })
	for b.Loop() {
		serve()
	}
}

// newBenchEnv is the proxy benchmarks' store: 100,000 devices.
func newBenchEnv(b *testing.B) *env {
	e := newEnv(b)
	if err := storetest.PutLaptops(context.Background(), e.st, 100_000, e.clk.Now()); err != nil {
		b.Fatal(err)
	}
	return e
}

// allowedRequest is BenchmarkServeAllowed's proxy and request on e, with
// rec recording (nil: recording off); serve handles the request once.
func allowedRequest(b *testing.B, e *env, rec *proxy.Recorder, adjust ...func(*proxy.Proxy)) (serve func()) {
	cookie, _ := e.session("ann@example.com", "staff")
	cert := e.device("dev_ann", store.TrustHigh, store.OwnershipCorporate)
	var chain []*x509.Certificate
	for _, raw := range cert.Certificate {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			b.Fatal(err)
		}
		chain = append(chain, c)
	}
	// A proxy as serve configures it by default: allows are not logged.
	p := proxy.New(proxy.Options{Store: e.st, CA: e.ca, Signer: e.signer, Clock: e.clk.Now, Log: slog.New(slog.DiscardHandler),
		ExternalURL: "https://portier.localhost", Metrics: proxy.NewMetrics(prometheus.NewRegistry()), Recorder: rec})
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if err := p.Load([]proxy.Route{{Route: config.Route{From: "https://wiki.localhost", To: "http://127.0.0.1:9", Policy: "staff"}, Handler: noop}}, e.pols); err != nil {
		b.Fatal(err)
	}
	for _, f := range adjust {
		f(p)
	}
	srv := &http.Server{}
	p.Attach(srv)
	conn, peer := net.Pipe()
	b.Cleanup(func() { conn.Close(); peer.Close() })
	ctx := srv.ConnContext(context.Background(), conn)
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://wiki.localhost/page", nil)
	req.RemoteAddr = "192.0.2.10:51000"
	req.TLS = &tls.ConnectionState{PeerCertificates: chain}
	cookieHeader := []string{identity.SessionCookie + "=" + cookie + "; theme=dark"}
	w := &discard{h: http.Header{}}
	serve = func() {
		req.Header = http.Header{"Cookie": cookieHeader, "Accept": {"text/html"}, "User-Agent": {"bench"}}
		clear(w.h)
		p.ServeHTTP(w, req)
	}
	serve()
	if req.Header.Get("X-Portier-Device") != "dev_ann" {
		b.Fatalf("the request was not allowed with the device: %v", req.Header)
	}
	return serve
}
