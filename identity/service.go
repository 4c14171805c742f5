package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
)

// Lifetimes of the sign-in machinery (sessions: see SessionIdle and
// SessionAbsolute).
const (
	// FlowLifetime bounds a sign-in ceremony: from the sign-in button to the
	// identity provider's answer, or from a WebAuthn challenge to its answer.
	FlowLifetime = 10 * time.Minute
	// HandoffLifetime bounds a hand-off code on its way to a route host.
	HandoffLifetime = 60 * time.Second
	// FreshAuth is how recent a sign-in or security-key check must be to add
	// or remove a security key.
	FreshAuth = 15 * time.Minute
	// RefreshLead is how long before its ID token expires a session is
	// refreshed with the identity provider.
	RefreshLead = 5 * time.Minute
	// MaintainEvery is how often Run refreshes sessions and sweeps expired
	// sign-in records.
	MaintainEvery = 30 * time.Second
)

// LocalIdP is the Session.IdP of a local-account sign-in.
const LocalIdP = "local"

// Options are the Service's dependencies.
type Options struct {
	Store *store.Store
	Clock func() time.Time
	Log   *slog.Logger
	// ExternalURL is the console's origin (https://host[:port]): the sign-in
	// pages, the OIDC redirect URI and the WebAuthn relying party live there.
	ExternalURL string
	// IdPs are the configured OpenID Connect providers.
	IdPs []config.IdP
	// Destination returns the route (origin + path prefix) serving u, or ""
	// when u is not a configured route. A post-sign-in redirect goes only to
	// such a route or to the console. Nil allows the console only.
	Destination func(u *url.URL) string
	// Sealer seals IdP refresh tokens kept on sessions. Nil uses AES-256-GCM
	// with a random key kept in the store (see StoreSealer).
	Sealer Sealer
	// HTTPClient talks to identity providers. Nil uses a client with a 15 s
	// timeout and the system's roots.
	HTTPClient *http.Client
	// Home is the console path a sign-in lands on when it was asked for no
	// (acceptable) destination; "/" when empty.
	Home string
	// Counter counts password attempts across replicas (see
	// sharedAccountLimit); nil counts in this process only.
	Counter store.Counter
}

// Service signs people in and keeps their sessions. Build it with New; start
// Run in the background for discovery retries, token refresh and clean-up.
type Service struct {
	st       *store.Store
	now      func() time.Time
	log      *slog.Logger
	external *url.URL
	origin   string
	home     string
	dest     func(*url.URL) string
	client   *http.Client

	providers []*provider
	byID      map[string]*provider

	wa       *webauthn.WebAuthn // security keys and passkeys (purpose "mfa")
	waDevice *webauthn.WebAuthn // device-bound credentials (purpose "device")

	sealMu sync.Mutex
	sealer Sealer

	accounts *limiter
	ips      *limiter
	starts   *limiter      // pre-sign-in flows created, per client IP
	failures *limiter      // refused sign-ins audited, per client IP
	hashes   chan struct{} // bounds concurrent argon2id work (64 MiB each)
	counter  store.Counter // password attempts, shared by every replica

	dummyOnce sync.Once
	dummyHash string
}

