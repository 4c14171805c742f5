package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// startSignIn opens rawURL without a session, as a browser would, and
// returns the attempt cookie the proxy set and the attempt reference it
// passed to the console in the sign-in URL.
func (e *env) startSignIn(c *http.Client, rawURL string) (*http.Cookie, string) {
	e.t.Helper()
	resp, _ := e.do(c, "GET", rawURL, "", nil)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		e.t.Fatalf("no session: %d %q, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	rd, err := url.Parse(loc.Query().Get("rd"))
	if err != nil {
		e.t.Fatal(err)
	}
	_, ref := identity.SplitAttempt(rd.RawQuery)
	var attempt *http.Cookie
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, identity.AttemptCookiePrefix) {
			attempt = ck
		}
	}
	if attempt == nil || ref == "" || identity.HashSecret(attempt.Value) != ref {
		e.t.Fatalf("sign-in redirect %q with cookies %v: want an attempt cookie and its reference", loc, resp.Cookies())
	}
	return attempt, ref
}

// handoff stores a hand-off of console session parentID to wiki.localhost,
// bound to attempt reference ref, and returns its code.
func (e *env) handoff(parentID, ref, path string) string {
	e.t.Helper()
	code, id := identity.NewSessionSecret()
	h := &store.Handoff{ID: id, SessionID: parentID, Host: "wiki.localhost", Path: path, Attempt: ref, ExpiresAt: e.clk.Now().Add(time.Minute)}
	if err := e.st.Write(context.Background(), store.Put(h)); err != nil {
		e.t.Fatal(err)
	}
	return code
}

// cookieHeader is a Cookie header carrying cookies.
func cookieHeader(cookies ...*http.Cookie) map[string]string {
	var parts []string
	for _, c := range cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return map[string]string{"Cookie": strings.Join(parts, "; ")}
}

func sessionCookieOf(resp *http.Response) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == identity.SessionCookie && ck.Value != "" {
			return ck
		}
	}
	return nil
}

