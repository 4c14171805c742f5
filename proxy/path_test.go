package proxy

import (
	"net/url"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct {
		in   string // the request target's path, as on the wire
		fold bool
		want string // the normalised wire path; "" = refused
	}{
		{"/", false, "/"},
		{"/page", false, "/page"},
		{"/a/b/", false, "/a/b/"},
		{"/.well-known/x", false, "/.well-known/x"},
		{"/a/./b", false, "/a/b"},
		{"/a/../b", false, "/b"},
		{"/a/..", false, "/"},
		{"/a/b/..", false, "/a/"},
		{"/a/.", false, "/a/"},
		{"//a///b//", false, "/a/b/"},
		{"/%61%7E%2D", false, "/a~-"},
		{"/a%20b", false, "/a%20b"},
		{"/a%2cb", false, "/a%2Cb"},
		{"/caf%c3%a9", false, "/caf%C3%A9"},
		{"/What%3F", false, "/What%3F"},
		{"/100%25", false, "/100%25"},
		{"/%2520", false, ""},
		{"/%2541dmin", true, ""},
		{"/100%25zz", false, "/100%25zz"},
		{"/..", false, ""},
		{"/a/../..", false, ""},
		{"/%2e%2e/a", false, ""},
		{"/a/%2e/b", false, ""},
		{"/a/.%2e", false, ""},
		{"/a%2fb", false, ""},
		{"/a%2Fb", false, ""},
		{"/a%5cb", false, ""},
		{"/a\\b", false, ""},
		{"/a;b", false, ""},
		{"/a%3bb", false, ""},
		{"/a%00", false, ""},
		{"/a%0a", false, ""},
		{"/a%7f", false, ""},
		{"/%252e%252e/x", false, ""},
		{"/%25%32%65", false, ""},
		{"/%252f", false, ""},
		{"/%2525", false, ""},
		{"/%253B", false, ""},
		{"*", false, ""},
		{"", false, ""},
		{"a/b", false, ""},
		{"/Admin/Users", true, "/admin/users"},
		{"/%41dmin", true, "/admin"},
		{"/admin./x", true, ""},
		{"/admin%2e/x", true, ""},
		{"/admin%20/x", true, ""},
		{"/admin./x", false, "/admin./x"},
		{"/caf%C3%89", true, "/caf%C3%89"},
	} {
		u := &url.URL{}
		var err error
		if tc.in != "" && tc.in[0] == '/' {
			u, err = url.ParseRequestURI(tc.in)
			if err != nil {
				t.Fatalf("%q: %v", tc.in, err)
			}
		} else {
			u.Path = tc.in
		}
		before := *u
		_, ok := normalizePath(u, tc.fold)
		got := ""
		if ok {
			got = u.EscapedPath()
			if p, err := url.PathUnescape(got); err != nil || p != u.Path {
				t.Errorf("%q: Path %q and RawPath %q disagree", tc.in, u.Path, u.RawPath)
			}
		} else if *u != before {
			t.Errorf("%q: refused but changed to %+v", tc.in, u)
		}
		if got != tc.want {
			t.Errorf("normalizePath(%q, fold=%v) = %q, want %q", tc.in, tc.fold, got, tc.want)
		}
	}
	// Malformed escapes never reach ServeHTTP (net/http refuses them), but
	// the normaliser refuses them too.
	for _, in := range []string{"/a%zz", "/a%2", "/%", "/a%g0"} {
		if got, ok := normalizeEscaped(in, false); ok {
			t.Errorf("normalizeEscaped(%q) = %q, want refused", in, got)
		}
	}
}

// BenchmarkNormalizeCleanPath is the path rule's cost for an ordinary
// request: the quick scan, which finds nothing to do and allocates nothing.
func BenchmarkNormalizeCleanPath(b *testing.B) {
	u := &url.URL{Path: "/wiki/Engineering/On-call_rota-2026/edit"}
	for b.Loop() {
		if _, ok := normalizePath(u, false); !ok {
			b.Fatal("refused")
		}
	}
}

// TestLocalPathStaysOnHost: the "Sign in again" return path and the
// hand-off destination never leave the host, whatever a browser would make
// of them (it drops tabs and newlines and reads '\' as '/').
func TestLocalPathStaysOnHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/app/page?x=1", "/app/page?x=1"},
		{"//evil.example/", "/"},
		{"/\\evil.example/", "/"},
		{"/\t/evil.example/", "/"},
		{"/\n/evil.example/", "/"},
		{"/a\\b", "/"},
		{"/a b", "/"},
		{"https://evil.example/", "/"},
		{"", "/"},
	} {
		if got := localPath(tc.in); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
