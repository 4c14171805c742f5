package acme

import (
	"context"
	"strings"
	"sync"

	"crypto/tls"
	"github.com/caddyserver/certmagic"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/portier/portier/acme/pebbletest"
	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// site is one replica's HTTPS listener serving a Manager's certificates
// (and, for http-01, its plain-HTTP listener).
type site struct {
	m        *Manager
	addr     string
	httpAddr string
}

func startSite(t *testing.T, p *pebbletest.Server, s certmagic.Storage, renewEvery time.Duration) *site {
	return startSiteWith(t, p, s, renewEvery, config.ChallengeTLSALPN)
}

// startRenewingSite checks for renewals twice a second, by the lifetime
// alone (a third left), so a test knows when they come.
func startRenewingSite(t *testing.T, p *pebbletest.Server, s *Storage) *site {
	st := startSiteWith(t, p, s, 500*time.Millisecond, config.ChallengeTLSALPN)
	st.m.magic.DisableARI = true
	return st
}

func startSiteWith(t *testing.T, p *pebbletest.Server, s certmagic.Storage, renewEvery time.Duration, challenge string) *site {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hln net.Listener
	httpAddr := ""
	if challenge == config.ChallengeHTTP {
		if hln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		httpAddr = hln.Addr().String()
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	m, err := New(Options{
		Config: config.ACME{DirectoryURL: p.DirectoryURL, Email: "ops@example.com", AgreeTerms: true,
			Challenge: challenge, CARootFile: p.RootFile},
		Storage: s, TLSAddr: ln.Addr().String(), HTTPAddr: httpAddr, Log: log, RenewCheckInterval: renewEvery,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }),
		TLSConfig: &tls.Config{GetCertificate: m.GetCertificate, NextProtos: []string{"http/1.1", ALPN}}}
	go srv.Serve(tls.NewListener(ln, srv.TLSConfig))
	t.Cleanup(func() { srv.Close(); m.Stop() })
	if hln != nil {
		plain := &http.Server{Handler: m.HTTPHandler(http.NotFoundHandler())}
		go plain.Serve(hln)
		t.Cleanup(func() { plain.Close() })
	}
	return &site{m: m, addr: ln.Addr().String(), httpAddr: httpAddr}
}

// served is the certificate a client trusting only pebble's root gets
// from the site for host; it fails the test when the handshake fails.
func (st *site) served(t *testing.T, p *pebbletest.Server, host string) *tls.ConnectionState {
	t.Helper()
	c, err := tls.Dial("tcp", st.addr, &tls.Config{ServerName: host, RootCAs: p.Roots()})
	if err != nil {
		t.Fatalf("TLS to %s as %s, trusting only pebble's root: %v", st.addr, host, err)
	}
	defer c.Close()
	cs := c.ConnectionState()
	return &cs
}

// waitLeaf waits until the site has a certificate for host.
func (st *site) waitLeaf(t *testing.T, host string, newer time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if l := st.m.Leaf(host); l != nil && l.NotBefore.After(newer) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no certificate for %s after 30s", host)
}

// TestTwoReplicasShareOneCertificate runs two replicas on one PostgreSQL
// store behind one address for the CA's validations (round robin between
// them): one of them orders the certificate, the other answers part of
// the validations from the shared store and loads the certificate
// instead of ordering its own.
func TestTwoReplicasShareOneCertificate(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	dsn := pgtest.DSN(t)
	sa, la := openPG(t, dsn)
	sb, lb := openPG(t, dsn)
	ra, rb := &recording{Storage: newStorage(t, sa, la, "a")}, &recording{Storage: newStorage(t, sb, lb, "b")}
	a := startSite(t, p, ra, 0)
	b := startSite(t, p, rb, 0)
	p.TLSRelay.Forward(a.addr, b.addr)
	ctx := t.Context()
	const host = "wiki.example.com"
	if err := a.m.Manage(ctx, []string{host}); err != nil {
		t.Fatal(err)
	}
	if err := b.m.Manage(ctx, []string{host}); err != nil {
		t.Fatal(err)
	}
	a.waitLeaf(t, host, time.Time{})
	b.waitLeaf(t, host, time.Time{})
	ca, cb := a.served(t, p, host), b.served(t, p, host)
	if ca.PeerCertificates[0].SerialNumber.Cmp(cb.PeerCertificates[0].SerialNumber) != 0 {
		t.Error("the replicas serve different certificates")
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("pebble finalized %d orders, want 1", n)
	}
	if a.m.Obtained()+b.m.Obtained() != 1 {
		t.Errorf("obtained: a %d, b %d; want one between them", a.m.Obtained(), b.m.Obtained())
	}
	// The validations reached both replicas. (In one process certmagic
	// also keeps the challenge in memory, where both find it; across
	// processes the other replica reads it from the store, where the
	// ordering replica put it.)
	if p.TLSRelay.Conns(a.addr) == 0 || p.TLSRelay.Conns(b.addr) == 0 {
		t.Errorf("validations: a %d, b %d; want both replicas to have answered some",
			p.TLSRelay.Conns(a.addr), p.TLSRelay.Conns(b.addr))
	}
	if !ra.stored("/challenge_tokens/"+host+".json") && !rb.stored("/challenge_tokens/"+host+".json") {
		t.Error("the challenge was not put in the shared store")
	}
	// A host not managed has no certificate: the handshake fails rather
	// than offer one no browser trusts.
	if c, err := tls.Dial("tcp", a.addr, &tls.Config{ServerName: "other.example.com", RootCAs: p.Roots()}); err == nil {
		c.Close()
		t.Error("handshake for an unmanaged host succeeded")
	}
}

// TestRenewal issues short-lived certificates and checks that the
// certificate is replaced before it expires, with no request in between.
func TestRenewal(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{Validity: 12 * time.Second})
	st, leases := storetestBolt(t)
	s := startSite(t, p, newStorage(t, st, leases, "a"), 500*time.Millisecond)
	p.TLSRelay.Forward(s.addr)
	const host = "short.example.com"
	if err := s.m.Manage(t.Context(), []string{host}); err != nil {
		t.Fatal(err)
	}
	s.waitLeaf(t, host, time.Time{})
	first := s.served(t, p, host).PeerCertificates[0]
	s.waitLeaf(t, host, first.NotBefore)
	second := s.served(t, p, host).PeerCertificates[0]
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || !second.NotAfter.After(first.NotAfter) {
		t.Errorf("served after renewal: serial %v until %v; first was %v until %v",
			second.SerialNumber, second.NotAfter, first.SerialNumber, first.NotAfter)
	}
	if p.Orders() < 2 {
		t.Errorf("pebble finalized %d orders, want a renewal", p.Orders())
	}
}