func TestHandoffCallback(t *testing.T) {
	e := newEnv(t)
	_, s := e.session("eve@example.com", "staff")
	c := e.client(nil)
	attempt, ref := e.startSignIn(c, "https://wiki.localhost/page?x=1")
	if !attempt.Secure || !attempt.HttpOnly || attempt.SameSite != http.SameSiteLaxMode || attempt.Path != "/" || attempt.Domain != "" || attempt.MaxAge <= 0 || attempt.MaxAge > 600 {
		t.Errorf("attempt cookie = %+v, want __Host-, HttpOnly, Secure, SameSite=Lax, short-lived", attempt)
	}
	// The console session proved a browser device: the route session
	// carries the same proof time (the proxy's re-check reads it there).
	parent, _ := e.st.Session(s.ParentID)
	proven := *parent
	proven.DeviceCheckedAt = e.clk.Now().Add(-time.Hour)
	if err := e.st.Write(context.Background(), store.Put(&proven)); err != nil {
		t.Fatal(err)
	}
	code := e.handoff(s.ParentID, ref, "/page?x=1")
	if resp, _ := e.do(c, "GET", "https://files.localhost/.portier/callback?code="+code, "", cookieHeader(attempt)); resp.StatusCode != 400 {
		t.Errorf("hand-off on another host = %d, want 400", resp.StatusCode)
	}
	resp, _ := e.do(c, "GET", "https://wiki.localhost/.portier/callback?code="+code, "", cookieHeader(attempt))
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/page?x=1" {
		t.Fatalf("hand-off = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	sc := sessionCookieOf(resp)
	if sc == nil || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" {
		t.Fatalf("session cookie = %+v", sc)
	}
	for _, ch := range e.st.ChildSessions(s.ParentID) {
		if ch.ID != s.ID && !ch.DeviceCheckedAt.Equal(proven.DeviceCheckedAt) {
			t.Errorf("route session proven at %v, want the console session's %v", ch.DeviceCheckedAt, proven.DeviceCheckedAt)
		}
	}
	cleared := false
	for _, ck := range resp.Cookies() {
		cleared = cleared || (ck.Name == attempt.Name && ck.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("the attempt cookie was not cleared: %v", resp.Cookies())
	}
	cert := e.device("dev_eve", store.TrustHigh, store.OwnershipCorporate)
	if resp, _ := e.do(e.client(&cert), "GET", "https://wiki.localhost/", sc.Value, nil); resp.StatusCode != 200 {
		t.Errorf("with the handed-off cookie = %d", resp.StatusCode)
	}
	if resp, _ := e.do(c, "GET", "https://wiki.localhost/.portier/callback?code="+code, "", cookieHeader(attempt)); resp.StatusCode != 400 {
		t.Errorf("replayed hand-off = %d, want 400", resp.StatusCode)
	}
	// Signing out of the console session ends the route session.
	if err := e.st.Write(context.Background(), store.Delete(store.KindSession, s.ParentID)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do(e.client(&cert), "GET", "https://wiki.localhost/", sc.Value, nil); resp.StatusCode != 302 {
		t.Errorf("child session after the parent ended = %d, want a sign-in redirect", resp.StatusCode)
	}
}

// TestHandoffBoundToBrowser is login CSRF through the hand-off: the
// attacker signs in as themselves, gets a hand-off code for the
// application and sends the link to a victim. The victim's browser did not
// start that sign-in (it holds no attempt cookie, or its own), so it must
// not get a session — least of all the attacker's.
func TestHandoffBoundToBrowser(t *testing.T) {
	e := newEnv(t)
	_, mallory := e.session("mallory@example.com", "staff")
	attacker := e.client(nil)
	_, attackerRef := e.startSignIn(attacker, "https://wiki.localhost/")
	victim := e.client(nil)
	victimAttempt, _ := e.startSignIn(victim, "https://wiki.localhost/")

	cases := []struct {
		name    string
		ref     string
		cookies []*http.Cookie
	}{
		{"victim without an attempt cookie", attackerRef, nil},
		{"victim with an attempt of their own", attackerRef, []*http.Cookie{victimAttempt}},
		{"victim holding a forged cookie of the right name", attackerRef, []*http.Cookie{{Name: victimAttempt.Name, Value: strings.Repeat("A", 43)}}},
		{"hand-off bound to no attempt", "", []*http.Cookie{victimAttempt}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code := e.handoff(mallory.ParentID, tc.ref, "/")
			hdr := map[string]string{}
			if tc.cookies != nil {
				hdr = cookieHeader(tc.cookies...)
			}
			resp, body := e.do(victim, "GET", "https://wiki.localhost/.portier/callback?code="+url.QueryEscape(code), "", hdr)
			if resp.StatusCode != http.StatusBadRequest || sessionCookieOf(resp) != nil {
				t.Fatalf("victim opening the attacker's link = %d, cookie %v, want 400 and no session\n%s", resp.StatusCode, sessionCookieOf(resp), body)
			}
			if len(e.st.ChildSessions(mallory.ParentID)) != 1 {
				t.Errorf("a route session of the attacker's was created for the victim")
			}
		})
	}
}

// TestStepUpStartsBoundAttempt: the step-up redirect, like the sign-in
// one, carries an attempt of this browser, since it ends in a hand-off too.
func TestStepUpStartsBoundAttempt(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.session("sue@example.com", "staff")
	resp, _ := e.do(e.client(nil), "GET", "https://wiki.localhost/admin/users", cookie, nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Path != "/auth/step_up" {
		t.Fatalf("stale MFA = %d %q, want a step-up redirect", resp.StatusCode, loc)
	}
	rd, _ := url.Parse(loc.Query().Get("rd"))
	_, ref := identity.SplitAttempt(rd.RawQuery)
	var found bool
	for _, ck := range resp.Cookies() {
		found = found || (strings.HasPrefix(ck.Name, identity.AttemptCookiePrefix) && identity.HashSecret(ck.Value) == ref)
	}
	if !found || rd.Path != "/admin/users" {
		t.Errorf("step-up rd %q with cookies %v: want an attempt cookie and its reference", rd, resp.Cookies())
	}
}

// TestAttemptCookiesBounded: a browser that keeps starting sign-ins holds
// at most four attempt cookies; past that the proxy reuses one.
func TestAttemptCookiesBounded(t *testing.T) {
	e := newEnv(t)
	c := e.client(nil)
	var held []*http.Cookie
	for i := 0; i < 4; i++ {
		ck, _ := e.startSignIn(c, "https://wiki.localhost/")
		held = append(held, ck)
	}
	resp, _ := e.do(c, "GET", "https://wiki.localhost/", "", cookieHeader(held...))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	rd, _ := url.Parse(loc.Query().Get("rd"))
	_, ref := identity.SplitAttempt(rd.RawQuery)
	set := resp.Cookies()
	if len(set) != 1 || set[0].Name != held[0].Name || identity.HashSecret(set[0].Value) != ref {
		t.Errorf("fifth attempt set %v, want the first attempt cookie reused (and refreshed)", set)
	}
}

// TestAttemptCookiesNotForwarded: attempt cookies are Portier's; the
// application sees its own cookies only.
func TestAttemptCookiesNotForwarded(t *testing.T) {
	e := newEnv(t)
	c := e.client(nil)
	attempt, _ := e.startSignIn(c, "https://files.localhost/")
	cookie, _ := e.sessionOn("files.localhost", "ida@example.com", "staff")
	hdr := cookieHeader(&http.Cookie{Name: identity.SessionCookie, Value: cookie}, attempt, &http.Cookie{Name: "app", Value: "1"})
	if resp, _ := e.do(c, "GET", "https://files.localhost/list", "", hdr); resp.StatusCode != 200 {
		t.Fatalf("GET = %d", resp.StatusCode)
	}
	if got := e.got.last().Header.Values("Cookie"); len(got) != 1 || got[0] != "app=1" {
		t.Errorf("the application received cookies %q, want only its own", got)
	}
}
