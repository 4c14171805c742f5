package deploy

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The compose file's haproxy.cfg, run by a real HAProxy in front of a real
// Portier and of a replica that is up but not ready (503 on /readyz):
// TLS reaches Portier untouched (the client verifies Portier's own
// certificate through the balancer), the health check sends Portier's
// host, and the not-ready replica stops getting connections. Needs Debian's
// haproxy: skips without it, fails with PORTIER_TEST_REQUIRE_ALL=1.
func TestComposeHAProxyPassesTLSAndDropsUnreadyReplicas(t *testing.T) {
	bin := haproxyBin(t)
	const host = "portier.localhost"
	srv := startPortier(t, "external_url: https://"+host+":8443\n", map[string]string{"listen": freeAddr(t), "metrics-listen": "off"})

	var mu sync.Mutex
	var checkHosts []string
	unready := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		checkHosts = append(checkHosts, r.Method+" "+r.URL.Path+" "+r.Host)
		mu.Unlock()
		http.Error(w, "store unreachable", http.StatusServiceUnavailable)
	}))
	unready.Config.ErrorLog = log.New(io.Discard, "", 0) // the client's failed verifications
	unready.StartTLS()
	defer unready.Close()

	lbAddr := startHAProxy(t, bin, host, srv.Addr(), strings.TrimPrefix(unready.URL, "https://"))

	roots := x509.NewCertPool()
	roots.AddCert(srv.CA().Roots()[0])
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, // one connection per request: round robin per connection
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host},
	}}
	get := func() error {
		req, _ := http.NewRequest("GET", "https://"+lbAddr+"/readyz", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &statusError{resp.StatusCode}
		}
		return nil
	}
	// The unready replica is taken out after two failed checks; until then
	// every other connection reaches it and fails verification. Wait for
	// 10 successes in a row.
	deadline := time.Now().Add(60 * time.Second)
	ok := 0
	var last error
	for ok < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("no 10 connections in a row through the balancer reached Portier; last error: %v", last)
		}
		if last = get(); last != nil {
			ok = 0
			time.Sleep(200 * time.Millisecond)
			continue
		}
		ok++
	}
	mu.Lock()
	defer mu.Unlock()
	if len(checkHosts) == 0 || checkHosts[0] != "GET /readyz "+host {
		t.Errorf("health checks seen by the unready replica: %v, want GET /readyz %s", checkHosts, host)
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// haproxyBin finds haproxy; without it the test skips, or fails when
// PORTIER_TEST_REQUIRE_ALL=1.
func haproxyBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("haproxy is not installed and PORTIER_TEST_REQUIRE_ALL=1 (.ci/run installs Debian's haproxy)")
		}
		t.Skip("haproxy is not installed (apt-get install haproxy): the load balancer config is not run here")
	}
	return bin
}

// startHAProxy runs the compose file's haproxy.cfg with its listener and
// its two servers moved to loopback addresses, and returns its address.
func startHAProxy(t *testing.T, bin, host, portier1, portier2 string) string {
	t.Helper()
	lbAddr := freeAddr(t)
	b, err := os.ReadFile("compose/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		"bind :8443", "bind "+lbAddr,
		"server portier1 portier1:8443", "server portier1 "+portier1,
		"server portier2 portier2:8443", "server portier2 "+portier2,
	).Replace(string(b))
	if cfg == string(b) || strings.Contains(cfg, ":8443\n") {
		t.Fatalf("haproxy.cfg no longer has the lines this test rewrites:\n%s", cfg)
	}
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PORTIER_HOST="+host)
	check := exec.Command(bin, "-c", "-f", file)
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	lb := exec.Command(bin, "-db", "-f", file)
	lb.Env = env
	if err := lb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lb.Process.Kill(); _ = lb.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", lbAddr)
		if err == nil {
			c.Close()
			return lbAddr
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not listen on %s: %v", lbAddr, err)
		}
	}
}