func storetestBolt(t *testing.T) (*store.Store, store.Leases) {
	return storetest.OpenBolt(t), store.SoloLeases{}
}

// TestHTTP01 obtains a certificate with the http-01 challenge, answered
// on the plain-HTTP listener.
func TestHTTP01(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	st, leases := storetestBolt(t)
	s := startSiteWith(t, p, newStorage(t, st, leases, "a"), 0, config.ChallengeHTTP)
	p.HTTPRelay.Forward(s.httpAddr)
	const host = "plain.example.com"
	if err := s.m.Manage(t.Context(), []string{host}); err != nil {
		t.Fatal(err)
	}
	s.waitLeaf(t, host, time.Time{})
	s.served(t, p, host)
	if p.HTTPRelay.Conns(s.httpAddr) == 0 || p.TLSRelay.Conns(s.addr) != 0 {
		t.Errorf("validations: %d over HTTP, %d over TLS; want HTTP only", p.HTTPRelay.Conns(s.httpAddr), p.TLSRelay.Conns(s.addr))
	}
}

// TestReplicasShareARenewal: two replicas on PostgreSQL with short-lived
// certificates; when the certificate is due, one replica renews it and
// the other loads the renewed one from the store instead of ordering.
func TestReplicasShareARenewal(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{Validity: 12 * time.Second})
	dsn := pgtest.DSN(t)
	sa, la := openPG(t, dsn)
	sb, lb := openPG(t, dsn)
	a := startRenewingSite(t, p, newStorage(t, sa, la, "a"))
	b := startRenewingSite(t, p, newStorage(t, sb, lb, "b"))
	p.TLSRelay.Forward(a.addr, b.addr)
	const host = "renew.example.com"
	for _, s := range []*site{a, b} {
		if err := s.m.Manage(t.Context(), []string{host}); err != nil {
			t.Fatal(err)
		}
	}
	a.waitLeaf(t, host, time.Time{})
	b.waitLeaf(t, host, time.Time{})
	first := a.m.Leaf(host)
	// Due 8 s after issuance (4 s left); the next renewal is 8 s later.
	a.waitLeaf(t, host, first.NotBefore)
	b.waitLeaf(t, host, first.NotBefore)
	la2, lb2 := a.m.Leaf(host), b.m.Leaf(host)
	if la2.SerialNumber.Cmp(lb2.SerialNumber) != 0 {
		t.Errorf("after the renewal the replicas serve different certificates")
	}
	if n := p.Orders(); n != 2 {
		t.Errorf("pebble finalized %d orders for one certificate and one renewal, want 2", n)
	}
}

// recording is a Storage that remembers the keys stored through it.
type recording struct {
	*Storage
	mu   sync.Mutex
	keys []string
}

func (r *recording) Store(ctx context.Context, key string, value []byte) error {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.Storage.Store(ctx, key, value)
}

// stored reports whether a key ending in suffix was stored.
func (r *recording) stored(suffix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.keys {
		if strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

// TestFailedOrderNoFallback: when the CA cannot validate (nothing answers
// its validations), the failure is counted and the host's handshakes fail
// rather than present a certificate the client does not trust.
func TestFailedOrderNoFallback(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	st, leases := storetestBolt(t)
	s := startSite(t, p, newStorage(t, st, leases, "a"), 0) // the relay forwards nowhere
	const host = "unreachable.example.com"
	if err := s.m.Manage(t.Context(), []string{host}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.m.Failed() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failed attempt counted after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c, err := tls.Dial("tcp", s.addr, &tls.Config{ServerName: host, InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Error("a handshake for a host without its ACME certificate succeeded")
	}
	if s.m.Obtained() != 0 || !s.m.FirstExpiry().IsZero() {
		t.Errorf("obtained %d, first expiry %v; want none", s.m.Obtained(), s.m.FirstExpiry())
	}
}
