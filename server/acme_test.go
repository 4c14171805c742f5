package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/portier/portier/acme/pebbletest"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/config"
)

// TestACMECertificatesForConsoleAndRoutes runs Portier with an acme
// section against pebble: the console host and the route host get
// certificates a client trusting only pebble's root accepts, the agent
// still gets Portier's CA's certificate, and device certificates are
// still asked for.
func TestACMECertificatesForConsoleAndRoutes(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	yaml := fmt.Sprintf(`
external_url: https://portier.example.com:%[1]s
listen: %[2]s
metrics_listen: "off"
data_dir: %[3]s
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
`, port, addr, filepath.Join(t.TempDir(), "data"), p.DirectoryURL, p.RootFile)
	cfg, err := config.Parse("acme.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pols, err := CompilePolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(context.Background(), Options{Config: cfg, Policies: pols, Log: slog.New(slog.DiscardHandler),
		Clock: time.Now, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	p.TLSRelay.Forward(srv.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })

	for _, host := range []string{"portier.example.com", "wiki.example.com"} {
		deadline := time.Now().Add(30 * time.Second)
		for srv.ACME().Leaf(host) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no ACME certificate for %s after 30s", host)
			}
			time.Sleep(100 * time.Millisecond)
		}
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
