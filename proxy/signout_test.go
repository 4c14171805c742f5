package proxy_test

import (
	"net/http"
	"testing"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// TestSignOutRequiresSameOrigin is a cross-site form posting to a route
// host's /.portier/sign_out: it must not sign the user out. The route
// host's own pages and the console still can.
func TestSignOutRequiresSameOrigin(t *testing.T) {
	e := newEnv(t)
	c := e.client(nil)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		allowed bool
	}{
		{"cross-site form", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, false},
		{"other origin, no fetch metadata", map[string]string{"Origin": "https://evil.example"}, false},
		{"sibling application", map[string]string{"Origin": "https://files.localhost", "Sec-Fetch-Site": "same-site"}, false},
		{"cross-site claiming the route's origin", map[string]string{"Origin": "https://wiki.localhost", "Sec-Fetch-Site": "cross-site"}, false},
		{"opaque origin, no fetch metadata", map[string]string{"Origin": "null"}, false},
		{"opaque origin, cross-site", map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, false},
		{"no proof at all", nil, false},
		{"the application's own page", map[string]string{"Origin": "https://wiki.localhost", "Sec-Fetch-Site": "same-origin"}, true},
		{"own page, Origin only", map[string]string{"Origin": "https://WIKI.localhost"}, true},
		{"own page under no-referrer", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, true},
		{"the console", map[string]string{"Origin": "https://portier.localhost", "Sec-Fetch-Site": "same-site"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cookie, s := e.session("sol@example.com", "staff")
			resp, _ := e.do(c, "POST", "https://wiki.localhost/.portier/sign_out", cookie, tc.headers)
			_, left := e.st.Session(s.ParentID)
			if tc.allowed {
				if resp.StatusCode != http.StatusSeeOther || left {
					t.Errorf("sign-out = %d, console session left %v; want 303 and signed out", resp.StatusCode, left)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden || !left {
				t.Errorf("sign-out = %d, console session left %v; want 403 and still signed in", resp.StatusCode, left)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == identity.SessionCookie {
					t.Errorf("a refused sign-out touched the session cookie: %v", ck)
				}
			}
		})
	}
}

// TestSessionBoundToHost replays a session cookie where it was not issued:
// the console session on an application, one application's session on
// another. Neither counts as a session there.
func TestSessionBoundToHost(t *testing.T) {
	e := newEnv(t)
	cert := e.device("dev_hop", store.TrustHigh, store.OwnershipCorporate)
	c := e.client(&cert)
	wiki, s := e.session("hop@example.com", "staff")
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/", wiki, nil); resp.StatusCode != 200 {
		t.Fatalf("on its own host = %d", resp.StatusCode)
	}
	files, _ := e.sessionOn("files.localhost", "hop@example.com", "staff")
	console := e.consoleCookie(s.ParentID)
	for _, tc := range []struct{ name, url, cookie string }{
		{"the files app's cookie on the wiki", "https://wiki.localhost/", files},
		{"the wiki's cookie on the files app", "https://files.localhost/list", wiki},
		{"the console cookie on the wiki", "https://wiki.localhost/", console},
	} {
		resp, _ := e.do(c, "GET", tc.url, tc.cookie, nil)
		if resp.StatusCode != http.StatusFound {
			t.Errorf("%s = %d, want a redirect to sign in", tc.name, resp.StatusCode)
		}
	}
	// Nor can such a cookie sign anyone out.
	e.do(c, "POST", "https://files.localhost/.portier/sign_out", wiki, map[string]string{"Origin": "https://files.localhost"})
	if _, ok := e.st.Session(s.ParentID); !ok {
		t.Error("the wiki's cookie posted to the files app's sign-out ended the session")
	}
}
