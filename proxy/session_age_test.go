package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// agePolicies gives wiki.localhost a rule with an 8 h session_max_age.
const agePolicies = `
policies:
  - id: age
    allow:
      - id: staff-8h
        group: staff
        session_max_age: 8h
`

// loadAgeRoute makes wiki.localhost use agePolicies and returns them.
func (e *env) loadAgeRoute() []*policy.Policy {
	e.t.Helper()
	pols, err := policy.Parse("age.yaml", []byte(agePolicies))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.p.Load([]proxy.Route{{Route: config.Route{From: "https://wiki.localhost", To: e.upstream.URL, Policy: "age"}}}, pols); err != nil {
		e.t.Fatal(err)
	}
	return pols
}

// signedInAgo creates a console session signed in ago before now and
// hands it off to wiki.localhost through the real callback (now, long
// after the sign-in), returning the route session's cookie and the console
// session's id.
func (e *env) signedInAgo(ago time.Duration) (cookie, consoleID string) {
	e.t.Helper()
	_, consoleID = identity.NewSessionSecret()
	now := e.clk.Now()
	at := now.Add(-ago)
	console := &store.Session{ID: consoleID, UserID: "usr_age", Email: "age@example.com", Groups: []string{"staff"}, IdP: "local",
		CreatedAt: at, LastSeen: now, ExpiresAt: now.Add(identity.SessionAbsolute)}
	if err := e.st.Write(context.Background(), store.Put(console)); err != nil {
		e.t.Fatal(err)
	}
	c := e.client(nil)
	attempt, ref := e.startSignIn(c, "https://wiki.localhost/page")
	code := e.handoff(consoleID, ref, "/page")
	resp, _ := e.do(c, "GET", "https://wiki.localhost/.portier/callback?code="+code, "", cookieHeader(attempt))
	sc := sessionCookieOf(resp)
	if resp.StatusCode != http.StatusFound || sc == nil {
		e.t.Fatalf("hand-off = %d, cookie %v", resp.StatusCode, sc)
	}
	return sc.Value, consoleID
}

