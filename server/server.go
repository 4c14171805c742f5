package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/console"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/pgstore"
	"github.com/prometheus/client_golang/prometheus"
)

// scheduleEvery is how often scheduled policy promotions and rollout waves
// are looked for.
const scheduleEvery = 5 * time.Second

// Options are what Start needs besides the config.
type Options struct {
	Config *config.Config
	// Policies are the config file's compiled policies (CompilePolicies),
	// checked by the caller before Start. The rules served are the store's
	// (see package rules): the file's seed them, or overwrite them under
	// config_policies: file.
	Policies []*policy.Policy
	Log      *slog.Logger
	Clock    func() time.Time
	Getenv   func(string) string
	// Banner receives the human first-run lines (console URL, root
	// fingerprint, set-up link); nil means the log only.
	Banner io.Writer
	// KnownSchema, when > 0, makes the server act on PostgreSQL as a
	// Portier that knows only that many schema migrations (tests of the
	// rolling-upgrade window: pgstore.Options.KnownSchema).
	KnownSchema int
}

// Server is a started Portier.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	backend store.Backend
	store   *store.Store
	ca      *ca.CA
	signer  *assertion.Signer
	ident   *identity.Service
	enroll  *enrollment.Service
	posture *posture.Engine
	proxy   *proxy.Proxy
	console *console.Console
	geo     *policy.MMDB
	sim     atomic.Pointer[proxy.Simulator]
	// base is the running config (replaced by a reload); cfgNow is it with
	// the store's routes and policies (rules.Compile).
	base      atomic.Pointer[config.Config]
	cfgNow    atomic.Pointer[config.Config]
	rules     *rules.Service
	rulesMu   sync.Mutex // one compile at a time
	rulesNow  atomic.Pointer[rulesState]
	rulesErrs prometheus.Counter
	origins   atomic.Pointer[[]string] // console and route origins, for the agent
	routes    atomic.Pointer[[]string] // the routes' from URLs, for the console's home
	clock     func() time.Time
	tls       *certSource
	http      *http.Server
	metrics   *http.Server
	ln        net.Listener
	mln       net.Listener
	hln       net.Listener  // ACME http-01; nil without
	acmeHTTP  *http.Server  // on hln
	bsock     *backupSocket // nil on PostgreSQL
	replica   *replica
	inForce   atomic.Pointer[console.Rules] // for the impact replay
	records   *proxy.Recorder               // recorded access; nil when off
	// rolloutIdx is the rollout plans' wave membership (see rollout.go);
	// rolloutPrint the plans' waves it was built from (membersPrint).
	rolloutIdx   atomic.Pointer[rollout.Index]
	rolloutPrint atomic.Pointer[string]
	// derive holds the argon2id keys derived while the store loads
	// (prederive); nil on the embedded store.
	derive *ca.Derivations

	// SetupLink is the first-run set-up link, "" when none was needed.
	SetupLink string
}

