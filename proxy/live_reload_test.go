package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// openWebSocket upgrades a connection to wiki.localhost through the proxy
// (the upstream echoes) and checks that it carries data.
func (e *env) openWebSocket(cert tls.Certificate, cookie string) (net.Conn, *bufio.Reader) {
	e.t.Helper()
	e.upstream.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		io.Copy(conn, rw)
	})
	conn, err := tls.Dial("tcp", strings.TrimPrefix(e.srv.URL, "https://"), &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	req := "GET /socket HTTP/1.1\r\nHost: wiki.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Cookie: " + identity.SessionCookie + "=" + cookie + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		e.t.Fatalf("upgrade = %v, %v", resp, err)
	}
	echo(e.t, conn, br)
	return conn, br
}

// echo checks that the WebSocket still carries data both ways.
func echo(t testing.TB, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, 4)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
}

// waitClosed waits (up to 5 s of wall time: the proxy re-evaluates once a
// second) for the proxy to close the connection.
func waitClosed(t testing.TB, conn net.Conn, br *bufio.Reader, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatalf("%s: the proxy forwarded more data", what)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: the WebSocket is still open", what)
	}
}

// TestWebSocketClosedWhenCertificateExpires: a WebSocket opened with a
// valid device certificate must not outlive the certificate. The clock
// passes its NotAfter while nothing else changes (the session is made to
// outlast it).
func TestWebSocketClosedWhenCertificateExpires(t *testing.T) {
	e := newEnv(t)
	cert := e.device("dev_expiring", store.TrustHigh, store.OwnershipCorporate)
	cookie, s := e.session("exp@example.com", "staff")
	far := cert.Leaf.NotAfter.Add(72 * time.Hour)
	parent, _ := e.st.Session(s.ParentID)
	p, c := *parent, *s
	p.ExpiresAt, c.ExpiresAt = far, far
	if err := e.st.Write(context.Background(), store.Put(&p), store.Put(&c)); err != nil {
		t.Fatal(err)
	}
	conn, br := e.openWebSocket(cert, cookie)
	e.clk.Set(cert.Leaf.NotAfter.Add(-time.Minute))
	time.Sleep(1500 * time.Millisecond) // a re-evaluation while still valid
	echo(t, conn, br)
	e.clk.Set(cert.Leaf.NotAfter.Add(time.Second))
	waitClosed(t, conn, br, "after the device certificate expired")
}

// TestWebSocketClosedWhenReloadTightensPolicy: an operator tightens a
// route's policy (or removes the route) and reloads; open WebSockets are
// judged by the new rules, not the route they started under. A reload that
// changes nothing for them leaves them open.
func TestWebSocketClosedWhenReloadTightensPolicy(t *testing.T) {
	route := func(e *env, from, pol string) proxy.Route {
		return proxy.Route{Route: config.Route{From: from, To: e.upstream.URL, Policy: pol}}
	}
	for _, tc := range []struct {
		name   string
		routes func(e *env) []proxy.Route
		closes bool
	}{
		{"unchanged", func(e *env) []proxy.Route {
			return []proxy.Route{route(e, "https://wiki.localhost", "staff"), route(e, "https://files.localhost", "byod")}
		}, false},
		{"policy now needs a fresh security-key check", func(e *env) []proxy.Route {
			return []proxy.Route{route(e, "https://wiki.localhost", "stepup")}
		}, true},
		{"route removed", func(e *env) []proxy.Route {
			return []proxy.Route{route(e, "https://files.localhost", "byod")}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cert := e.device("dev_reload", store.TrustHigh, store.OwnershipCorporate)
			cookie, _ := e.session("reload@example.com", "staff")
			conn, br := e.openWebSocket(cert, cookie)
			if err := e.p.Load(tc.routes(e), e.pols); err != nil {
				t.Fatal(err)
			}
			if tc.closes {
				waitClosed(t, conn, br, "after the reload")
				return
			}
			time.Sleep(1500 * time.Millisecond) // at least one re-evaluation
			echo(t, conn, br)
		})
	}
}

// TestHTTP2StreamClosedWhenReloadTightensPolicy: the same over an HTTP/2
// event stream — the reload resets that stream, while a stream on the same
// connection to a route the reload did not touch stays open.
func TestHTTP2StreamClosedWhenReloadTightensPolicy(t *testing.T) {
	e := newEnv(t)
	e.upstream.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	cert := e.device("dev_h2reload", store.TrustHigh, store.OwnershipCorporate)
	c := e.client(&cert)
	c.Timeout = 0
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	open := func(host, cookie string) *bufio.Reader {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+"/events", nil)
		req.Host = host
		req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: cookie})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Fatalf("stream = %d over HTTP/%d", resp.StatusCode, resp.ProtoMajor)
		}
		br := bufio.NewReader(resp.Body)
		event := make([]byte, len("data: first\n\n"))
		if _, err := io.ReadFull(br, event); err != nil {
			t.Fatalf("first event = %q, %v", event, err)
		}
		return br
	}
	wiki, _ := e.session("h2@example.com", "staff")
	files, _ := e.sessionOn("files.localhost", "h2@example.com", "staff")
	tightened, untouched := open("wiki.localhost", wiki), open("files.localhost", files)
	route := func(from, pol string) proxy.Route {
		return proxy.Route{Route: config.Route{From: from, To: e.upstream.URL, Policy: pol}}
	}
	if err := e.p.Load([]proxy.Route{route("https://wiki.localhost", "stepup"), route("https://files.localhost", "byod")}, e.pols); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(tightened); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open 5s after the reload tightened its route's policy")
	}
	got := make(chan error, 1)
	go func() { _, err := untouched.ReadByte(); got <- err }()
	select {
	case err := <-got:
		t.Errorf("the stream to the untouched route ended too: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
}

// TestWebSocketClosedWhenDeviceUnshared: a shared device serves a colleague
// who is not its owner; when an administrator takes the shared mark away,
// the colleague's open WebSocket is judged without the device and closes.
func TestWebSocketClosedWhenDeviceUnshared(t *testing.T) {
	e := newEnv(t)
	cert := e.device("dev_shared", store.TrustHigh, store.OwnershipCorporate)
	d, _ := e.st.Device("dev_shared")
	owned := *d
	owned.OwnerEmail = "owner@example.com"
	if err := e.st.Write(context.Background(), store.Put(&owned)); err != nil {
		t.Fatal(err)
	}
	cookie, _ := e.session("colleague@example.com", "staff")
	conn, br := e.openWebSocket(cert, cookie)
	time.Sleep(1500 * time.Millisecond) // a re-evaluation while still shared
	echo(t, conn, br)
	unshared := owned
	unshared.Shared = false
	if err := e.st.Write(context.Background(), store.Put(&unshared)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, conn, br, "after the device stopped being shared")
}
