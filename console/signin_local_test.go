package console

import (
	"github.com/portier/portier/identity/identitytest"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/portier/portier/identity"
)

const pw = "correct horse battery"

func TestPasswordSignInOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "ada@example.com", pw, false)
	e.addUser(t, "off@example.com", pw, true)

	b := e.browser(t)
	p := b.get(extURL + "/auth/sign_in")
	if !strings.Contains(p.body, `action="/auth/password"`) {
		t.Fatalf("no password form on the sign-in page:\n%s", p.body)
	}
	csrf := p.csrf(t)
	form := func(email, password string) url.Values {
		return url.Values{"email": {email}, "password": {password}, "csrf": {csrf}, "rd": {"/auth/security_keys"}}
	}
	// No CSRF token, a wrong one, or a cross-site post: refused before any
	// password is checked.
	if p := b.postForm(extURL+"/auth/password", url.Values{"email": {"ada@example.com"}, "password": {pw}}); p.StatusCode != http.StatusForbidden {
		t.Errorf("post without CSRF token: %d", p.StatusCode)
	}
	if p := b.postForm(extURL+"/auth/password", form("ada@example.com", pw), "Origin", "https://evil.example"); p.StatusCode != http.StatusForbidden {
		t.Errorf("post from another origin: %d", p.StatusCode)
	}
	if p := b.postForm(extURL+"/auth/password", form("ada@example.com", pw), "Sec-Fetch-Site", "cross-site"); p.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", p.StatusCode)
	}
	other := e.browser(t) // its own flow cookie: the token above is not its
	other.get(extURL + "/auth/sign_in")
	if p := other.postForm(extURL+"/auth/password", form("ada@example.com", pw)); p.StatusCode != http.StatusForbidden {
		t.Errorf("post with another browser's CSRF token: %d", p.StatusCode)
	}

	if p := b.postForm(extURL+"/auth/password", form("ada@example.com", "wrong password!!")); p.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(p.body, "not right") {
		t.Errorf("wrong password: %d", p.StatusCode)
	}
	if p := b.postForm(extURL+"/auth/password", form("off@example.com", pw)); p.StatusCode != http.StatusForbidden ||
		!strings.Contains(p.body, "disabled") {
		t.Errorf("disabled account: %d", p.StatusCode)
	}
	p = b.postForm(extURL+"/auth/password", form("ada@example.com", pw))
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != extURL+"/auth/security_keys" {
		t.Fatalf("right password: %d to %q", p.StatusCode, p.Header.Get("Location"))
	}
	checkCookieFlags(t, identity.SessionCookie, p.setCookie(identity.SessionCookie))

	// Signed in: the security keys page, then sign out.
	p = b.get(extURL + "/auth/security_keys")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, "ada@example.com") {
		t.Fatalf("security keys page: %d", p.StatusCode)
	}
	cookie := b.cookie(identity.SessionCookie)
	if p := b.postForm(extURL+"/auth/sign_out", url.Values{}); p.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without CSRF token: %d", p.StatusCode)
	}
	p = b.postForm(extURL+"/auth/sign_out", url.Values{"csrf": {p.csrf(t)}})
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/auth/signed_out" {
		t.Fatalf("sign out: %d to %q", p.StatusCode, p.Header.Get("Location"))
	}
	if _, ok := e.st.Session(identity.HashSecret(cookie)); ok {
		t.Error("the session outlived sign-out")
	}
	if b.cookie(identity.SessionCookie) != "" {
		t.Error("the session cookie was not cleared")
	}
	if p := b.get(extURL + "/auth/signed_out"); p.StatusCode != http.StatusOK {
		t.Errorf("signed-out page: %d", p.StatusCode)
	}
}

func TestPasswordRateLimitOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	csrf := b.get(extURL + "/auth/sign_in").csrf(t)
	var last int
	for range 7 {
		last = b.postForm(extURL+"/auth/password", url.Values{"email": {"ada@example.com"}, "password": {"guess guess guess"},
			"csrf": {csrf}}).StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("7th wrong password: %d, want 429", last)
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	if p := b.signInPassword("ada@example.com", pw, ""); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", p.StatusCode)
	}
	for _, rd := range []string{
		"https://evil.com/", "//evil.com", "//evil.com/x", `/\evil.com`, `\/evil.com`, "https://localhost.evil.com",
		"https://portier.localhost.evil.com/", "javascript:alert(1)", "https://good@evil.com", "https://wiki.localhost:8443@evil.com/",
		"http://wiki.localhost:8443/", "data:text/html,x", "https:evil.com", "/%09/evil.com\t",
	} {
		p := b.get(extURL + "/auth/sign_in?" + url.Values{"rd": {rd}}.Encode())
		loc, err := url.Parse(p.Header.Get("Location"))
		if p.StatusCode != http.StatusFound || err != nil || loc.Scheme != "https" || loc.Host != extHost {
			t.Errorf("rd=%q sends the browser to %q (%d), want the console", rd, p.Header.Get("Location"), p.StatusCode)
		}
	}
	p := b.get(extURL + "/auth/sign_in?" + url.Values{"rd": {routeURL + "/ok"}}.Encode())
	if loc, _ := url.Parse(p.Header.Get("Location")); loc.Host != "wiki.localhost:8443" {
		t.Errorf("a configured route was not accepted: %q", p.Header.Get("Location"))
	}
}

