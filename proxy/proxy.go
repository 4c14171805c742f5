package proxy

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
)

// DeviceVerifier checks a TLS client certificate chain against Portier's CA.
type DeviceVerifier interface {
	VerifyClient(chain []*x509.Certificate, now time.Time) (deviceID, serial string, err error)
}

// Options are the proxy's dependencies.
type Options struct {
	Store       *store.Store
	CA          DeviceVerifier
	Signer      *assertion.Signer
	Clock       func() time.Time
	Log         *slog.Logger
	ExternalURL string // the console: sign-in and step-up live there
	GeoIP       policy.GeoIP
	// SampleAllows is the fraction of allow decisions logged (denials are
	// always logged); 0 logs none, 1 all.
	SampleAllows float64
	Metrics      *Metrics
	// Recorder keeps recorded access (see record.go); nil records nothing.
	Recorder *Recorder
	// DeviceRecheck is how long a browser's passkey proof of its device
	// (Session.DeviceCheckedAt) counts; after it the session's requests
	// come from no device until the browser proves it again on the
	// console's /auth/device. 0 never re-asks.
	DeviceRecheck time.Duration
}

// Proxy serves route hosts.
type Proxy struct {
	opts     Options
	table    atomic.Pointer[table]
	cache    assertionCache
	live     liveSet
	bufs     *bufferPool
	sample   atomic.Uint64
	touching sync.Map // session ids with an activity write in flight
	// rollout is the rollout plans' waves and coexistence deadlines (nil:
	// no plan), see SetRollout.
	rollout atomic.Pointer[rolloutState]
}

// New returns a proxy with no routes; Load gives it some.
func New(opts Options) *Proxy {
	p := &Proxy{opts: opts, bufs: newBufferPool()}
	p.table.Store(&table{hosts: map[string][]*route{}, fold: map[string]bool{}})
	return p
}

// Load compiles routes and policies and swaps them in atomically: the next
// request sees them, in-flight requests finish with the old ones.
func (p *Proxy) Load(routes []Route, policies []*policy.Policy) error {
	t, err := compile(routes, policies, newTransport, p.reverseProxy)
	if err != nil {
		return err
	}
	for _, rs := range t.hosts {
		for _, rt := range rs {
			if rt.policy.Mode == policy.ReportOnly && rt.enforced == nil {
				p.opts.Log.Warn("route's policy is report-only and shadows no policy: every signed-in user is let through while it is observed",
					"route", rt.from+rt.prefix, "policy", rt.policy.ID)
			}
		}
	}
	p.table.Store(t)
	return nil
}

// Handles reports whether host is a route host.
func (p *Proxy) Handles(host string) bool {
	_, ok := p.table.Load().hosts[host]
	return ok
}

// RouteFor returns the route origin+prefix serving a URL, "" if none. The
// console uses it to accept only post-sign-in destinations that are routes.
func (p *Proxy) RouteFor(u *url.URL) string {
	if u == nil || u.Scheme != "https" {
		return ""
	}
	t, host := p.table.Load(), strings.ToLower(u.Hostname())
	v := *u
	if v.Path == "" {
		v.Path, v.RawPath = "/", ""
	}
	if _, ok := normalizePath(&v, t.fold[host]); !ok {
		return "" // the proxy would refuse it
	}
	rt := t.match(host, v.Path)
	if rt == nil || rt.from != "https://"+u.Host {
		return ""
	}
	return rt.from + rt.prefix
}

// reverseProxy is the template of a route's upstream proxy: forward copies
// it for each request and sets the Rewrite (and, under restrictions, the
// ModifyResponse) that carry that request's identity.
func (p *Proxy) reverseProxy(tr http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:      tr,
		BufferPool:     p.bufs,
		ErrorHandler:   p.upstreamError,
		ModifyResponse: func(resp *http.Response) error { stripPortierCookies(resp); return nil },
		ErrorLog:       slog.NewLogLogger(p.opts.Log.Handler(), slog.LevelDebug),
	}
}

// bufferPool is httputil.BufferPool over sync.Pool with 32 KiB buffers.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}
func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

func clientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

type ctxKey int
