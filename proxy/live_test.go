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
