package identity

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// TestLookupBoundToHost: a session counts only where it was issued — the
// console's on the console, a route session on its own host.
func TestLookupBoundToHost(t *testing.T) {
	f := newFixture(t)
	consoleCookie, consoleID := NewSessionSecret()
	now := f.clock.Now()
	parent := &store.Session{ID: consoleID, UserID: "u1", Email: "ada@example.com", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(SessionAbsolute)}
	wikiCookie, wikiID := NewSessionSecret()
	wiki := *parent
	wiki.ID, wiki.ParentID, wiki.Host = wikiID, consoleID, "wiki.localhost"
	orphanCookie, orphanID := NewSessionSecret() // a route host's session without a console session
	orphan := *parent
	orphan.ID, orphan.Host = orphanID, "wiki.localhost"
	if err := f.st.Write(context.Background(), store.Put(parent), store.Put(&wiki), store.Put(&orphan)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cookie, host string
		want               bool
	}{
		{"console cookie on the console", consoleCookie, "", true},
		{"console cookie on an application", consoleCookie, "wiki.localhost", false},
		{"application cookie on its host", wikiCookie, "wiki.localhost", true},
		{"application cookie on another application", wikiCookie, "files.localhost", false},
		{"application cookie on the console", wikiCookie, "", false},
		{"route session without a console session", orphanCookie, "wiki.localhost", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := Live(f.st, tc.cookie, tc.host, now); ok != tc.want {
				t.Errorf("Live on %q = %v, want %v", tc.host, ok, tc.want)
			}
		})
	}
}

func TestWithAndSplitAttempt(t *testing.T) {
	ref := HashSecret("x")
	for _, tc := range []struct{ in, want string }{
		{"https://a.localhost/p", "https://a.localhost/p?portier_attempt=" + ref},
		{"https://a.localhost/p?x=1&y=%20", "https://a.localhost/p?x=1&y=%20&portier_attempt=" + ref},
		{"https://a.localhost/p?portier_attempt=old&x=1", "https://a.localhost/p?x=1&portier_attempt=" + ref},
		{"https://a.localhost/p?portier%5Fattempt=old", "https://a.localhost/p?portier_attempt=" + ref},
	} {
		if got := WithAttempt(tc.in, ref); got != tc.want {
			t.Errorf("WithAttempt(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if rest, got := SplitAttempt("a=1&portier_attempt=" + ref + "&b=2"); rest != "a=1&b=2" || got != ref {
		t.Errorf("SplitAttempt = %q, %q", rest, got)
	}
	if _, got := SplitAttempt("portier_attempt=" + strings.ToUpper(ref)); got != "" {
		t.Errorf("an ill-formed reference was accepted: %q", got)
	}
}

// FuzzSplitAttempt: whatever the query, what is left carries no attempt
// parameter, and the reference is well-formed or empty.
func FuzzSplitAttempt(f *testing.F) {
	for _, s := range []string{"", "a=1", "portier_attempt=" + HashSecret("x"), "portier%5Fattempt=1&portier_attempt", "&&=&portier_attempt=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		rest, ref := SplitAttempt(q)
		if ref != "" && !ValidAttemptRef(ref) {
			t.Fatalf("ref %q", ref)
		}
		if v, err := url.ParseQuery(rest); err == nil && v.Has(AttemptParam) {
			t.Fatalf("SplitAttempt(%q) left %q", q, rest)
		}
	})
}