// Start opens the data dir, the store and the CA, bootstraps a new store,
// and binds the listeners. Serve then serves until its context ends.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	cfg := o.Config
	s := &Server{cfg: cfg, log: o.Log, clock: o.Clock}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if s.backend, err = openBackend(ctx, cfg, o.Log, o.KnownSchema); err != nil {
		return nil, err
	}
	s.derive = prederive(ctx, s.backend, cfg, o.Getenv)
	restoreGC := relaxGC(loadGCPercent)
	s.store, err = store.OpenWith(ctx, s.backend, o.Log, store.Options{MaxStaleness: time.Duration(cfg.MaxStaleness)})
	restoreGC()
	if err != nil {
		return nil, err
	}
	s.replica = newReplica(s)
	s.bsock = startBackupSocket(cfg, s.backend, s.store, o.Clock, o.Log)
	var sealer identity.Sealer // nil: the embedded defaults (secrets stay in the 0600 data dir)
	err = s.store.Exclusive(ctx, firstRunLock, func() error {
		var err error
		sealer, err = s.initialise(ctx, o)
		return err
	})
	s.derive = nil // the keys derived ahead are in use now; keep no copies
	if err != nil {
		return nil, err
	}
	// The config rule (seed, refuse or overwrite), then the store's rules
	// are what the certificate, the proxy and the simulator serve.
	s.base.Store(cfg)
	s.rules = s.newRulesService()
	if _, err := s.rules.Sync(ctx, cfg); err != nil {
		return nil, err
	}
	first, err := s.compileRules()
	if err != nil {
		return nil, fmt.Errorf("the routes and policies in the store do not compile: %w", err)
	}
	if s.tls, err = newCertSource(ctx, first.set.Config, s.ca, o.Clock, o.Log); err != nil {
		return nil, err
	}
	m := newMetrics(s.store)
	s.rulesErrs = newRulesMetrics(m.reg)
	m.reg.MustRegister(certExpiry(s.ca, s.tls)...)
	if cfg.ACME.Enabled() {
		m.reg.MustRegister(acmeMetrics(s.tls)...)
	}
	m.reg.MustRegister(clusterMetrics(s.store, s.replica)...)
	m.reg.MustRegister(actionMetrics(s.store, o.Clock))
	if db, ok := s.backend.(*pgstore.DB); ok {
		m.reg.MustRegister(poolMetrics(db.PoolStat))
	}
	ecfg, err := enrollment.ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	popts := proxy.Options{Store: s.store, CA: s.ca, Signer: s.signer, Clock: o.Clock, Log: o.Log,
		ExternalURL: cfg.ExternalURL, Metrics: proxy.NewMetrics(m.reg), SampleAllows: cfg.DecisionLog.SampleAllows,
		DeviceRecheck: ecfg.BrowserDeviceRecheck}
	s.records = s.startRecorder(m.reg)
	popts.Recorder = s.records
	if cfg.GeoIPDatabase != "" {
		geo, err := policy.OpenGeoIP(cfg.GeoIPDatabase)
		if err != nil {
			return nil, fmt.Errorf("geoip_database: %w", err)
		}
		s.geo = geo
		popts.GeoIP = geo
	}
	s.proxy = proxy.New(popts)
	s.rulesMu.Lock()
	err = s.applyRulesLocked(ctx)
	s.rulesMu.Unlock()
	if err != nil {
		return nil, err
	}
	s.ident, err = identity.New(identity.Options{Store: s.store, Clock: o.Clock, Log: o.Log, ExternalURL: cfg.ExternalURL,
		IdPs: cfg.IdentityProviders, Destination: s.proxy.RouteFor, Sealer: sealer, Home: "/",
		Counter: store.CounterFor(s.backend)})
	if err != nil {
		return nil, err
	}
	if err := s.startMDM(cfg, o.Clock, o.Log); err != nil {
		return nil, err
	}
	s.refreshRollout()
	con := console.New(console.Options{
		Store: s.store, Log: o.Log, Clock: o.Clock, ExternalURL: cfg.ExternalURL,
		Roots: s.ca.RootsHandler(), CRL: s.ca.CRLHandler(), Ready: s.ready, RootFingerprint: s.ca.Fingerprint(),
		AgentDownloadsDir: s.enroll.Config().AgentDownloadsDir,
		Identity:          s.ident, JWKS: s.signer.JWKS, Enrollment: s.enroll, PostureIngest: s.posture.ExternalHandler(),
		Simulate: s.simulate, Waves: s.waves,
		Origins: func() []string { return *s.origins.Load() },
		Rules:   s.rules,
		Routes:  func() []string { return *s.routes.Load() },
		Cluster: s.replica.replicas, ReplicaID: s.replica.id, MissingAfter: missingAfter, Leases: s.replica.holders,
		InForce: s.currentRules, CheckNames: posture.CheckNames, Report: cfg.Report,
		Approvals: console.ApprovalOptions{BulkThreshold: cfg.Approvals.BulkThresholdOrDefault(), TTL: cfg.Approvals.ExpiryOrDefault(),
			Disabled: cfg.Approvals.Disabled},
	})
	s.console = con
	if con.ApprovalsOff() {
		o.Log.Warn("two-person approval is off (approvals.disabled, or the stored approval settings): full wipes and retires run at the first administrator's request, without a second person's approval")
	}
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if err := s.startACME(ctx, sealer); err != nil {
		return nil, err
	}
	d := &dispatch{consoleHost: cfg.ExternalHost(), console: con, proxy: s.proxy, metrics: m}
	s.http = &http.Server{
		Handler:           d,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug),
		TLSConfig:         s.tls.config(),
	}
	s.proxy.Attach(s.http)
	if cfg.MetricsListen != "off" {
		if s.mln, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("metrics listen %s: %w", cfg.MetricsListen, err)
		}
		s.metrics = &http.Server{Handler: metricsMux(m, cfg.MetricsPprof == "on"), ReadHeaderTimeout: 5 * time.Second}
		if cfg.MetricsPprof == "on" {
			o.Log.Warn("metrics_pprof: on: Go profiles are served under /debug/pprof/ on the metrics listener", "metrics", s.mln.Addr().String())
		}
	}
	s.announce(o.Banner)
	return s, nil
}

