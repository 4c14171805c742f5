package cli

import (
	"bytes"
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
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// instance is a `portier serve` running in-process, as a user would run it.
type instance struct {
	t              *testing.T
	port           string
	dataDir        string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int
	client         *http.Client
	rootPEM        []byte
}

// freePort returns a port that is free now, for a portier process the test
// starts. It is chosen below Linux's ephemeral range (32768 and up): a port
// the kernel handed out and took back could be given again at once as the
// source port of some outgoing connection (to PostgreSQL, say), and the
// process would then fail to bind it. A port is handed out once per test
// binary (givenPorts): instances started side by side, which bind only
// later, never get the same one.
func freePort(t *testing.T) string {
	t.Helper()
	for range 200 {
		port := 20000 + mathrand.IntN(12000)
		if _, taken := givenPorts.LoadOrStore(port, true); taken {
			continue
		}
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

// givenPorts are the ports freePort handed out in this test binary.
var givenPorts sync.Map

// envFrom is an environment of m only. Agent commands leave the machine's
// browsers alone (PORTIER_NO_BROWSER=1) unless m says otherwise.
func envFrom(m map[string]string) Env {
	return func(k string) string {
		if v, ok := m[k]; ok || k != "PORTIER_NO_BROWSER" {
			return v
		}
		return "1"
	}
}

// start runs `portier serve` with a data dir, free ports and env, and
// returns once it answers /healthz (or fails the test if it exits).
func start(t *testing.T, dataDir string, env map[string]string, extra ...string) *instance {
	t.Helper()
	in := launch(t, dataDir, env, extra...)
	waitHealthy(t, in)
	return in
}

// waitHealthy waits until in answers /healthz over TLS trusted as a user
// would trust it, or fails the test if it exits.
func waitHealthy(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for time.Now().Before(deadline) {
		select {
		case code := <-in.done:
			in.done <- code
			t.Fatalf("portier serve exited with %d:\n%s\n%s", code, in.stdout, in.stderr)
		default:
		}
		if in.client == nil {
			// What a user does: fetch the root, check it against the
			// fingerprint Portier printed, then trust it.
			if fp := bannerFingerprint(in.stdout.String()); fp != "" {
				if resp, err := insecure.Get(in.url("/ca/roots.pem")); err == nil {
					pemBytes, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if got := pemFingerprint(t, pemBytes); got != fp {
						t.Fatalf("roots.pem fingerprint %s != printed %s", got, fp)
					}
					in.client = clientTrusting(t, pemBytes)
					in.rootPEM = pemBytes
				}
			}
		}
		if in.client != nil {
			if resp, err := in.client.Get(in.url("/healthz")); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("portier serve did not become healthy:\n%s\n%s", in.stdout, in.stderr)
}

// bannerFingerprint is the root fingerprint printed at start, "" if not yet.
func bannerFingerprint(stdout string) string {
	_, rest, ok := strings.Cut(stdout, "Root fingerprint:   SHA256 ")
	if !ok {
		return ""
	}
	fp, _, _ := strings.Cut(rest, "\n")
	return strings.TrimSpace(fp)
}

func pemFingerprint(t *testing.T, b []byte) string {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("roots.pem is not a PEM certificate: %q", b)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.IsCA {
		t.Fatal("the root is not a CA certificate")
	}
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// launch runs `portier serve` without waiting for it.
func launch(t *testing.T, dataDir string, env map[string]string, extra ...string) *instance {
	t.Helper()
	return launchOn(t, freePort(t), dataDir, env, extra...)
}

// launchOn is launch on a given port.
func launchOn(t *testing.T, port, dataDir string, env map[string]string, extra ...string) *instance {
	t.Helper()
	in := &instance{t: t, port: port, dataDir: dataDir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1)}
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:" + in.port,
		"--external-url", "https://localhost:" + in.port, "--metrics-listen", "127.0.0.1:" + freePort(t)}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- Run(ctx, args, envFrom(env), in.stdout, in.stderr) }()
	t.Cleanup(func() { in.stop() })
	return in
}

func (in *instance) url(path string) string { return "https://localhost:" + in.port + path }

// stop asks the server to shut down and returns its exit code.
func (in *instance) stop() int {
	in.cancel()
	select {
	case code := <-in.done:
		in.done <- code
		return code
	case <-time.After(40 * time.Second):
		in.t.Fatal("portier serve did not stop within 40s")
		return -1
	}
}

// wait returns the exit code of a server expected to exit by itself.
func (in *instance) wait() int {
	select {
	case code := <-in.done:
		in.done <- code
		return code
	case <-time.After(30 * time.Second):
		in.t.Fatalf("portier serve did not exit:\n%s", in.stderr)
		return -1
	}
}

func clientTrusting(t *testing.T, rootPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("root.crt is not PEM: %q", rootPEM)
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
	}
}

func (in *instance) do(method, path, token, body string) (*http.Response, string) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.url(path), strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}
