package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"github.com/portier/portier/config"
)

// Options are what New needs.
type Options struct {
	Config config.ACME
	// Storage is where certificates, account keys, challenge tokens and
	// locks live: a Storage on the store (NewStorage) in Portier.
	Storage certmagic.Storage
	// TLSAddr is the HTTPS listener's bound address: tls-alpn-01 is
	// answered there by GetCertificate. HTTPAddr is the bound http-01
	// listener's ("" with tls-alpn-01).
	TLSAddr, HTTPAddr string
	Log               *slog.Logger
	// RenewCheckInterval is how often the certificates are checked for
	// renewal (0: certmagic's default, 10 minutes).
	RenewCheckInterval time.Duration
}

// Manager obtains, renews and serves the ACME certificates of a set of
// hosts. Only one replica orders a host's certificate (the store's lease
// is the lock); the others load it from the store.
type Manager struct {
	magic    *certmagic.Config
	cache    *certmagic.Cache
	issuer   *certmagic.ACMEIssuer
	log      *slog.Logger
	mu       sync.Mutex
	hosts    map[string]bool
	obtained atomic.Int64
	failed   atomic.Int64
}

// New returns a Manager; Manage starts the work.
func New(o Options) (*Manager, error) {
	m := &Manager{log: o.Log, hosts: map[string]bool{}}
	var roots *x509.CertPool
	if o.Config.CARootFile != "" {
		pem, err := os.ReadFile(o.Config.CARootFile)
		if err != nil {
			return nil, fmt.Errorf("acme.ca_root_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme.ca_root_file: %s holds no PEM certificate", o.Config.CARootFile)
		}
	}
	zl := zapLogger(o.Log)
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: o.RenewCheckInterval,
		Logger:             zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{Storage: o.Storage, Logger: zl, OnEvent: m.event})
	tlsHost, tlsPort, err := hostPort(o.TLSAddr)
	if err != nil {
		return nil, fmt.Errorf("acme: HTTPS listener address: %w", err)
	}
	tmpl := certmagic.ACMEIssuer{
		CA: o.Config.DirectoryURL, Email: o.Config.Email, Agreed: o.Config.AgreeTerms,
		DisableHTTPChallenge:    o.Config.Challenge != config.ChallengeHTTP,
		DisableTLSALPNChallenge: o.Config.Challenge != config.ChallengeTLSALPN,
		// The challenges are answered by Portier's own listeners (which
		// are bound, so certmagic does not start its own) on any replica:
		// the tokens are in the shared storage.
		ListenHost: tlsHost, AltTLSALPNPort: tlsPort,
		TrustedRoots: roots, Logger: zl,
	}
	if o.HTTPAddr != "" {
		if _, tmpl.AltHTTPPort, err = hostPort(o.HTTPAddr); err != nil {
			return nil, fmt.Errorf("acme: http-01 listener address: %w", err)
		}
	}
	m.issuer = certmagic.NewACMEIssuer(m.magic, tmpl)
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return h, port, err
}

// event counts and logs certmagic's outcomes; it never vetoes one.
func (m *Manager) event(_ context.Context, name string, data map[string]any) error {
	switch name {
	case "cert_obtained":
		m.obtained.Add(1)
		m.log.Info("acme: certificate obtained", "host", data["identifier"], "renewal", data["renewal"], "issuer", data["issuer"])
	case "cert_failed":
		m.failed.Add(1)
		m.log.Error("acme: cannot obtain a certificate; retrying with backoff", "host", data["identifier"],
			"renewal", data["renewal"], "err", data["error"])
	}
	return nil
}

// Manage makes hosts the managed set: certificates of new hosts are
// obtained (or loaded from the store) in the background, until ctx ends;
// hosts no longer in the set are dropped from it.
func (m *Manager) Manage(ctx context.Context, hosts []string) error {
	m.mu.Lock()
	next := map[string]bool{}
	var added []string
	for _, h := range hosts {
		h = strings.ToLower(h)
		next[h] = true
		if !m.hosts[h] {
			added = append(added, h)
		}
	}
	var removed []certmagic.SubjectIssuer
	for h := range m.hosts {
		if !next[h] {
			removed = append(removed, certmagic.SubjectIssuer{Subject: h, IssuerKey: m.issuer.IssuerKey()})
		}
	}
	m.hosts = next
	m.mu.Unlock()
	if len(removed) > 0 {
		m.cache.RemoveManaged(removed)
	}
	if len(added) == 0 {
		return nil
	}
	m.log.Info("acme: managing certificates", "hosts", added)
	return m.magic.ManageAsync(ctx, added)
}

// Covers reports whether host's certificate comes from ACME.
func (m *Manager) Covers(host string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hosts[strings.ToLower(host)]
}

// IsValidation reports whether hello is an ACME CA's tls-alpn-01 validation.
func IsValidation(hello *tls.ClientHelloInfo) bool {
	for _, p := range hello.SupportedProtos {
		if p == acmez.ACMETLS1Protocol {
			return true
		}
	}
	return false
}

// ALPN is the protocol a tls-alpn-01 validation negotiates; the HTTPS
// listener offers it after its own.
const ALPN = acmez.ACMETLS1Protocol

// GetCertificate answers a TLS handshake for a managed host, or for a
// tls-alpn-01 validation (of any replica's order). A managed host without
// a certificate yet gets an error: the handshake fails rather than fall
// back to a certificate browsers do not trust.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.magic.GetCertificate(hello)
}

// HTTPHandler answers http-01 validations and passes every other request
// to next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	return m.issuer.HTTPChallengeHandler(next)
}

// Obtained is how many certificates this process obtained (first ones
// and renewals); Failed how many attempts failed.
func (m *Manager) Obtained() int64 { return m.obtained.Load() }

// Failed is how many attempts to obtain or renew failed in this process.
func (m *Manager) Failed() int64 { return m.failed.Load() }

// Leaf is the certificate served for host, nil when there is none.
func (m *Manager) Leaf(host string) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range m.cache.AllMatchingCertificates(host) {
		if c.Leaf != nil && (best == nil || c.Leaf.NotAfter.After(best.NotAfter)) {
			best = c.Leaf
		}
	}
	return best
}

// FirstExpiry is when the first of the managed hosts' certificates
// expires; zero while a managed host has none.
func (m *Manager) FirstExpiry() time.Time {
	m.mu.Lock()
	hosts := make([]string, 0, len(m.hosts))
	for h := range m.hosts {
		hosts = append(hosts, h)
	}
	m.mu.Unlock()
	var first time.Time
	for _, h := range hosts {
		l := m.Leaf(h)
		if l == nil {
			return time.Time{}
		}
		if first.IsZero() || l.NotAfter.Before(first) {
			first = l.NotAfter
		}
	}
	return first
}

// Stop ends the renewal loop.
func (m *Manager) Stop() { m.cache.Stop() }
