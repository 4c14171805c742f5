package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
)

// route is one compiled route.
type route struct {
	id       string // config.RouteID: what a rollout plan's coexistence names
	from     string // origin, the assertion's audience
	host     string // lower-case host without port
	prefix   string // path prefix, "" or "/x"
	idp      string
	policy   *policy.Policy
	enforced *policy.Policy // when policy is report-only: what is enforced meanwhile (nil = allow signed-in users)
	timeout  time.Duration
	handler  http.Handler           // a built-in app; nil for an upstream
	upstream *httputil.ReverseProxy // the upstream's (or built-in app's) proxy, copied per request with its Rewrite
	to       *url.URL               // the upstream's URL
}

// table maps hosts to their routes, longest prefix first.
type table struct {
	hosts map[string][]*route
	fold  map[string]bool // hosts whose paths are lower-cased (case_insensitive_paths)
}

func (t *table) match(host, path string) *route {
	for _, rt := range t.hosts[host] {
		if rt.prefix == "" || path == rt.prefix || strings.HasPrefix(path, rt.prefix+"/") {
			return rt
		}
	}
	return nil
}

// Route is a route to compile: the config's, or a built-in app.
type Route struct {
	config.Route
	// Handler serves the route instead of an upstream (the demo app).
	Handler http.Handler
}

func compile(routes []Route, policies []*policy.Policy, transport func(config.Route) (http.RoundTripper, error), rp func(http.RoundTripper) *httputil.ReverseProxy) (*table, error) {
	byID := map[string]*policy.Policy{}
	for _, p := range policies {
		byID[p.ID] = p
	}
	t := &table{hosts: map[string][]*route{}, fold: map[string]bool{}}
	for _, r := range routes {
		u, err := url.Parse(r.From)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", r.From, err)
		}
		p, ok := byID[r.Policy]
		if !ok {
			return nil, fmt.Errorf("route %q names policy %q, which is not defined", r.From, r.Policy)
		}
		rt := &route{
			id:      config.RouteID(r.Route),
			from:    u.Scheme + "://" + u.Host,
			host:    strings.ToLower(u.Hostname()),
			prefix:  strings.TrimSuffix(u.Path, "/"),
			idp:     r.IdP,
			policy:  p,
			timeout: time.Duration(r.Timeout),
		}
		if f, ok := t.fold[rt.host]; ok && f != r.CaseInsensitivePaths {
			return nil, fmt.Errorf("route %q: case_insensitive_paths must be the same on every route of %s", r.From, rt.host)
		}
		t.fold[rt.host] = r.CaseInsensitivePaths
		if r.CaseInsensitivePaths {
			rt.prefix = strings.ToLower(rt.prefix)
		}
		// A prefix must be in the form request paths are normalised to,
		// or it could never match (or match what it should not).
		if rt.prefix != "" {
			if n, ok := normalizeEscaped(rt.prefix, r.CaseInsensitivePaths); !ok || n != rt.prefix || u.EscapedPath() != u.Path {
				return nil, fmt.Errorf("route %q: the path prefix must be plain: no '.' or '..' segment, no '//', no '%%', ';' or '\\'", r.From)
			}
		}
		if p.Mode == policy.ReportOnly && p.Shadows != "" {
			if rt.enforced, ok = byID[p.Shadows]; !ok {
				return nil, fmt.Errorf("policy %q shadows %q, which is not defined", p.ID, p.Shadows)
			}
		}
		if r.Handler != nil {
			// The handler's own proxy carries its answers through the
			// response side of restrictions (see handlerTransport).
			rt.handler = r.Handler
			if rp != nil {
				rt.upstream = rp(handlerTransport{r.Handler})
			}
		} else {
			rt.to, err = url.Parse(r.To)
			if err != nil {
				return nil, fmt.Errorf("route %q: upstream: %w", r.From, err)
			}
			tr, err := transport(r.Route)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", r.From, err)
			}
			rt.upstream = rp(tr)
		}
		t.hosts[rt.host] = append(t.hosts[rt.host], rt)
	}
	for _, rs := range t.hosts {
		sort.Slice(rs, func(i, j int) bool { return len(rs[i].prefix) > len(rs[j].prefix) })
	}
	return t, nil
}

// newTransport returns an upstream transport tuned for a proxy: many idle
// connections per upstream, bounded dial and header timeouts, optional TLS
// with the route's CA bundle.
func newTransport(r config.Route) (http.RoundTripper, error) {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	if r.Timeout > 0 {
		tr.ResponseHeaderTimeout = time.Duration(r.Timeout)
	}
	if r.UpstreamCA != "" {
		pem, err := os.ReadFile(r.UpstreamCA)
		if err != nil {
			return nil, fmt.Errorf("upstream_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream_ca %s holds no PEM certificate", r.UpstreamCA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return tr, nil
}
