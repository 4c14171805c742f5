package console

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
)

// checkCookieFlags checks a Set-Cookie line: __Host- prefix, Secure,
// HttpOnly, SameSite=Lax, Path=/ and no Domain.
func checkCookieFlags(t *testing.T, name, line string) {
	t.Helper()
	if line == "" {
		t.Fatalf("no Set-Cookie for %s", name)
	}
	if !strings.HasPrefix(name, "__Host-") {
		t.Errorf("cookie %s lacks the __Host- prefix", name)
	}
	for _, want := range []string{"; Path=/", "; Secure", "; HttpOnly", "; SameSite=Lax"} {
		if !strings.Contains(line, want) {
			t.Errorf("Set-Cookie %q lacks %q", line, want)
		}
	}
	if strings.Contains(strings.ToLower(line), "domain=") {
		t.Errorf("Set-Cookie %q names a domain", line)
	}
}

func TestOIDCCodeFlowOverHTTP(t *testing.T) {
	idp := identitytest.StartIdP(t)
	e := newEnv(t, idp.Config("corp"))
	b := e.browser(t)
	rd := attempted(routeURL + "/page?x=1")

	p := b.get(extURL + "/auth/sign_in?" + url.Values{"rd": {rd}}.Encode())
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, "Sign in with Mock corp") {
		t.Fatalf("sign-in page: %d\n%s", p.StatusCode, p.body)
	}
	checkCookieFlags(t, identity.FlowCookie, p.setCookie(identity.FlowCookie))
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}

	p = b.get(extURL + "/auth/oidc/corp/start?" + url.Values{"rd": {rd}}.Encode())
	if p.StatusCode != http.StatusFound {
		t.Fatalf("start: %d %s", p.StatusCode, p.body)
	}
	auth, _ := url.Parse(p.Header.Get("Location"))
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" ||
		q.Get("nonce") == "" || q.Get("redirect_uri") != extURL+identity.CallbackPath {
		t.Fatalf("authorization request %v lacks PKCE S256, state, nonce or the redirect URI", q)
	}
	user := identitytest.NewUser("sub-1", "grace@example.com", "staff", "admins")
	cb := idp.Login(t, auth.String(), user)

	p = b.get(cb.String())
	if p.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d\n%s", p.StatusCode, p.body)
	}
	checkCookieFlags(t, identity.SessionCookie, p.setCookie(identity.SessionCookie))
	loc, _ := url.Parse(p.Header.Get("Location"))
	if loc.Host != "wiki.localhost:8443" || loc.Path != identity.HandoffPath || loc.Query().Get("code") == "" {
		t.Fatalf("after sign-in the browser goes to %q, want the route's hand-off", loc)
	}
	h, ok := e.st.Handoff(identity.HashSecret(loc.Query().Get("code")))
	if !ok || h.Host != "wiki.localhost" || h.Path != "/page?x=1" || h.Attempt != testAttemptRef {
		t.Fatalf("hand-off = %+v", h)
	}

	// PKCE: the token request carried the verifier of the challenge.
	var verifier string
	for _, r := range idp.TokenRequests() {
		if r.Get("grant_type") == "authorization_code" && r.Get("code_verifier") != "" {
			verifier = r.Get("code_verifier")
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	if verifier == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge") {
		t.Errorf("code verifier %q does not match the S256 challenge", verifier)
	}

	sess, ok := e.id.SessionFor(t.Context(), b.cookie(identity.SessionCookie))
	if !ok || sess.Email != "grace@example.com" || sess.IdP != "corp" || !slices.Equal(sess.Groups, []string{"staff", "admins"}) {
		t.Fatalf("session = %+v, %v", sess, ok)
	}

	// The same callback again (a replayed state) is refused.
	p = b.get(cb.String())
	if p.StatusCode != http.StatusBadRequest || p.setCookie(identity.SessionCookie) != "" {
		t.Errorf("replayed callback: %d, Set-Cookie %q", p.StatusCode, p.setCookie(identity.SessionCookie))
	}
	if strings.Contains(p.body, "record already exists") || strings.Contains(p.body, "store:") {
		t.Errorf("error page shows internal text:\n%s", p.body)
	}

	// Signed in, the sign-in page hands off at once.
	p = b.get(extURL + "/auth/sign_in?" + url.Values{"rd": {attempted(routeURL + "/other")}}.Encode())
	if loc, _ := url.Parse(p.Header.Get("Location")); p.StatusCode != http.StatusFound || loc.Path != identity.HandoffPath {
		t.Errorf("signed-in sign-in page: %d to %q, want a hand-off", p.StatusCode, p.Header.Get("Location"))
	}
	// A route URL that no proxy attempt names gets no code at all (nothing
	// for an attacker to forward): the browser goes to the application.
	p = b.get(extURL + "/auth/sign_in?" + url.Values{"rd": {routeURL + "/other"}}.Encode())
	if loc := p.Header.Get("Location"); p.StatusCode != http.StatusFound || loc != routeURL+"/other" {
		t.Errorf("signed-in sign-in page without an attempt: %d to %q, want the application itself", p.StatusCode, loc)
	}
}

