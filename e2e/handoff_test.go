package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// noFollow is c without following redirects (same cookie jar).
func noFollow(c *http.Client) *http.Client {
	nf := *c
	nf.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &nf
}

// consoleOnly is a browser that holds only from's console cookies: signed
// in at the console, not yet on any application. It does not follow
// redirects.
func (w *world) consoleOnly(from *http.Client) *http.Client {
	c := w.browser(nil)
	jar, _ := cookiejar.New(nil)
	console, _ := url.Parse(w.url("localhost", "/"))
	jar.SetCookies(console, from.Jar.Cookies(console))
	c.Jar = jar
	return noFollow(c)
}

// step GETs u and returns the redirect's target, failing unless it is one.
func step(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, body := get(t, c, "GET", u)
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET %s = %d, want a redirect\n%s", u, resp.StatusCode, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return loc.String()
}

// TestLoginCSRFThroughHandoff is the attack over the running server: the
// attacker signs in as themselves, obtains a hand-off link for the
// application (from the console directly, or by stopping their own
// browser before the callback) and gets a victim to open it. The victim
// must not end up signed in to the application as the attacker.
func TestLoginCSRFThroughHandoff(t *testing.T) {
	w := newWorld(t)
	w.idp.QueueUser(identitytest.NewUser("sub-mallory", "mallory@example.com", "staff"))
	attacker := w.browser(nil)
	if resp, body := get(t, attacker, "GET", w.url("files.localhost", "/")); resp.StatusCode != 200 {
		t.Fatalf("the attacker's own sign-in: %d\n%s", resp.StatusCode, body)
	}
	app := w.url("files.localhost", "/")

	var links []string
	// 1. Straight from the console, signed in as the attacker.
	if loc := step(t, noFollow(attacker), w.url("localhost", "/auth/sign_in?rd="+urlQuery(app))); strings.Contains(loc, identity.HandoffPath) {
		links = append(links, loc)
	} else if loc != app {
		t.Errorf("signed-in console sign-in without an attempt went to %q, want the application", loc)
	}
	// 2. The attacker's browser, signed in at the console, opens the
	// application and stops before the callback.
	stopped := w.consoleOnly(attacker)
	signIn := step(t, stopped, app)
	links = append(links, step(t, stopped, signIn))
	if !strings.Contains(links[len(links)-1], identity.HandoffPath+"?code=") {
		t.Fatalf("the attacker's browser was sent to %q, want a hand-off", links[len(links)-1])
	}

	for _, link := range links {
		victim := noFollow(w.browser(nil))
		// The victim has visited the application before (holds an attempt
		// cookie of their own) — or not; both must fail.
		for _, visited := range []bool{false, true} {
			if visited {
				step(t, victim, app)
			}
			resp, body := get(t, victim, "GET", link)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("victim (visited=%v) opening the attacker's link %s = %d, want 400\n%s", visited, link, resp.StatusCode, body)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == identity.SessionCookie && ck.Value != "" {
					t.Errorf("the victim got a session cookie from the attacker's link")
				}
			}
			if resp, _ := get(t, victim, "GET", app); resp.StatusCode != http.StatusFound {
				t.Errorf("after the attacker's link the victim reaches the application: %d, want a redirect to sign in", resp.StatusCode)
			}
		}
	}
	// The attacker's own browser still completes its sign-in.
	if resp, _ := get(t, stopped, "GET", links[len(links)-1]); resp.StatusCode != http.StatusFound {
		t.Errorf("the browser that started the sign-in: callback = %d, want a redirect into the application", resp.StatusCode)
	}
}

// TestHandoffSeveralTabs: a browser signed in at the console opens two
// pages of an application at once; each tab's sign-in completes, in any
// order, and each lands on its own page.
func TestHandoffSeveralTabs(t *testing.T) {
	w := newWorld(t)
	w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
	first := w.browser(nil)
	if resp, body := get(t, first, "GET", w.url("files.localhost", "/")); resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	b := w.consoleOnly(first)
	// Both tabs reach the console before either comes back.
	signInA := step(t, b, w.url("files.localhost", "/a?x=1"))
	signInB := step(t, b, w.url("files.localhost", "/b"))
	callbackA, callbackB := step(t, b, signInA), step(t, b, signInB)
	if got := step(t, b, callbackB); got != w.url("files.localhost", "/b") {
		t.Errorf("tab B's callback went to %q", got)
	}
	if got := step(t, b, callbackA); got != w.url("files.localhost", "/a?x=1") {
		t.Errorf("tab A's callback went to %q", got)
	}
	resp, _ := get(t, b, "GET", w.url("files.localhost", "/a?x=1"))
	if resp.StatusCode != 200 {
		t.Fatalf("after both tabs signed in: %d", resp.StatusCode)
	}
	for len(w.seen) > 1 {
		<-w.seen
	}
	if up := <-w.seen; up.URL.RawQuery != "x=1" {
		t.Errorf("the application saw the query %q, want it without Portier's attempt reference", up.URL.RawQuery)
	}
}

// TestSessionCookieReplayedOnAnotherHost takes the cookies a real sign-in
// left in a browser and presents them where they were not issued: the
// console's on an application, one application's on another. Neither is a
// session there.
func TestSessionCookieReplayedOnAnotherHost(t *testing.T) {
	w := newWorld(t)
	cert := w.enrolledDevice("dev_replay", store.TrustHigh)
	w.idp.QueueUser(identitytest.NewUser("sub-rex", "rex@example.com", "staff"))
	b := w.browser(cert)
	if resp, body := get(t, b, "GET", w.url("files.localhost", "/")); resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	cookieOn := func(host string) string {
		u, _ := url.Parse(w.url(host, "/"))
		for _, c := range b.Jar.Cookies(u) {
			if c.Name == identity.SessionCookie {
				return c.Value
			}
		}
		t.Fatalf("no session cookie for %s", host)
		return ""
	}
	consoleCookie, filesCookie := cookieOn("localhost"), cookieOn("files.localhost")
	for _, tc := range []struct{ name, host, cookie string }{
		{"the files app's cookie on another app", "app.localhost", filesCookie},
		{"the console's cookie on an app", "files.localhost", consoleCookie},
		{"the console's cookie on another app", "app.localhost", consoleCookie},
	} {
		c := noFollow(w.browser(cert))
		req, _ := http.NewRequest("GET", w.url(tc.host, "/"), nil)
		req.Header.Set("Accept", "text/html")
		req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: tc.cookie})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Errorf("%s = %d, want a redirect to sign in", tc.name, resp.StatusCode)
		}
	}
	// The route cookie is no console session either.
	c := noFollow(w.browser(nil))
	req, _ := http.NewRequest("GET", w.url("localhost", "/my/devices"), nil)
	req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: filesCookie})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/auth/sign_in") {
		t.Errorf("the files app's cookie on the console = %d %q, want a redirect to sign in", resp.StatusCode, loc)
	}
}