// TestWebAuthnOverHTTP registers a key through the JSON endpoints, then
// uses it as the second factor of a password sign-in and for step-up.
func TestWebAuthnOverHTTP(t *testing.T) {
	e := newEnv(t)
	u := e.addUser(t, "ada@example.com", pw, false)
	rp := virtualwebauthn.RelyingParty{Name: "Portier", ID: "portier.localhost", Origin: extURL}
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})
	cred := identitytest.NewEC2Credential()

	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "")
	csrf := b.get(extURL + "/auth/security_keys").csrf(t)
	var cer identity.Ceremony
	if p := b.postJSON(extURL+"/auth/webauthn/register/begin", "", map[string]string{"name": "k"}, nil); p.StatusCode != http.StatusForbidden {
		t.Errorf("register without CSRF token: %d", p.StatusCode)
	}
	if p := b.postJSON(extURL+"/auth/webauthn/register/begin", csrf, map[string]string{"name": "YubiKey 5"}, &cer); p.StatusCode != http.StatusOK {
		t.Fatalf("register begin: %d %s", p.StatusCode, p.body)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(cer.Options))
	if err != nil {
		t.Fatal(err)
	}
	att := virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *opts)
	p := b.postJSON(extURL+"/auth/webauthn/register/finish", csrf, map[string]any{"ceremony": cer.Token, "credential": rawJSON(att)}, nil)
	if p.StatusCode != http.StatusCreated {
		t.Fatalf("register finish: %d %s", p.StatusCode, p.body)
	}
	auth.AddCredential(cred)
	if p := b.get(extURL + "/auth/security_keys"); !strings.Contains(p.body, "YubiKey 5") {
		t.Error("the new key is not listed")
	}

	// A new browser: password, then the key.
	b2 := e.browser(t)
	p = b2.signInPassword("ada@example.com", pw, attempted(routeURL+"/admin"))
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `data-webauthn="login"`) || p.setCookie(identity.SessionCookie) != "" {
		t.Fatalf("password with a key: %d, want the second-factor page and no session yet\n%s", p.StatusCode, p.body)
	}
	pending := strings.SplitN(strings.SplitN(p.body, `data-pending="`, 2)[1], `"`, 2)[0]
	csrf2 := p.csrf(t)
	if p := b2.postJSON(extURL+"/auth/webauthn/login/begin", csrf2, map[string]string{"pending": pending}, &cer); p.StatusCode != http.StatusOK {
		t.Fatalf("login begin: %d %s", p.StatusCode, p.body)
	}
	aopts, _ := virtualwebauthn.ParseAssertionOptions(string(cer.Options))
	var out struct{ Redirect string }
	p = b2.postJSON(extURL+"/auth/webauthn/login/finish", csrf2,
		map[string]any{"ceremony": cer.Token, "credential": rawJSON(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *aopts))}, &out)
	if p.StatusCode != http.StatusOK || !strings.HasPrefix(out.Redirect, routeURL+identity.HandoffPath) {
		t.Fatalf("login finish: %d %s", p.StatusCode, p.body)
	}
	checkCookieFlags(t, identity.SessionCookie, p.setCookie(identity.SessionCookie))

	// Step-up from the first browser.
	p = b.get(extURL + "/auth/step_up?" + url.Values{"rd": {attempted(routeURL + "/admin")}}.Encode())
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `data-webauthn="step_up"`) {
		t.Fatalf("step-up page: %d\n%s", p.StatusCode, p.body)
	}
	if p := b.postJSON(extURL+"/auth/webauthn/step_up/begin", csrf, map[string]string{"rd": attempted(routeURL + "/admin")}, &cer); p.StatusCode != http.StatusOK {
		t.Fatalf("step-up begin: %d %s", p.StatusCode, p.body)
	}
	aopts, _ = virtualwebauthn.ParseAssertionOptions(string(cer.Options))
	p = b.postJSON(extURL+"/auth/webauthn/step_up/finish", csrf,
		map[string]any{"ceremony": cer.Token, "credential": rawJSON(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *aopts))}, &out)
	if p.StatusCode != http.StatusOK || !strings.HasPrefix(out.Redirect, routeURL+identity.HandoffPath) {
		t.Fatalf("step-up finish: %d %s", p.StatusCode, p.body)
	}
	sess, _ := e.st.Session(identity.HashSecret(b.cookie(identity.SessionCookie)))
	if !sess.MFAAt.Equal(e.clock.Now()) {
		t.Errorf("MFAAt = %v after step-up", sess.MFAAt)
	}

	// No enrolled device: the device page says so and the ceremony does not start.
	if p := b.get(extURL + "/auth/device?rd=/"); p.StatusCode != http.StatusOK || !strings.Contains(p.body, "No device of yours") {
		t.Errorf("device page without a device credential: %d", p.StatusCode)
	}
	if p := b.postJSON(extURL+"/auth/webauthn/device/begin", csrf, map[string]string{"rd": "/"}, nil); p.StatusCode != http.StatusNotFound {
		t.Errorf("device check without a device credential: %d %s", p.StatusCode, p.body)
	}

	// Step-up without a session goes to sign-in first.
	if p := e.browser(t).get(extURL + "/auth/step_up?rd=/x"); p.StatusCode != http.StatusFound ||
		!strings.HasPrefix(p.Header.Get("Location"), "/auth/sign_in?rd=") {
		t.Errorf("step-up signed out: %d to %q", p.StatusCode, p.Header.Get("Location"))
	}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func TestSignInRoutesRegistered(t *testing.T) {
	e := newEnv(t)
	con := e.srv.Config.Handler.(*Console)
	have := map[string]bool{}
	for _, r := range con.Routes() {
		have[r.Method+" "+r.Path] = true
	}
	for _, want := range []string{"GET /auth/sign_in", "GET /auth/oidc/:id/start", "GET /auth/oidc/callback",
		"POST /auth/password", "POST /auth/webauthn/login/begin", "POST /auth/webauthn/login/finish", "GET /auth/step_up",
		"GET /auth/security_keys", "POST /auth/security_keys", "GET /auth/device", "POST /auth/webauthn/device/finish", "POST /auth/sign_out", "GET /auth/signed_out"} {
		if !have[want] {
			t.Errorf("route %s missing", want)
		}
	}
}

func TestPasswordSignInToRouteUsesContinuePage(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "ada@example.com", pw, false)
	p := e.browser(t).signInPassword("ada@example.com", pw, attempted(routeURL+"/docs?a=b"))
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `http-equiv="refresh"`) ||
		!strings.Contains(p.body, "https://wiki.localhost:8443/.portier/callback?code=") {
		t.Fatalf("sign-in to a route: %d\n%s", p.StatusCode, p.body)
	}
	if p.Header.Get("Referrer-Policy") != "no-referrer" || p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("continue page headers: %v", p.Header)
	}
}
