package proxy

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
)

// fuzzTable is a route table with a loose route on / and stricter ones
// below it, on a case-sensitive host and on a case-insensitive one.
func fuzzTable(f *testing.F) *table {
	pols, err := policy.Parse("fuzz.yaml", []byte(`
policies:
  - {id: loose, allow: {and: [{group: {has: staff}}]}}
  - {id: admin, allow: {and: [{group: {has: admins}}]}}
  - {id: tools, allow: {and: [{group: {has: tools}}]}}
`))
	if err != nil {
		f.Fatal(err)
	}
	var routes []Route
	for _, r := range []struct {
		from, pol string
		fold      bool
	}{
		{"https://h.test", "loose", false}, {"https://h.test/admin", "admin", false}, {"https://h.test/admin/tools", "tools", false},
		{"https://h.test/a~b", "tools", false},
		{"https://i.test", "loose", true}, {"https://i.test/Admin", "admin", true}, {"https://i.test/admin/tools", "tools", true},
	} {
		routes = append(routes, Route{Route: config.Route{From: r.from, Policy: r.pol, CaseInsensitivePaths: r.fold}, Handler: http.NotFoundHandler()})
	}
	t, err := compile(routes, pols, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	return t
}

// upstreamView is the path a lenient upstream may serve for a wire path:
// decoded up to three times, '\' read as '/', path parameters (";x")
// dropped, dot segments resolved and, on a case-insensitive host, lower
// case with trailing dots and spaces dropped from each segment (Windows).
func upstreamView(wire string, fold bool) string {
	p := wire
	for range 3 {
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	p = strings.ReplaceAll(p, `\`, "/")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		s, _, _ = strings.Cut(s, ";")
		if fold {
			s = strings.TrimRight(strings.ToLower(s), ". ")
		}
		segs[i] = s
	}
	return path.Clean("/" + strings.Join(segs, "/"))
}

// FuzzRoutePath checks the path rule on any request target: a path the
// proxy accepts is routed, decided on and forwarded as one path. The
// upstream receives exactly the path the policy saw, and however leniently
// it reads that path, it lands in the route Portier chose.
func FuzzRoutePath(f *testing.F) {
	t := fuzzTable(f)
	to, _ := url.Parse("http://upstream.test")
	for _, s := range []string{
		"/", "/admin/users", "/public/../admin/users", "//admin/users", "/%2fadmin/users", "/x/%2e%2e/admin/users",
		"/public/..;/admin/users", "/ADMIN/users", "/%41dmin/x", "/admin./x", "/admin%20/x", "/%252e%252e/admin",
		"/admin/tools/../../admin/tools", "/a%7Eb/c", "/a~b/..%2f", "/admin/%2e", "/a%20b/c%3Fd", "/caf%C3%A9/%E2%80%AE",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(tt *testing.T, target string, fold bool) {
		host := "h.test"
		if fold {
			host = "i.test"
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Path == "" || u.Path[0] != '/' || u.RawQuery != "" || u.Host != "" {
			return
		}
		_, ok := normalizePath(u, t.fold[host])
		if !ok {
			return
		}
		rt := t.match(host, u.Path)
		if rt == nil {
			tt.Fatalf("%q: no route for %q", target, u.Path)
		}
		again := *u
		if _, ok := normalizePath(&again, t.fold[host]); !ok || again.EscapedPath() != u.EscapedPath() {
			tt.Errorf("%q: normalising %q again gives %q (ok %v)", target, u.EscapedPath(), again.EscapedPath(), ok)
		}

		// What the reverse proxy sends upstream.
		in := &http.Request{Method: "GET", URL: u, Host: host, Header: http.Header{}, RemoteAddr: "192.0.2.1:1"}
		pr := &httputil.ProxyRequest{In: in, Out: in.Clone(context.Background())}
		rewrite(pr, to, nil)
		wire := pr.Out.URL.RequestURI()
		up, err := url.ParseRequestURI(wire)
		if err != nil {
			tt.Fatalf("%q: forwarded %q, which the upstream cannot parse: %v", target, wire, err)
		}
		if up.Path != u.Path {
			tt.Errorf("%q: the policy saw %q, the upstream got %q (%q)", target, u.Path, up.Path, wire)
		}
		view := upstreamView(wire, t.fold[host])
		if got := t.match(host, view); got != rt {
			tt.Errorf("%q: routed as %q to %s%s, but forwarded as %q, which a lenient upstream reads as %q: route %s%s",
				target, u.Path, rt.from, rt.prefix, wire, view, got.from, got.prefix)
		}
	})
}