func TestOIDCStateAndNonceChecked(t *testing.T) {
	idp := identitytest.StartIdP(t)
	e := newEnv(t, idp.Config("corp"))

	start := func(b *browser) *url.URL {
		p := b.get(extURL + "/auth/oidc/corp/start")
		auth, err := url.Parse(p.Header.Get("Location"))
		if p.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("start: %d", p.StatusCode)
		}
		return idp.Login(t, auth.String(), nil)
	}
	refused := func(name string, p page) {
		t.Helper()
		if p.StatusCode < 400 || p.setCookie(identity.SessionCookie) != "" {
			t.Errorf("%s: %d, Set-Cookie %q; want refused", name, p.StatusCode, p.setCookie(identity.SessionCookie))
		}
	}

	b := e.browser(t)
	cb := start(b)
	q := cb.Query()
	q.Set("state", q.Get("state")+"x")
	cb.RawQuery = q.Encode()
	refused("altered state", b.get(cb.String()))

	// Right state, other browser (login CSRF).
	cb = start(e.browser(t))
	refused("state from another browser", b.get(cb.String()))

	// The provider answers with a nonce of another attempt.
	idp.OverrideNonce("not-the-nonce")
	b = e.browser(t)
	refused("nonce mismatch", b.get(start(b).String()))
	idp.OverrideNonce("")

	// The provider reports an error.
	b = e.browser(t)
	cb = start(b)
	q = cb.Query()
	q.Del("code")
	q.Set("error", "access_denied")
	cb.RawQuery = q.Encode()
	refused("provider error", b.get(cb.String()))

	var reasons []string
	for _, ev := range e.st.Audit() {
		if ev.Action == "signin.failure" {
			reasons = append(reasons, ev.Detail["reason"])
		}
	}
	want := []string{"nonce mismatch", "provider answered access_denied", "state from another browser", "unknown, expired or replayed state"}
	if slices.Sort(reasons); !slices.Equal(reasons, want) {
		t.Errorf("refusals audited with reasons %q, want %q", reasons, want)
	}
}

func TestProviderUnavailablePage(t *testing.T) {
	idp := identitytest.StartIdP(t)
	cfg := idp.Config("corp")
	cfg.Issuer = "http://127.0.0.1:1/oidc"
	e := newEnv(t, cfg)
	b := e.browser(t)
	p := b.get(extURL + "/auth/sign_in?idp=corp&rd=" + url.QueryEscape(routeURL+"/"))
	if p.StatusCode != http.StatusServiceUnavailable || !strings.Contains(p.body, "unavailable") {
		t.Fatalf("sign-in with a provider that is down: %d\n%s", p.StatusCode, p.body)
	}
	if strings.Contains(p.body, "127.0.0.1") || strings.Contains(p.body, "connection refused") {
		t.Errorf("the page shows internal error text:\n%s", p.body)
	}
}
