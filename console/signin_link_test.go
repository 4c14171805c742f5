package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
)

// oidcSignIn runs the provider's code flow in browser b as user u and
// returns the callback's response.
func oidcSignIn(t *testing.T, b *browser, idp *identitytest.IdP, u *identitytest.User) page {
	t.Helper()
	p := b.get(extURL + "/auth/oidc/corp/start")
	if p.StatusCode != http.StatusFound {
		t.Fatalf("start: %d %s", p.StatusCode, p.body)
	}
	return b.get(idp.Login(t, p.Header.Get("Location"), u).String())
}

// The attack over the running server: a provider asserting the local
// owner's address (another case) gets no session; the owner links the
// provider's account explicitly, after which the provider signs them in.
func TestLinkOverHTTP(t *testing.T) {
	idp := identitytest.StartIdP(t)
	cfg := idp.Config("corp")
	cfg.AllowedDomains = []string{"example.com"}
	e := newEnv(t, cfg)
	owner := e.addUser(t, "owner@example.com", "correct horse battery", false)

	attacker := e.browser(t)
	p := oidcSignIn(t, attacker, idp, identitytest.NewUser("sub-owner", "Owner@EXAMPLE.com"))
	if p.StatusCode != http.StatusForbidden || p.setCookie(identity.SessionCookie) != "" {
		t.Fatalf("provider asserting the owner's address: %d, Set-Cookie %q\n%s", p.StatusCode, p.setCookie(identity.SessionCookie), p.body)
	}
	if !strings.Contains(p.body, "Link my Mock corp account") {
		t.Errorf("the refusal does not say how to link:\n%s", p.body)
	}
	if len(e.st.SessionsOf(owner.ID)) != 0 {
		t.Fatal("the owner has a session")
	}

	b := e.browser(t)
	if p := b.signInPassword("owner@example.com", "correct horse battery", ""); p.StatusCode >= 400 {
		t.Fatalf("password sign-in: %d", p.StatusCode)
	}
	session := b.cookie(identity.SessionCookie)
	p = b.get(extURL + "/auth/security_keys")
	if !strings.Contains(p.body, `action="/auth/link/corp"`) {
		t.Fatalf("security page offers no link:\n%s", p.body)
	}
	// Without the page's CSRF token nothing starts.
	if p := b.postForm(extURL+"/auth/link/corp", url.Values{"csrf": {"forged"}}); p.StatusCode != http.StatusForbidden {
		t.Errorf("link start without CSRF token: %d", p.StatusCode)
	}
	start := b.postForm(extURL+"/auth/link/corp", url.Values{"csrf": {p.csrf(t)}})
	if start.StatusCode != http.StatusSeeOther {
		t.Fatalf("link start: %d %s", start.StatusCode, start.body)
	}
	cb := idp.Login(t, start.Header.Get("Location"), identitytest.NewUser("sub-owner", "owner@example.com"))
	// The callback in another browser (the attacker's) links nothing.
	if p := attacker.get(cb.String()); p.StatusCode < 400 {
		t.Fatalf("link callback in another browser: %d", p.StatusCode)
	}
	start = b.postForm(extURL+"/auth/link/corp", url.Values{"csrf": {b.get(extURL + "/auth/security_keys").csrf(t)}})
	cb = idp.Login(t, start.Header.Get("Location"), identitytest.NewUser("sub-owner", "owner@example.com"))
	p = b.get(cb.String())
	if p.StatusCode != http.StatusFound || p.Header.Get("Location") != extURL+identity.LinkDonePath {
		t.Fatalf("link callback: %d to %q\n%s", p.StatusCode, p.Header.Get("Location"), p.body)
	}
	if b.cookie(identity.SessionCookie) != session {
		t.Error("linking replaced the browser's session")
	}
	if l, ok := e.st.IdentityLink(idp.Issuer(), "sub-owner"); !ok || l.UserID != owner.ID {
		t.Fatalf("link = %+v, %v", l, ok)
	}
	linked := false
	for _, ev := range e.st.Audit() {
		linked = linked || (ev.Action == "identity.linked" && ev.Target == owner.ID && ev.Detail["method"] == "explicit")
	}
	if !linked {
		t.Error("the link is not audited")
	}
	if p := b.get(extURL + "/auth/security_keys"); !strings.Contains(p.body, "You can also sign in with:") || strings.Contains(p.body, `action="/auth/link/corp"`) {
		t.Errorf("security page after linking:\n%s", p.body)
	}

	// Now the provider signs the owner in, in a new browser.
	nb := e.browser(t)
	if p := oidcSignIn(t, nb, idp, identitytest.NewUser("sub-owner", "owner@example.com")); p.StatusCode != http.StatusFound {
		t.Fatalf("sign-in through the link: %d\n%s", p.StatusCode, p.body)
	}
	if sess, ok := e.id.SessionFor(t.Context(), nb.cookie(identity.SessionCookie)); !ok || sess.UserID != owner.ID {
		t.Fatalf("session = %+v, %v", sess, ok)
	}

	// The owner removes the link: the provider no longer signs them in.
	p = b.get(extURL + "/auth/security_keys")
	m := regexp.MustCompile(`name="action" value="unlink"><input type="hidden" name="id" value="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no Remove button for the link:\n%s", p.body)
	}
	if p := b.postForm(extURL+"/auth/security_keys", url.Values{"csrf": {p.csrf(t)}, "action": {"unlink"}, "id": {m[1]}}); p.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink: %d\n%s", p.StatusCode, p.body)
	}
	if p := oidcSignIn(t, e.browser(t), idp, identitytest.NewUser("sub-owner", "owner@example.com")); p.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in after unlinking: %d", p.StatusCode)
	}
}
