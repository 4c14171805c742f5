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
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startYAML starts (without serving) a server from config YAML, as
// portier serve does (parse, defaults, validate, compile), with env as its
// environment.
func startYAML(t *testing.T, yaml string, env map[string]string) *Server {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
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
		Clock: time.Now, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestGracefulShutdownFinishesInFlight starts a server with a route to a
// slow upstream, begins a request, asks the server to stop, and checks the
// request still completes before Serve returns.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(700 * time.Millisecond)
		io.WriteString(w, "finished")
	}))
	defer slow.Close()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	yaml := fmt.Sprintf(`
external_url: https://localhost:%s
listen: %s
metrics_listen: "off"
data_dir: %s
routes:
  - from: https://slow.localhost:%s
    to: %s
    policy: anyone
policies:
  - id: anyone
    allow:
      or:
        - device: {trust: {gte: untrusted}}
`, port, addr, filepath.Join(t.TempDir(), "data"), port, slow.URL)
	srv := startYAML(t, yaml, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	// A console session and the route session handed off from it: a
	// session counts only on the host it was issued for.
	_, parentID := identity.NewSessionSecret()
	cookie, id := identity.NewSessionSecret()
	now := time.Now()
	parent := &store.Session{ID: parentID, UserID: "usr_1", Email: "a@example.com",
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	child := *parent
	child.ID, child.ParentID, child.Host = id, parentID, "slow.localhost"
	if err := srv.Store().Write(context.Background(), store.Put(parent), store.Put(&child)); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.CA().Roots()[0])
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "slow.localhost"}}}
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	req.Host = "slow.localhost:" + port
	req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: cookie})
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{body: string(b)}
	}()
	time.Sleep(200 * time.Millisecond) // the request is now in flight
	cancel()
	r := <-got
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request during shutdown: %q, %v", r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := os.Stat(filepath.Join(srv.cfg.DataDir, "portier.db")); err != nil {
		t.Error(err)
	}
	if _, err := client.Get("https://" + addr + "/"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("after shutdown the listener still answers: %v", err)
	}
}