// Addr is the bound address of the HTTPS listener.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// MetricsAddr is the bound address of the metrics listener, "" when off.
func (s *Server) MetricsAddr() string {
	if s.mln == nil {
		return ""
	}
	return s.mln.Addr().String()
}

// ConsoleRoutes lists the console's routes as "METHOD /path" (for the
// route-table authorization test).
func (s *Server) ConsoleRoutes() []string {
	var out []string
	for _, r := range s.console.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// Posture is the server's posture engine (tests drive its scheduler with
// Tick and an injected clock).
func (s *Server) Posture() *posture.Engine { return s.posture }

// Store is the server's store (for tests and in-process tools).
func (s *Server) Store() *store.Store { return s.store }

// CA is the server's certificate authority.
func (s *Server) CA() *ca.CA { return s.ca }

// ready is /readyz: the store is fresh (store.Fresh, the check the proxy
// and the agent API make: on a shared store, caught up within the
// staleness bound) or, embedded, answers; and the CA is loaded. Its error
// text is shown to whoever asks, so it names the part, not the internal
// cause.
func (s *Server) ready(ctx context.Context) error {
	if err := s.store.Fresh(); err != nil {
		s.log.Warn("not ready: store", "err", err)
		return errors.New("store unreachable or stale")
	}
	if !s.store.Shared() {
		if err := s.store.Healthy(ctx); err != nil {
			s.log.Warn("not ready: store", "err", err)
			return errors.New("store unreachable")
		}
	}
	if s.ca == nil || len(s.ca.Roots()) == 0 {
		return errors.New("CA not loaded")
	}
	return nil
}

func (s *Server) announce(w io.Writer) {
	s.log.Info("portier started", "console", s.cfg.ExternalURL, "listen", s.Addr(),
		"metrics", s.MetricsAddr(), "ca_fingerprint", s.ca.Fingerprint(), "data_dir", s.cfg.DataDir)
	if s.SetupLink != "" {
		s.log.Info("first run: open the one-time set-up link to create the owner account", "setup_link", s.SetupLink)
	}
	if w == nil {
		return
	}
	fmt.Fprintf(w, "Portier is running.\n  Console:            %s/\n", s.cfg.ExternalURL)
	if s.cfgNow.Load().DemoEnabled() {
		fmt.Fprintf(w, "  Demo app:           %s\n", demoURL(s.cfg))
	}
	fmt.Fprintf(w, "  Root CA:            %s/ca/roots.pem\n  Root fingerprint:   SHA256 %s\n", s.cfg.ExternalURL, s.ca.Fingerprint())
	if s.SetupLink != "" {
		fmt.Fprintf(w, "  Set-up link (once): %s\n", s.SetupLink)
	}
}

// Serve serves until ctx ends, then shuts down gracefully: in-flight
// requests finish (up to 30 s) before Serve returns.
func (s *Server) Serve(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx) // also ends the background work when a listener fails
	defer stop()
	errc := make(chan error, 3)
	go func() { errc <- s.http.Serve(tls.NewListener(s.ln, s.http.TLSConfig)) }()
	if s.metrics != nil {
		go func() { errc <- s.metrics.Serve(s.mln) }()
	}
	if s.acmeHTTP != nil {
		go func() { errc <- s.acmeHTTP.Serve(s.hln) }()
	}
	go s.tls.rotate(ctx)
	s.tls.manageACME(ctx, s.cfgNow.Load())
	go s.bsock.serve()
	go s.proxy.Run(ctx)
	go s.signer.Run(ctx)
	go s.ident.RunLocal(ctx)

	go s.claimEmails(ctx)
	s.replica.startHeartbeats(ctx)
	// Jobs that must run once across replicas run where their lease is.
	s.replica.leased(ctx, "enrollment.sweeps", s.enroll.Run)
	s.replica.leased(ctx, "posture.scheduler", func(ctx context.Context) { _ = s.posture.Run(ctx) })
	s.replica.leased(ctx, "audit.retention", s.auditSweeper().Run)
	s.replica.leased(ctx, "identity.maintenance", s.ident.RunShared) // token refreshes and sweeps
	go s.watchRules(ctx)
	go s.watchRollout(ctx)
	go s.runSchedule(ctx) // scheduled promotions and rollout waves
	s.replica.leased(ctx, "decisions.prune", s.pruneDecisions)
	s.replica.leased(ctx, "kpis.snapshot", s.kpiSnapshotter().Run)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.log.Info("shutting down: finishing in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, h := range []*http.Server{s.http, s.metrics, s.acmeHTTP} {
		if h != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = h.Shutdown(shutCtx) }()
		}
	}
	wg.Wait()
	stop()
	s.replica.jobs.Wait() // jobs stopped and leases released, while the store is open
	s.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) close() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.mln != nil {
		s.mln.Close()
	}
	if s.hln != nil {
		s.hln.Close()
	}
	if s.tls != nil && s.tls.acme != nil {
		s.tls.acme.Stop()
	}
	if s.ca != nil {
		s.ca.Close()
	}
	if s.geo != nil {
		s.geo.Close()
	}
	s.bsock.close()
	s.records.Close() // its last flush, before the store closes
	if s.store != nil {
		s.store.Close()
	}
	if s.backend != nil {
		s.backend.Close()
	}
}

