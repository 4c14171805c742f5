package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store/pgstore/pgtest"
)

// procConfig is one replica run as its own process: the load balancer's
// external URL, its own listener and data dir, the shared store.
const procConfig = `
external_url: https://localhost:%[1]s
listen: 127.0.0.1:%[2]s
metrics_listen: "off"
data_dir: %[3]q
store: %[4]q
max_staleness: 2s
log:
  level: warn
enrollment:
  wipe_enabled: true
# The kill test is about one request making one action: the second
# person's approval is tested in console/ and e2e/browser_approvals_test.go.
approvals:
  disabled: true
`

// procEnv is the whole environment of a replica process: the shared CA
// key password and the owner token, nothing of the test's.
var procEnv = []string{"PATH=/usr/bin:/bin", "PORTIER_CA_KEY_PASSWORD=correct horse battery staple, twice over",
	"PORTIER_BOOTSTRAP_TOKEN=" + clusterToken}

// buildPortier builds cmd/portier once into a temporary directory. Without
// a Go toolchain the test is skipped, unless PORTIER_TEST_REQUIRE_ALL=1.
func buildPortier(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
			t.Fatalf("PORTIER_TEST_REQUIRE_ALL=1 but no Go toolchain to build the portier binary: %v", err)
		}
		t.Skipf("skipping: building the portier binary needs the Go toolchain: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "portier")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/portier")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/portier: %v\n%s", err, out)
	}
	return bin
}

// procCluster is n replicas of the real binary as OS processes on one
// PostgreSQL schema, behind a round-robin TCP load balancer.
type procCluster struct {
	t        *testing.T
	bin, dsn string
	lb       *roundRobin
	port     string // the load balancer's, the external URL's
	replicas []*replica
	root     *x509.Certificate
	rootFP   string
}

// replica is one `portier serve` process, restartable on the same address.
type replica struct {
	name, port, cfg, logPath string
	mu                       sync.Mutex
	cmd                      *exec.Cmd
	done                     chan struct{}
}

func newProcCluster(t *testing.T, n int) *procCluster {
	t.Helper()
	pc := &procCluster{t: t, bin: buildPortier(t), dsn: pgtest.DSN(t), lb: newRoundRobin(t)}
	pc.port = pc.lb.port()
	dir := t.TempDir()
	var backends []string
	for i := range n {
		r := &replica{name: fmt.Sprintf("r%d", i), port: freeLowPort(t)}
		r.cfg = filepath.Join(dir, r.name+".yaml")
		r.logPath = filepath.Join(dir, r.name+".log")
		yaml := fmt.Sprintf(procConfig, pc.port, r.port, filepath.Join(dir, r.name+"-data"), pc.dsn)
		if err := os.WriteFile(r.cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		pc.replicas = append(pc.replicas, r)
		backends = append(backends, "127.0.0.1:"+r.port)
	}
	pc.lb.backends = backends
	t.Cleanup(func() {
		for _, r := range pc.replicas {
			r.kill()
		}
	})
	// The first replica creates the schema and the CA alone; the others
	// join once it serves.
	for _, r := range pc.replicas {
		pc.start(r)
		pc.waitReady(r, 60*time.Second)
	}
	pc.fetchRoot()
	return pc
}

// freeLowPort is a port free now, below the ephemeral range, so that a
// restarted replica can bind it again (see cli's freePort).
func freeLowPort(t *testing.T) string {
	t.Helper()
	for range 200 {
		port := 20000 + mathrand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return fmt.Sprint(port)
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}

// start runs the replica's process; its output is appended to its log.
func (pc *procCluster) start(r *replica) {
	pc.t.Helper()
	f, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		pc.t.Fatal(err)
	}
	cmd := exec.Command(pc.bin, "serve", "--config", r.cfg)
	cmd.Env, cmd.Stdout, cmd.Stderr = procEnv, f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		pc.t.Fatalf("start %s: %v", r.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
}

// kill sends SIGKILL to the replica's process and reaps it.
func (r *replica) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// exited reports whether the replica's process has ended.
func (r *replica) exited() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// logTail is the end of the replica's output, for failure messages.
func (r *replica) logTail() string {
	b, _ := os.ReadFile(r.logPath)
	return string(b[max(0, len(b)-3000):])
}

// waitReady waits for the replica's /readyz to answer 200.
func (pc *procCluster) waitReady(r *replica, limit time.Duration) time.Duration {
	pc.t.Helper()
	cl := pc.client(r, true)
	start := time.Now()
	for deadline := start.Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r.exited() {
			pc.t.Fatalf("replica %s exited while starting:\n%s", r.name, r.logTail())
		}
		resp, err := cl.Get("https://localhost:" + pc.port + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return time.Since(start)
		}
	}
	pc.t.Fatalf("replica %s not ready after %v:\n%s", r.name, limit, r.logTail())
	return 0
}

// fetchRoot reads the Portier root from the first replica and pins it.
func (pc *procCluster) fetchRoot() {
	t := pc.t
	resp, err := pc.client(pc.replicas[0], true).Get("https://localhost:" + pc.port + "/ca/roots.pem")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("GET /ca/roots.pem = %d %.200s", resp.StatusCode, b)
	}
	if pc.root, err = x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pc.root.Raw)
	pc.rootFP = hex.EncodeToString(sum[:])
}

// client talks to one replica directly, a new connection per request,
// trusting the pinned root (or nothing yet, before it is known).
func (pc *procCluster) client(r *replica, insecure bool) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: insecure} // #nosec G402 -- only until the root is fetched
	if !insecure {
		pool := x509.NewCertPool()
		pool.AddCert(pc.root)
		cfg.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   cfg,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, _ := net.SplitHostPort(addr); host == "localhost" || strings.HasSuffix(host, ".localhost") {
				addr = "127.0.0.1:" + r.port
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
}

// url is an address on the load balancer (the external URL).
func (pc *procCluster) url(path string) string { return "https://localhost:" + pc.port + path }