// New checks the options and builds the service. It does no network I/O:
// identity providers are discovered lazily (and retried by Run), so Portier
// starts even when a provider is down.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Clock == nil || o.Log == nil {
		return nil, errors.New("identity: Store, Clock and Log are required")
	}
	ext, err := url.Parse(strings.TrimSuffix(o.ExternalURL, "/"))
	if err != nil || ext.Scheme != "https" || ext.Host == "" || ext.User != nil || (ext.Path != "" && ext.Path != "/") {
		return nil, fmt.Errorf("identity: the external URL must be an https:// origin (got %q)", o.ExternalURL)
	}
	ext.Host = strings.ToLower(ext.Host)
	if ext.Port() == "443" { // browsers send the origin without the default port
		ext.Host = strings.TrimSuffix(ext.Host, ":443")
	}
	ext.Path, ext.RawQuery, ext.Fragment = "", "", ""
	s := &Service{
		st: o.Store, now: o.Clock, log: o.Log, external: ext,
		origin: ext.Scheme + "://" + ext.Host, home: o.Home, dest: o.Destination,
		client: o.HTTPClient, sealer: o.Sealer, byID: map[string]*provider{},
		accounts: newLimiter(accountRate, accountBurst, maxLimiters),
		ips:      newLimiter(ipRate, ipBurst, maxLimiters),
		starts:   newLimiter(startRate, startBurst, maxLimiters),
		failures: newLimiter(startRate, startBurst, maxLimiters),
		hashes:   make(chan struct{}, maxConcurrentHashes),
		counter:  o.Counter,
	}
	if s.counter == nil {
		s.counter = store.NewMemoryCounter(maxLimiters)
	}
	if s.home == "" || !strings.HasPrefix(s.home, "/") || strings.HasPrefix(s.home, "//") {
		s.home = "/"
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 15 * time.Second}
	}
	for _, c := range o.IdPs {
		p, err := newProvider(c, s.origin+CallbackPath, s.now)
		if err != nil {
			return nil, err
		}
		s.providers = append(s.providers, p)
		s.byID[p.id] = p
	}
	if s.wa, s.waDevice, err = newWebAuthn(ext); err != nil {
		// WebAuthn needs a host name; an IP-address console works without it.
		s.log.Warn("identity: security keys are disabled: the external URL's host cannot be a WebAuthn relying party", "host", ext.Hostname(), "err", err)
	}
	return s, nil
}

// Origin is the console's origin (scheme://host[:port]), for Origin-header
// checks on state-changing requests.
func (s *Service) Origin() string { return s.origin }

// Run discovers identity providers that were not reachable yet, refreshes
// sessions whose ID tokens near expiry, and sweeps expired sign-in records,
// until ctx ends. It never runs on a request's path.
func (s *Service) Run(ctx context.Context) { every(ctx, s.Maintain) }

// RunLocal is the part of Run every replica needs for itself: provider
// discovery retries and its in-memory counters (MaintainLocal).
func (s *Service) RunLocal(ctx context.Context) { every(ctx, s.MaintainLocal) }

// RunShared is the part of Run that writes shared records (MaintainShared):
// in a cluster it runs on one replica at a time, under a lease, so that
// two replicas never refresh the same session's single-use refresh token
// at once (an identity provider that detects the reuse revokes them all).
func (s *Service) RunShared(ctx context.Context) { every(ctx, s.MaintainShared) }

// every runs pass now and every MaintainEvery until ctx ends.
func every(ctx context.Context, pass func(context.Context)) {
	t := time.NewTicker(MaintainEvery)
	defer t.Stop()
	pass(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pass(ctx)
		}
	}
}

// Maintain is one pass of Run: both parts.
func (s *Service) Maintain(ctx context.Context) {
	s.MaintainLocal(ctx)
	s.MaintainShared(ctx)
}

// MaintainLocal retries the discovery of providers not yet reached and
// prunes this replica's in-memory counters.
func (s *Service) MaintainLocal(ctx context.Context) {
	for _, p := range s.providers {
		if !p.ready() {
			_ = p.discover(s.idpContext(ctx), s.log)
		}
	}
	s.accounts.prune(s.now())
	s.ips.prune(s.now())
	s.starts.prune(s.now())
	s.failures.prune(s.now())
}

// MaintainShared refreshes sessions' identity-provider tokens that are
// due and sweeps expired records.
func (s *Service) MaintainShared(ctx context.Context) {
	s.refreshAll(ctx)
	s.sweep(ctx)
}

// idpContext carries the HTTP client for identity-provider calls.
func (s *Service) idpContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.client)
}

// audit returns an audit event op for a sign-in event.
func (s *Service) audit(actor, action, target, ip string, detail map[string]string) store.Op {
	ev := store.NewAuditEvent(s.now(), actor, action, target)
	ev.RemoteIP = ip
	ev.Detail = detail
	return store.Put(ev)
}

// writeAudit records a security event that changes nothing else (a refused
// sign-in); a store failure is logged, never shown.
func (s *Service) writeAudit(ctx context.Context, actor, action, target, ip string, detail map[string]string) {
	if err := s.st.Write(ctx, s.audit(actor, action, target, ip, detail)); err != nil {
		s.log.Error("identity: cannot write audit event", "action", action, "err", err)
	}
}