// openBackend opens PostgreSQL when a DSN is configured, else the embedded
// file in the data dir.
func openBackend(ctx context.Context, cfg *config.Config, log *slog.Logger, knownSchema int) (store.Backend, error) {
	if cfg.Store != "" {
		db, err := pgstore.OpenWith(ctx, cfg.Store, log, pgstore.Options{KnownSchema: knownSchema})
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	db, err := boltstore.Open(filepath.Join(cfg.DataDir, storeFileName), boltstore.WithLogger(log))
	if err != nil {
		return nil, err
	}
	return db, nil
}

// loadRoutes compiles the config's routes (and the demo app) into the proxy
// and the what-if simulator; candidates are the policies the what-if may
// evaluate by id (drafts included).
func (s *Server) loadRoutes(cfg *config.Config, pols, candidates []*policy.Policy) error {
	routes := make([]proxy.Route, 0, len(cfg.Routes)+1)
	for _, r := range cfg.Routes {
		routes = append(routes, proxy.Route{Route: r})
	}
	all := cfg.Routes
	if cfg.DemoEnabled() {
		demo := config.Route{From: strings.TrimSuffix(demoURL(cfg), "/"), To: "http://demo.invalid", Policy: "demo"}
		routes = append(routes, proxy.Route{Route: demo, Handler: &demoApp{issuer: cfg.ExternalURL, audience: demo.From, jwks: s.signer.JWKS, clock: s.clock}})
		all = append(append([]config.Route(nil), cfg.Routes...), demo)
	}
	if err := s.proxy.Load(routes, pols); err != nil {
		return err
	}
	sim, err := proxy.NewSimulator(all, pols)
	if err != nil {
		return err
	}
	s.sim.Store(sim.WithCandidates(candidates))
	s.inForce.Store(rulesOf(all, pols))
	origins := routeOrigins(cfg.ExternalURL, all)
	s.origins.Store(&origins)
	froms := make([]string, len(all))
	for i, r := range all {
		froms[i] = r.From
	}
	s.routes.Store(&froms)
	return nil
}

// routeOrigins is the sorted set of https origins (scheme://host[:port])
// of the console and the routes.
func routeOrigins(external string, routes []config.Route) []string {
	froms := []string{external}
	for _, r := range routes {
		froms = append(froms, r.From)
	}
	var out []string
	for _, s := range froms {
		if u, err := url.Parse(s); err == nil && u.Scheme == "https" && u.Host != "" {
			out = append(out, "https://"+strings.ToLower(u.Host))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
