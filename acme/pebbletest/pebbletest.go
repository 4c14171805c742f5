// Package pebbletest runs Let's Encrypt's test ACME server, pebble, inside
// a test's process: its directory on a loopback HTTPS port, a DNS server
// that resolves every name to 127.0.0.1, and a TCP relay on which pebble
// validates tls-alpn-01 and http-01 challenges, forwarding them to the
// listeners the test names (round robin, so several replicas share the
// work). Nothing leaves the machine.
package pebbletest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Options tune the server.
type Options struct {
	// Validity is the lifetime of the certificates it issues (0: pebble's
	// default, 90 days).
	Validity time.Duration
	// Log receives pebble's log; nil discards it.
	Log io.Writer
}

// Server is a running pebble.
type Server struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// RootFile is a PEM file of the root the directory's own HTTPS
	// certificate chains to (for acme.ca_root_file).
	RootFile string
	// TLSRelay and HTTPRelay are where pebble validates tls-alpn-01 and
	// http-01 challenges; Forward says where they lead.
	TLSRelay, HTTPRelay *Relay
	ca                  *ca.CAImpl
	store               *db.MemoryStore
	orders              atomic.Int64
}

// Start runs pebble until the test ends. It sets pebble's environment
// (no validation sleeps, no bad-nonce chaos), so the test must not be
// parallel.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	out := o.Log
	if out == nil {
		out = io.Discard
	}
	logger := log.New(out, "pebble ", log.LstdFlags)
	s := &Server{TLSRelay: newRelay(t), HTTPRelay: newRelay(t)}
	dnsAddr := startDNS(t)
	s.store = db.NewMemoryStore()
	s.ca = ca.New(logger, s.store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "the test's", ValidityPeriod: uint64(o.Validity / time.Second)},
	})
	v := va.New(logger, s.HTTPRelay.Port(), s.TLSRelay.Port(), false, dnsAddr, s.store)
	w := wfe.New(logger, s.store, v, s.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	h := w.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/finalize-order/") {
			s.orders.Add(1)
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	s.DirectoryURL = srv.URL + wfe.DirectoryPath
	s.RootFile = filepath.Join(t.TempDir(), "acme-directory-root.pem")
	if err := os.WriteFile(s.RootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// Roots is a pool holding only pebble's issuing root: a client with it
// trusts what pebble issued and nothing else.
func (s *Server) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ca.GetRootCert(0).Cert)
	return p
}

// Orders is how many orders were finalized: how many certificates
// pebble was asked to issue.
func (s *Server) Orders() int { return int(s.orders.Load()) }

// startDNS serves DNS over TCP on loopback, answering every A question
// with 127.0.0.1 and every other question with no record.
func startDNS(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// Relay is a TCP port that forwards each connection to the next of its
// targets in turn.
type Relay struct {
	ln      net.Listener
	mu      sync.Mutex
	targets []string
	next    int
	conns   map[string]int // connections per target
}

func newRelay(t testing.TB) *Relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, conns: map[string]int{}}
	t.Cleanup(func() { ln.Close() })
	go r.serve()
	return r
}

// Port is the relay's port.
func (r *Relay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// Forward sets the targets (host:port) connections go to, in turn.
func (r *Relay) Forward(targets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.targets = targets
}

// Conns is how many connections went to target.
func (r *Relay) Conns(target string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[target]
}

func (r *Relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if len(r.targets) == 0 {
			r.mu.Unlock()
			c.Close()
			continue
		}
		target := r.targets[r.next%len(r.targets)]
		r.next++
		r.conns[target]++
		r.mu.Unlock()
		go pipe(c, target)
	}
}

func pipe(c net.Conn, target string) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}
