package ca_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/ca"
)

func TestVerifyClient(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	chain := e.issue(t, "dev-1")
	leaf := chain[0]

	id, serial, err := e.ca.VerifyClient(chain, e.clock.Now())
	if err != nil || id != "dev-1" || serial != leaf.SerialNumber.String() {
		t.Fatalf("VerifyClient = %q, %q, %v", id, serial, err)
	}
	if _, _, err := e.ca.VerifyClient(chain[:1], e.clock.Now()); err != nil {
		t.Errorf("leaf without the intermediate: %v", err)
	}

	foreign := newEnv(t, nil).issue(t, "dev-1")
	server, err := e.ca.IssueServerTLS(ctx, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		chain []*x509.Certificate
		now   time.Time
		want  error
	}{
		{"no certificate", nil, e.clock.Now(), ca.ErrUntrusted},
		{"foreign CA", foreign, e.clock.Now(), ca.ErrUntrusted},
		// The foreign intermediate must not be accepted from the client either.
		{"foreign leaf with our intermediate", []*x509.Certificate{foreign[0], chain[1]}, e.clock.Now(), ca.ErrUntrusted},
		{"expired", chain, leaf.NotAfter.Add(time.Second), ca.ErrExpired},
		{"not yet valid", chain, leaf.NotBefore.Add(-time.Second), ca.ErrExpired},
		{"server certificate", []*x509.Certificate{server.Leaf}, e.clock.Now(), ca.ErrUntrusted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := e.ca.VerifyClient(tc.chain, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("VerifyClient = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("revoked", func(t *testing.T) {
		if err := e.ca.Revoke(ctx, serial, ca.ReasonKeyCompromise, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.ca.VerifyClient(chain, e.clock.Now()); !errors.Is(err, ca.ErrRevoked) {
			t.Fatalf("VerifyClient = %v, want ErrRevoked", err)
		}
	})
}

// The server certificate works for a real HTTPS listener on localhost names.
func TestIssueServerTLS(t *testing.T) {
	e := newEnv(t, func(o *ca.Options) { o.ServerCertLifetime = 48 * time.Hour })
	crt, err := e.ca.IssueServerTLS(context.Background(), append(ca.DefaultServerHosts(), "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := crt.Leaf.NotAfter.Sub(e.clock.Now()); got != 48*time.Hour {
		t.Errorf("server certificate lifetime = %v", got)
	}
	if len(crt.Leaf.ExtKeyUsage) != 1 || crt.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("EKU = %v", crt.Leaf.ExtKeyUsage)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{crt}}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(e.ca.RootsPEM())
	for _, name := range []string{"localhost", "demo.localhost", "127.0.0.1"} {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: name}}}
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		resp.Body.Close()
	}

	ipOnly, err := e.ca.IssueServerTLS(context.Background(), []string{"::1"})
	if err != nil || len(ipOnly.Leaf.IPAddresses) != 1 || len(ipOnly.Leaf.DNSNames) != 0 {
		t.Errorf("IP-only server certificate: %v", err)
	}
	for _, bad := range [][]string{nil, {"bad host"}, {"-x.example"}, {"a..b"}} {
		if _, err := e.ca.IssueServerTLS(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "host") {
			t.Errorf("IssueServerTLS(%q) = %v, want a host name error", bad, err)
		}
	}
}
