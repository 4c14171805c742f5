package identity

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

func TestCheckRedirect(t *testing.T) {
	f := newFixture(t)
	home := testExternal + "/"
	tests := []struct {
		rd    string
		want  string
		route bool
	}{
		{"", home, false},
		{"/", home, false},
		{"/auth/security_keys?x=1", testExternal + "/auth/security_keys?x=1", false},
		{testExternal + "/devices#frag", testExternal + "/devices", false},
		{"https://PORTIER.localhost:8443/a", testExternal + "/a", false},
		{"https://wiki.localhost:8443/page?q=1#top", "https://wiki.localhost:8443/page?q=1", true},
		{"https://WIKI.localhost:8443/", "https://wiki.localhost:8443/", true},
		// Everything else lands on the console home.
		{"https://evil.com/", home, false},
		{"http://wiki.localhost:8443/", home, false},
		{"https://wiki.localhost:9443/", home, false},
		{"https://wiki.localhost/", home, false},
		{"//evil.com", home, false},
		{"//evil.com/path", home, false},
		{"///evil.com", home, false},
		{`/\evil.com`, home, false},
		{`\\evil.com`, home, false},
		{`https:\\evil.com`, home, false},
		{"https://localhost.evil.com", home, false},
		{"https://portier.localhost:8443.evil.com/", home, false},
		{"javascript:alert(1)", home, false},
		{"JavaScript:alert(1)", home, false},
		{"data:text/html,<script>alert(1)</script>", home, false},
		{"https://good@evil.com", home, false},
		{"https://wiki.localhost:8443@evil.com/", home, false},
		{"https://portier.localhost:8443@evil.com/", home, false},
		{"https:evil.com", home, false},
		{"https:///evil.com", home, false},
		{"evil.com", home, false},
		{"/path\nLocation: https://evil.com", home, false},
		{"/ /evil.com", home, false},
		{"\t//evil.com", home, false},
		{"/%0a/evil.com", testExternal + "/%0a/evil.com", false},
		{"https://wiki.localhost:8443//evil.com", "https://wiki.localhost:8443//evil.com", true},
		{strings.Repeat("/a", 3000), home, false},
	}
	for _, tc := range tests {
		u, route := f.svc.CheckRedirect(tc.rd)
		if u.String() != tc.want || route != tc.route {
			t.Errorf("CheckRedirect(%q) = %q, %v; want %q, %v", tc.rd, u, route, tc.want, tc.route)
		}
	}
}

func TestContinueHandsOffToRoutes(t *testing.T) {
	f := newFixture(t)
	sess := &store.Session{ID: "s1"}
	dest, err := f.svc.Continue(context.Background(), sess, attempted("https://wiki.localhost:8443//evil.com/x?y=1&portier_attempt=forged&z=%20"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dest)
	if err != nil || u.Host != "wiki.localhost:8443" || u.Path != HandoffPath {
		t.Fatalf("Continue = %q, want the route host's callback", dest)
	}
	h, ok := f.st.Handoff(HashSecret(u.Query().Get("code")))
	if !ok {
		t.Fatal("no hand-off stored for the code")
	}
	if h.Host != "wiki.localhost" || h.Path != "/evil.com/x?y=1&z=%20" || h.SessionID != "s1" || h.Attempt != testAttemptRef ||
		h.ExpiresAt.Sub(f.clock.Now()) != HandoffLifetime {
		t.Errorf("hand-off = %+v", h)
	}
	// A route URL without an attempt reference gets no code: the browser
	// goes to the application, whose proxy starts a bound attempt.
	for _, rd := range []string{"https://wiki.localhost:8443/x?y=1", "https://wiki.localhost:8443/x?y=1&portier_attempt=short"} {
		dest, err := f.svc.Continue(context.Background(), sess, rd)
		if err != nil || dest != "https://wiki.localhost:8443/x?y=1" {
			t.Errorf("Continue(%q) = %q, %v, want the application itself", rd, dest, err)
		}
	}
	for _, rd := range []string{"", "/x", "https://evil.com/"} {
		dest, _ := f.svc.Continue(context.Background(), sess, rd)
		if !strings.HasPrefix(dest, testExternal+"/") {
			t.Errorf("Continue(%q) = %q, want the console", rd, dest)
		}
	}
}

// FuzzCheckRedirect: whatever rd is, the result is the console (same
// origin) or a URL the route table accepts; never another host, scheme or
// userinfo.
func FuzzCheckRedirect(f *testing.F) {
	for _, s := range []string{"", "/", "//evil.com", `/\evil.com`, "https://wiki.localhost:8443/x", "javascript:alert(1)",
		"https://good@evil.com", "https://localhost.evil.com", "https://portier.localhost:8443/a?b#c", "/%2F%2Fevil.com"} {
		f.Add(s)
	}
	ext, _ := url.Parse(testExternal)
	f.Fuzz(func(t *testing.T, rd string) {
		u, route := checkRedirect(ext, "/", testDestination, rd)
		if u.User != nil || u.Scheme != "https" || u.Opaque != "" {
			t.Fatalf("checkRedirect(%q) = %q: bad scheme or userinfo", rd, u)
		}
		again, err := url.Parse(u.String())
		if err != nil || again.Host != u.Host {
			t.Fatalf("checkRedirect(%q) = %q does not re-parse to the same host", rd, u)
		}
		if route {
			if testDestination(u) == "" {
				t.Fatalf("checkRedirect(%q) = %q: a route the table does not know", rd, u)
			}
			return
		}
		if u.Host != ext.Host || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
			t.Fatalf("checkRedirect(%q) = %q: not a console path", rd, u)
		}
		if s := u.String(); !strings.HasPrefix(s, testExternal+"/") || strings.HasPrefix(s, testExternal+"//") {
			t.Fatalf("checkRedirect(%q) renders as %q", rd, s)
		}
	})
}
