package cli

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store/pgstore/pgtest"
)

func pgEnv(t *testing.T, dsn string) map[string]string {
	return map[string]string{
		"PORTIER_STORE":           dsn,
		"PORTIER_CA_KEY_PASSWORD": "correct horse battery staple, twice over",
		"PORTIER_BOOTSTRAP_TOKEN": strings.Repeat("b", 40),
	}
}

func TestPostgresTwoProcessesShareState(t *testing.T) {
	env := pgEnv(t, pgtest.DSN(t))
	a := start(t, t.TempDir(), env)
	b := start(t, t.TempDir(), env)
	if fa, fb := bannerFingerprint(a.stdout.String()), bannerFingerprint(b.stdout.String()); fa != fb {
		t.Fatalf("the two processes have different roots: %s and %s", fa, fb)
	}
	resp, body := a.do("POST", "/api/v1/tokens", env["PORTIER_BOOTSTRAP_TOKEN"], `{"name":"made on A","role":"admin"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create on A = %d %s", resp.StatusCode, body)
	}
	written := time.Now()
	var created struct{ Secret string }
	_ = json.Unmarshal([]byte(body), &created)
	for {
		resp, body := b.do("GET", "/api/v1/whoami", created.Secret, "")
		if resp.StatusCode == 200 {
			if !strings.Contains(body, `"role":"admin"`) {
				t.Errorf("whoami on B = %s", body)
			}
			break
		}
		if time.Since(written) > time.Second {
			t.Fatalf("a token created on A was not usable on B within 1s (last: %d %s)", resp.StatusCode, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("visible on B %v after the write on A returned", time.Since(written))
}

// forwarder is a TCP relay to PostgreSQL that the test can cut and restore,
// as a network outage would.
type forwarder struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newForwarder(t *testing.T, target string) *forwarder {
	f := &forwarder{t: t, target: target, addr: "127.0.0.1:" + freePort(t)}
	f.up()
	t.Cleanup(f.down)
	return f
}

func (f *forwarder) up() {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", f.target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, u)
			f.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

func (f *forwarder) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func TestReadyzFollowsPostgresOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	fw := newForwarder(t, u.Host)
	u.Host = fw.addr
	in := start(t, t.TempDir(), pgEnv(t, u.String()))

	waitReady := func(want int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			resp, body := in.do("GET", "/readyz", "", "")
			if resp.StatusCode == want {
				if want == 503 && strings.Contains(body, "127.0.0.1") {
					t.Errorf("readyz leaks internal detail: %s", body)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz = %d %s, want %d within %v", resp.StatusCode, body, want, within)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitReady(200, 5*time.Second)
	fw.down()
	waitReady(503, 10*time.Second)
	if resp, _ := in.do("GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("healthz during the outage = %d, want 200 (the process is alive)", resp.StatusCode)
	}
	// The proxy fails closed once it notices (within the 1 s catch-up
	// tick) that it cannot follow the shared store.
	proxyStatus := func() int {
		demo, _ := http.NewRequest("GET", in.url("/"), nil)
		demo.Host = "demo.localhost:" + in.port
		resp, err := in.client.Do(demo)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(5 * time.Second); proxyStatus() != 503; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the proxy did not fail closed (503) during the store outage")
		}
	}
	fw.up()
	waitReady(200, 15*time.Second)
	for deadline := time.Now().Add(5 * time.Second); proxyStatus() == 503; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the proxy still fails closed after the store came back")
		}
	}
	resp, body := in.do("POST", "/api/v1/tokens", strings.Repeat("b", 40), `{"name":"after outage","role":"auditor"}`)
	if resp.StatusCode != 201 {
		t.Errorf("write after recovery = %d %s", resp.StatusCode, body)
	}
}
