package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portier/portier/acme"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
)

// certSource holds the listener's certificate: the operator's files, or one
// issued by Portier's CA for the external host and route hosts, re-issued
// when two thirds of its lifetime have passed.
type certSource struct {
	cert   atomic.Pointer[tls.Certificate]
	ca     *ca.CA
	mu     sync.Mutex // guards hosts and issuing
	hosts  []string
	clock  func() time.Time
	log    *slog.Logger
	issued bool
	// acme serves the hosts it covers when the config has an acme
	// section (nil otherwise); acmeCtx is Serve's, once it runs.
	acme    *acme.Manager
	acmeCtx context.Context
}

func newCertSource(ctx context.Context, cfg *config.Config, c *ca.CA, clock func() time.Time, log *slog.Logger) (*certSource, error) {
	cs := &certSource{ca: c, clock: clock, log: log, hosts: serverHosts(cfg)}
	if cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load %s / %s: %w", cfg.TLS.CertFile, cfg.TLS.KeyFile, err)
		}
		cs.cert.Store(&cert)
		return cs, nil
	}
	cs.issued = true
	return cs, cs.issue(ctx)
}

// serverHosts are the names the issued certificate covers.
func serverHosts(cfg *config.Config) []string {
	host := cfg.ExternalHost()
	hosts := []string{host}
	if host == "localhost" {
		hosts = append(hosts, "*.localhost", "127.0.0.1", "::1")
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		seen[h] = true
	}
	for _, h := range routeHosts(cfg) {
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// setHosts makes the issued certificate cover hosts, re-issuing it at once
// when they changed (a route added on any replica), so a new route host
// never meets a certificate that does not name it.
func (cs *certSource) setHosts(ctx context.Context, cfg *config.Config) error {
	cs.acmeHostsChanged(cfg)
	hosts := serverHosts(cfg)
	if !cs.issued {
		return nil // the operator's certificate: theirs to cover the hosts
	}
	cs.mu.Lock()
	same := sameHosts(cs.hosts, hosts)
	cs.mu.Unlock()
	if same {
		return nil
	}
	cs.mu.Lock()
	cs.hosts = hosts
	cs.mu.Unlock()
	if err := cs.issue(ctx); err != nil {
		return err
	}
	cs.log.Info("tls: server certificate re-issued for the current route hosts", "hosts", len(hosts))
	return nil
}

func (cs *certSource) issue(ctx context.Context) error {
	cs.mu.Lock()
	hosts := cs.hosts
	cs.mu.Unlock()
	cert, err := cs.ca.IssueServerTLS(ctx, hosts)
	if err != nil {
		return fmt.Errorf("tls: issue the server certificate: %w", err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		cert.Leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	cs.cert.Store(&cert)
	return nil
}

// due reports whether the issued certificate is past two thirds of its life.
func (cs *certSource) due() bool {
	leaf := cs.cert.Load().Leaf
	if leaf == nil {
		return false
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return cs.clock().After(leaf.NotBefore.Add(life * 2 / 3))
}

// rotate re-issues the certificate when due, until ctx ends.
func (cs *certSource) rotate(ctx context.Context) {
	if !cs.issued {
		return
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if cs.due() {
				if err := cs.issue(ctx); err != nil {
					cs.log.Error("tls: certificate rotation failed; will retry", "err", err)
				} else {
					cs.log.Info("tls: server certificate rotated")
				}
			}
		}
	}
}

// aeadSuites returns the only TLS 1.2 cipher suites Portier offers: ECDHE key
// exchange (forward secrecy) with an AEAD cipher. CBC suites (SHA-1 or
// SHA-256 MAC) and static-RSA key exchange are left out. TLS 1.3 suites are
// all AEAD and are not configurable in Go.
func aeadSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

func (cs *certSource) config() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if cs.acme != nil {
		protos = append(protos, acme.ALPN) // tls-alpn-01 validations
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: aeadSuites(),
		NextProtos:   protos,
		// Device certificates are optional and checked by the proxy against
		// Portier's root and the revocation list, per request.
		ClientAuth:     tls.RequestClientCert,
		GetCertificate: cs.certificate,
	}
}
