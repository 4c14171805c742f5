package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/portier/portier/acme/pebbletest"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestACMECertificatesForConsoleAndRoutes runs Portier with an acme
// section against pebble: the console host and the route host get
// certificates a client trusting only pebble's root accepts, the agent
// still gets Portier's CA's certificate, and device certificates are
// still asked for.
func TestACMECertificatesForConsoleAndRoutes(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	srv := startACMEServer(t, p, "", "")
	addr := srv.Addr()
	_, port, _ := net.SplitHostPort(addr)
	p.TLSRelay.Forward(addr)
	serveACME(t, srv)

	expiry := acmeMetrics(srv.tls)[0]
	var first time.Time
	for _, host := range []string{"portier.example.com", "wiki.example.com"} {
		if l := waitACME(t, srv, host); first.IsZero() || l.NotAfter.Before(first) {
			first = l.NotAfter
		}
	}
	if got := metricValue(t, expiry); got != float64(first.Unix()) {
		t.Errorf("portier_certificate_not_after_seconds{cert=\"acme\"} = %v, want %v", got, first.Unix())
	}
	if got := metricValue(t, acmeMetrics(srv.tls)[1]); got != 2 {
		t.Errorf("portier_acme_certificates_obtained_total = %v, want 2", got)
	}

	// A browser on an unmanaged device: it trusts pebble's root, not
	// Portier's.
	asked := false
	browser := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: p.Roots(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked = true
			return &tls.Certificate{}, nil
		}},
	}}
	resp, err := browser.Get("https://portier.example.com:" + port + "/healthz")
	if err != nil {
		t.Fatalf("console host with only pebble's root trusted: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
	resp, err = browser.Get("https://wiki.example.com:" + port + "/")
	if err != nil {
		t.Fatalf("route host with only pebble's root trusted: %v", err)
	}
	resp.Body.Close()
	if !asked {
		t.Error("the listener no longer asks for a device certificate")
	}

	// The agent trusts only Portier's root and marks its handshake.
	roots := x509.NewCertPool()
	roots.AddCert(srv.CA().Roots()[0])
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "portier.example.com", RootCAs: roots,
		NextProtos: []string{"h2", "http/1.1", agentwire.ALPN}})
	if err != nil {
		t.Fatalf("the agent's handshake: %v", err)
	}
	c.Close()

	// A browser that trusts only pebble's root is refused a host outside
	// the ACME set (here an IP address): it never gets pebble's trust
	// for a certificate of Portier's CA.
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "127.0.0.1", RootCAs: p.Roots()}); err == nil {
		c.Close()
		t.Error("an address outside the ACME set verified against pebble's root")
	}
	if n := p.Orders(); n != 2 {
		t.Errorf("pebble finalized %d orders, want 2 (console and route host)", n)
	}
}

const acmeTestConfig = `
external_url: https://portier.example.com:%[1]s
listen: %[2]s
metrics_listen: "off"
data_dir: %[3]s
store: %[6]q
acme:
  directory_url: %[4]s
  email: ops@example.com
  agree_terms: true
  ca_root_file: %[5]s
routes:
  - from: https://wiki.example.com:%[1]s
    to: http://127.0.0.1:9
    policy: anyone
policies:
  - id: anyone
    allow:
      or:
        - device: {trust: {gte: untrusted}}
`

// startACMEServer starts (without serving) a Portier whose acme section
// points at pebble, on the embedded store (dsn "") or on PostgreSQL; its
// external URL's port is port ("": its own listener's).
func startACMEServer(t *testing.T, p *pebbletest.Server, dsn, port string) *Server {
	t.Helper()
	addr := freeAddr(t)
	if port == "" {
		_, port, _ = net.SplitHostPort(addr)
	}
	yaml := fmt.Sprintf(acmeTestConfig, port, addr, filepath.Join(t.TempDir(), "data"), p.DirectoryURL, p.RootFile, dsn)
	return startYAML(t, yaml, map[string]string{"PORTIER_CA_KEY_PASSWORD": "correct horse battery staple, twice over"})
}

// serveACME serves srv until the test ends.
func serveACME(t *testing.T, srv *Server) {
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })
}

// waitACME waits until srv has an ACME certificate for host.
func waitACME(t *testing.T, srv *Server, host string) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if l := srv.ACME().Leaf(host); l != nil {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ACME certificate for %s after 30s", host)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestACMEReplicasShareCertificates runs two replicas on one PostgreSQL
// store, both reachable by the CA's validations (round robin): each host's
// certificate is ordered once and served by both, also for a route added
// on one replica while they run.
func TestACMEReplicasShareCertificates(t *testing.T) {
	dsn := pgtest.DSN(t)
	p := pebbletest.Start(t, pebbletest.Options{})
	a := startACMEServer(t, p, dsn, "")
	_, port, _ := net.SplitHostPort(a.Addr())
	b := startACMEServer(t, p, dsn, port)
	p.TLSRelay.Forward(a.Addr(), b.Addr())
	serveACME(t, a)
	serveACME(t, b)
	hosts := []string{"portier.example.com", "wiki.example.com"}
	for _, h := range hosts {
		if la, lb := waitACME(t, a, h), waitACME(t, b, h); la.SerialNumber.Cmp(lb.SerialNumber) != 0 {
			t.Errorf("%s: the replicas serve different certificates", h)
		}
	}
	_, err := a.rules.Put(context.Background(), rules.Actor{Name: "user:ops@example.com"}, rules.Change{Type: store.RuleRoute, ID: "new",
		Body: []byte("from: https://new.example.com:" + port + "\nto: http://127.0.0.1:9\npolicy: anyone\n")})
	if err != nil {
		t.Fatal(err)
	}
	if la, lb := waitACME(t, a, "new.example.com"), waitACME(t, b, "new.example.com"); la.SerialNumber.Cmp(lb.SerialNumber) != 0 {
		t.Error("new.example.com: the replicas serve different certificates")
	}
	if n := p.Orders(); n != 3 {
		t.Errorf("pebble finalized %d orders for 3 hosts on 2 replicas, want 3", n)
	}
	if got := a.ACME().Obtained() + b.ACME().Obtained(); got != 3 {
		t.Errorf("obtained: a %d + b %d, want 3", a.ACME().Obtained(), b.ACME().Obtained())
	}
	for _, srv := range []*Server{a, b} {
		c, err := tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: "new.example.com", RootCAs: p.Roots()})
		if err != nil {
			t.Fatalf("new.example.com on %s with only pebble's root trusted: %v", srv.Addr(), err)
		}
		c.Close()
	}
}

// metricValue is the value of a gauge or counter function.
func metricValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}