// postSignOut posts the deny page's "Sign in again" form.
func (e *env) postSignOut(cookie, back string, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/.portier/sign_out", strings.NewReader(url.Values{"return": {back}}.Encode()))
	req.Host = "wiki.localhost"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: cookie})
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client(nil).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestSessionMaxAgeDeniesOldSignIn: on a route whose rule has
// session_max_age: 8h, a person who signed in 9 h ago (the hand-off to the
// route being recent) is denied with the reason and a working "Sign in
// again"; one who signed in 7 h ago is let through.
func TestSessionMaxAgeDeniesOldSignIn(t *testing.T) {
	e := newEnv(t)
	e.loadAgeRoute()
	young, _ := e.signedInAgo(7 * time.Hour)
	if resp, body := e.do(e.client(nil), "GET", "https://wiki.localhost/page", young, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in 7h ago = %d %s, want 200", resp.StatusCode, body)
	}
	old, consoleID := e.signedInAgo(9 * time.Hour)
	resp, body := e.do(e.client(nil), "GET", "https://wiki.localhost/page?tab=2", old, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "You signed in too long ago for this app") ||
		!strings.Contains(body, "within the last 8h") || !strings.Contains(body, "Sign in again") ||
		!strings.Contains(body, `action="/.portier/sign_out"`) || !strings.Contains(body, `name="return" value="/page?tab=2"`) {
		t.Fatalf("signed in 9h ago = %d, want 403 explaining the sign-in is too old with a sign-in-again form:\n%s", resp.StatusCode, body)
	}
	if got := e.got.last(); got != nil && got.URL.Path == "/page" && got.URL.RawQuery == "tab=2" {
		t.Error("the denied request reached the upstream")
	}

	// A cross-site form cannot use "Sign in again" to sign the person out.
	if r := e.postSignOut(old, "/page", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in-again = %d, want 403", r.StatusCode)
	}
	if _, ok := e.st.Session(consoleID); !ok {
		t.Fatal("a refused sign-in-again ended the console session")
	}
	// "Sign in again" ends the old sign-in and returns to the page on this
	// host, which then starts a new sign-in.
	r := e.postSignOut(old, "/page?tab=2", map[string]string{"Origin": "https://wiki.localhost", "Sec-Fetch-Site": "same-origin"})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/page?tab=2" {
		t.Fatalf("sign-in-again = %d %q, want 303 back to /page?tab=2", r.StatusCode, r.Header.Get("Location"))
	}
	if _, ok := e.st.Session(consoleID); ok {
		t.Error("sign-in-again left the old console session")
	}
	if resp, _ := e.do(e.client(nil), "GET", "https://wiki.localhost/page?tab=2", old, nil); resp.StatusCode != http.StatusFound ||
		!strings.HasPrefix(resp.Header.Get("Location"), "https://portier.localhost/") {
		t.Errorf("after sign-in-again = %d %q, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The return path stays on this host.
	other, _ := e.signedInAgo(9 * time.Hour)
	if r := e.postSignOut(other, "//evil.example/x", map[string]string{"Origin": "https://wiki.localhost"}); r.Header.Get("Location") != "/" {
		t.Errorf("sign-in-again to //evil.example = %q, want /", r.Header.Get("Location"))
	}
}

// TestSessionMaxAgeClosesWebSocket: a WebSocket opened while the sign-in
// was young enough is closed by the once-a-second re-evaluation when the
// injected clock carries the sign-in past the rule's session_max_age.
func TestSessionMaxAgeClosesWebSocket(t *testing.T) {
	e := newEnv(t)
	e.loadAgeRoute()
	cookie, _ := e.signedInAgo(8*time.Hour - time.Minute)
	cert := e.device("dev_age", store.TrustHigh, store.OwnershipCorporate)
	conn, br := e.openWebSocket(cert, cookie)
	time.Sleep(1500 * time.Millisecond) // a re-evaluation while still young enough
	echo(t, conn, br)
	e.clk.Advance(2 * time.Minute)
	waitClosed(t, conn, br, "after the sign-in passed session_max_age")
}

// TestSessionMaxAgeSimulatorMatchesLive: the what-if with a session age
// decides as the live proxy does for a sign-in that old.
func TestSessionMaxAgeSimulatorMatchesLive(t *testing.T) {
	e := newEnv(t)
	pols := e.loadAgeRoute()
	sim, err := proxy.NewSimulator([]config.Route{{From: "https://wiki.localhost", To: "http://x", Policy: "age"}}, pols)
	if err != nil {
		t.Fatal(err)
	}
	for _, ago := range []time.Duration{7 * time.Hour, 9 * time.Hour} {
		cookie, _ := e.signedInAgo(ago)
		resp, _ := e.do(e.client(nil), "GET", "https://wiki.localhost/page", cookie, nil)
		q := proxy.Query{Email: "age@example.com", Groups: "staff", IdP: "local", SessionAge: ago.String()}
		s, err := sim.Ask("https://wiki.localhost/page", q, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if live := resp.StatusCode == http.StatusOK; live != s.Decision.Outcome.Allowed() {
			t.Errorf("signed in %v ago: live %d, what-if %v", ago, resp.StatusCode, s.Decision.Outcome)
		}
		if ago > 8*time.Hour && (len(s.Decision.Reasons) != 1 || s.Decision.Reasons[0].Code != policy.CodeSessionMaxAge) {
			t.Errorf("what-if reasons %+v, want the sign-in-too-old reason", s.Decision.Reasons)
		}
	}
	if _, err := (proxy.Query{SessionAge: "yesterday"}).Input(e.clk.Now()); err == nil || !strings.Contains(err.Error(), "session_age") {
		t.Errorf("bad session_age: err = %v, want one naming the field", err)
	}
}
