package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// TestOpenWebSocketClosedWhenAccessLost opens an upgraded connection
// through the proxy, then ends the session: the proxy must close the
// connection within about a second.
func TestOpenWebSocketClosedWhenAccessLost(t *testing.T) {
	e := newEnv(t)
	// Make the upstream an echoing WebSocket-like server.
	e.upstream.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "upgrade required", 426)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		io.Copy(conn, rw)
	})
	cookie, s := e.session("ws@example.com", "staff")
	cert := e.device("dev_ws", store.TrustHigh, store.OwnershipCorporate)
	conn, err := tls.Dial("tcp", strings.TrimPrefix(e.srv.URL, "https://"), &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /socket HTTP/1.1\r\nHost: wiki.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Cookie: " + identity.SessionCookie + "=" + cookie + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade = %d", resp.StatusCode)
	}
	conn.Write([]byte("ping"))
	buf := make([]byte, 4)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	time.Sleep(1100 * time.Millisecond) // the connection is now older than a second
	if err := e.st.Write(context.Background(), store.Delete(store.KindSession, s.ID)); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadByte()
	if err == nil {
		t.Fatal("the connection is still open after the session ended")
	}
	if d := time.Since(ended); d > 2*time.Second {
		t.Errorf("closed %v after access was lost, want about 1s", d)
	}
	// The log line is written right after the close; give it a moment.
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(e.logText(), "access lost"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("closing the connection was not logged")
			break
		}
	}
}

// TestOpenStreamClosedWhenAccessLost holds a streaming response open
// through the proxy, over HTTP/1.1 (re-evaluated per connection) and over
// HTTP/2 (per stream), then ends the session: the stream must end within
// about a second, and another stream on the same HTTP/2 connection whose
// session is still valid must not.
func TestOpenStreamClosedWhenAccessLost(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := "http1"
		if h2 {
			name = "h2"
		}
		t.Run(name, func(t *testing.T) {
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
			cert := e.device("dev_stream", store.TrustHigh, store.OwnershipCorporate)
			c := e.client(&cert)
			c.Timeout = 0
			if h2 {
				c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
			}
			open := func(cookie string) (*http.Response, *bufio.Reader) {
				t.Helper()
				req, _ := http.NewRequest("GET", e.srv.URL+"/events", nil)
				req.Host = "wiki.localhost"
				req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: cookie})
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { resp.Body.Close() })
				if resp.StatusCode != 200 || resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
					t.Fatalf("stream = %d over HTTP/%d", resp.StatusCode, resp.ProtoMajor)
				}
				br := bufio.NewReader(resp.Body)
				event := make([]byte, len("data: first\n\n"))
				if _, err := io.ReadFull(br, event); err != nil || string(event) != "data: first\n\n" {
					t.Fatalf("first event = %q, %v", event, err)
				}
				return resp, br
			}
			cookie, s := e.session("stream@example.com", "staff")
			_, br := open(cookie)
			var other *bufio.Reader
			if h2 {
				otherCookie, _ := e.session("colleague@example.com", "staff")
				_, other = open(otherCookie)
			}
			if err := e.st.Write(context.Background(), store.Delete(store.KindSession, s.ID)); err != nil {
				t.Fatal(err)
			}
			ended := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(br)
				done <- err
			}()
			select {
			case <-done:
				if d := time.Since(ended); d > 2500*time.Millisecond {
					t.Errorf("the stream ended %v after access was lost, want about 1s", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the stream is still open 5s after the session ended")
			}
			if other != nil {
				got := make(chan error, 1)
				go func() { _, err := other.ReadByte(); got <- err }()
				select {
				case err := <-got:
					t.Errorf("the other user's stream on the same connection ended too: %v", err)
				case <-time.After(1500 * time.Millisecond):
				}
			}
		})
	}
}
