package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/portier/portier/acme"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/prometheus/client_golang/prometheus"
)

// startACME sets up public certificates for the listener when the config
// has an acme section: the manager (its storage in the store, private keys
// sealed by sealer, or on the embedded store by the store's own sealing
// key) and, for http-01, the port-80 listener. The certificates are
// obtained once Serve runs (serveACME).
func (s *Server) startACME(ctx context.Context, sealer identity.Sealer) error {
	a := s.cfg.ACME
	if !a.Enabled() {
		return nil
	}
	if sealer == nil {
		var err error
		if sealer, err = identity.StoreSealer(ctx, s.store); err != nil {
			return fmt.Errorf("acme: sealing key: %w", err)
		}
	}
	storage := acme.NewStorage(acme.StorageOptions{Store: s.store, Leases: s.replica.leases, Sealer: sealer,
		Clock: s.clock, Holder: s.replica.id, Log: s.log})
	opts := acme.Options{Config: a, Storage: storage, TLSAddr: s.ln.Addr().String(), Log: s.log}
	if a.Challenge == config.ChallengeHTTP {
		ln, err := net.Listen("tcp", a.HTTPListen)
		if err != nil {
			return fmt.Errorf("acme.http_listen %s: %w", a.HTTPListen, err)
		}
		s.hln = ln
		opts.HTTPAddr = ln.Addr().String()
	}
	m, err := acme.New(opts)
	if err != nil {
		return err
	}
	s.tls.acme = m
	if s.hln != nil {
		s.acmeHTTP = &http.Server{Handler: m.HTTPHandler(toHTTPS(s.cfg.ExternalURL)), ReadHeaderTimeout: 5 * time.Second}
	}
	return nil
}

// HTTPAddr is the bound address of the http-01 listener, "" when none.
func (s *Server) HTTPAddr() string {
	if s.hln == nil {
		return ""
	}
	return s.hln.Addr().String()
}

// ACME is the ACME manager, nil when ACME is off (for tests and metrics).
func (s *Server) ACME() *acme.Manager { return s.tls.acme }

// toHTTPS redirects every plain-HTTP request to the same host and path on
// the HTTPS listener's port (the external URL's).
func toHTTPS(external string) http.Handler {
	port := ""
	if u, err := url.Parse(external); err == nil && u.Port() != "" && u.Port() != "443" {
		port = ":" + u.Port()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		http.Redirect(w, r, "https://"+host+port+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// acmeNeedsRestart reports whether a reloaded acme section differs from
// the running one in more than its hosts (which a reload applies).
func acmeNeedsRestart(running, next config.ACME) bool {
	running.Hosts, next.Hosts = nil, nil
	return !reflect.DeepEqual(running, next)
}

// acmeHosts are the hosts whose certificate comes from ACME: the
// configured list, or the console's host and every route host (names
// only: an ACME CA does not validate wildcards with these challenges, and
// IP addresses keep the embedded CA's certificate).
func acmeHosts(cfg *config.Config) []string {
	if len(cfg.ACME.Hosts) > 0 {
		return cfg.ACME.Hosts
	}
	var out []string
	for _, h := range serverHosts(cfg) {
		if net.ParseIP(h) == nil && !strings.Contains(h, "*") {
			out = append(out, h)
		}
	}
	return out
}

// manageACME hands the current hosts to the ACME manager once Serve runs
// (ctx is Serve's: it ends the manager's background work).
func (cs *certSource) manageACME(ctx context.Context, cfg *config.Config) {
	if cs.acme == nil {
		return
	}
	cs.mu.Lock()
	cs.acmeCtx = ctx
	cs.mu.Unlock()
	if err := cs.acme.Manage(ctx, acmeHosts(cfg)); err != nil {
		cs.log.Error("acme: cannot manage the hosts' certificates", "err", err)
	}
}

// acmeHostsChanged follows a change of routes (on any replica).
func (cs *certSource) acmeHostsChanged(cfg *config.Config) {
	cs.mu.Lock()
	ctx := cs.acmeCtx
	cs.mu.Unlock()
	if cs.acme == nil || ctx == nil {
		return // not serving yet: manageACME takes the hosts then
	}
	if err := cs.acme.Manage(ctx, acmeHosts(cfg)); err != nil {
		cs.log.Error("acme: cannot manage the hosts' certificates", "err", err)
	}
}

// certificate chooses the listener's certificate for a handshake: an
// ACME CA's validation, or a browser asking for a host with an ACME
// certificate, gets the ACME manager's answer (an error while it has no
// certificate yet: no fallback to a certificate browsers do not trust);
// the agent (which trusts only Portier's root) and every other host get
// the certificate of Portier's CA.
func (cs *certSource) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m := cs.acme; m != nil {
		if acme.IsValidation(hello) || (m.Covers(hello.ServerName) && !agentwire.OffersAgentALPN(hello.SupportedProtos)) {
			return m.GetCertificate(hello)
		}
	}
	return cs.cert.Load(), nil
}

// acmeMetrics export the ACME certificates' state: the first expiry among
// them, as portier_certificate_not_after_seconds{cert="acme"} (0 while a
// host has none yet), and the obtained and failed attempts of this
// replica.
func acmeMetrics(cs *certSource) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "portier_certificate_not_after_seconds",
			Help:        "When a certificate of Portier expires (unix seconds): the CA root, the intermediate, and the HTTPS listener's certificate.",
			ConstLabels: prometheus.Labels{"cert": "acme"},
		}, func() float64 {
			if cs.acme == nil {
				return 0
			}
			if first := cs.acme.FirstExpiry(); !first.IsZero() {
				return float64(first.Unix())
			}
			return 0
		}),
		acmeCounter(cs, "portier_acme_certificates_obtained_total",
			"Certificates this replica obtained from the ACME CA (first ones and renewals).", (*acme.Manager).Obtained),
		acmeCounter(cs, "portier_acme_failures_total",
			"Attempts of this replica to obtain or renew an ACME certificate that failed (each is retried with backoff).", (*acme.Manager).Failed),
	}
}

// acmeCounter exports a count of the ACME manager's.
func acmeCounter(cs *certSource, name, help string, count func(*acme.Manager) int64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
		if cs.acme == nil {
			return 0
		}
		return float64(count(cs.acme))
	})
}
