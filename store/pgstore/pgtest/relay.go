package pgtest

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// Relay is a TCP relay to PostgreSQL that a test can make silent: Pause
// stops forwarding bytes in both directions without closing any
// connection, as a network that drops packets would (TCP keeps the bytes
// and delivers them late); Resume lets them through again.
type Relay struct {
	t      testing.TB
	target string
	ln     net.Listener

	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
	cut    bool
	closed bool
	conns  []net.Conn
}

// NewRelay listens on a free loopback port and relays every connection to
// target (host:port); it is closed when the test ends.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{t: t, target: target, ln: ln}
	r.cond = sync.NewCond(&r.mu)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

// DSN is dsn (a postgres:// URL) with its host replaced by the relay's.
func (r *Relay) DSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		r.t.Fatal(err)
	}
	u.Host = r.ln.Addr().String()
	return u.String()
}

// Pause stops forwarding, keeping every connection open.
func (r *Relay) Pause() {
	r.mu.Lock()
	r.paused = true
	r.mu.Unlock()
}

// Cut closes every connection and refuses new ones until Resume, as a
// database that went down would.
func (r *Relay) Cut() {
	r.mu.Lock()
	r.cut = true
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Resume forwards again, starting with what was held, and accepts new
// connections after a Cut.
func (r *Relay) Resume() {
	r.mu.Lock()
	r.paused, r.cut = false, false
	r.cond.Broadcast()
	r.mu.Unlock()
}

func (r *Relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		cut := r.cut
		r.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, u)
		r.mu.Unlock()
		go r.pipe(u, c)
		go r.pipe(c, u)
	}
}

// pipe copies src to dst, holding each chunk while the relay is paused.
func (r *Relay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			for r.paused && !r.closed {
				r.cond.Wait()
			}
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (r *Relay) close() {
	r.ln.Close()
	r.mu.Lock()
	r.closed = true
	r.cond.Broadcast()
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}
