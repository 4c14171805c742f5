package identity

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// corpIdP is the mock provider's config, trusted for example.com when
// domains say so.
func corpIdP(idp *identitytest.IdP, domains ...string) config.IdP {
	c := idp.Config("corp")
	c.AllowedDomains = domains
	return c
}

// linkCount is the number of identity links stored.
func linkCount(f *fixture) int {
	n := 0
	for _, u := range f.st.Users() {
		n += len(f.st.LinksOf(u.ID))
	}
	return n
}

// auditDetail returns the detail of the last audit event with action.
func auditDetail(f *fixture, action string) map[string]string {
	var d map[string]string
	for _, ev := range f.st.Audit() {
		if ev.Action == action {
			d = ev.Detail
		}
	}
	return d
}

// The attack: a configured provider asserts the local owner's e-mail (in
// another case) and signs in as the owner without password or key.
func TestOIDCOwnerEmailNotTakenOver(t *testing.T) {
	for _, domains := range [][]string{nil, {"example.com"}} {
		idp := identitytest.StartIdP(t)
		f := newFixture(t, corpIdP(idp, domains...))
		owner := f.addUser(t, "owner@example.com", "correct horse battery", func(u *store.User) { u.Role = "owner" })
		for _, email := range []string{"owner@example.com", "OWNER@Example.COM"} {
			si, err := oidcSignIn(t, f, idp, identitytest.NewUser("attacker-sub", email), "")
			if err == nil {
				t.Fatalf("domains %v: provider asserting %q signed in as %s", domains, email, si.Session.UserID)
			}
			if apperr.Status(err) != http.StatusForbidden {
				t.Errorf("domains %v, %q: %v, want 403", domains, email, err)
			}
		}
		if n := len(f.st.SessionsOf(owner.ID)); n != 0 {
			t.Errorf("domains %v: the owner has %d sessions", domains, n)
		}
		if n := linkCount(f); n != 0 {
			t.Errorf("domains %v: %d links created", domains, n)
		}
		if !f.audited("signin.failure") {
			t.Error("refusal not audited")
		}
	}
}

// A local account with only a security key (no password) is not linked
// silently either.
func TestOIDCAccountWithSecurityKeyNotLinked(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp, "example.com"))
	u := f.addUser(t, "kay@example.com", "")
	if err := f.st.Write(context.Background(), store.Put(&store.Credential{ID: "cred1", UserID: u.ID, Purpose: PurposeMFA})); err != nil {
		t.Fatal(err)
	}
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-kay", "kay@example.com"), ""); apperr.Status(err) != http.StatusForbidden {
		t.Fatalf("account with a security key: %v, want 403", err)
	}
	if linkCount(f) != 0 {
		t.Error("linked")
	}
}

// email_verified false or missing never links to an account, nor creates one.
func TestOIDCUnverifiedEmailNotLinked(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp, "example.com"))
	dana := f.addUser(t, "dana@example.com", "") // an account from a provider, before links existed
	for name, mod := range map[string]func(*identitytest.User){
		"false":   func(u *identitytest.User) { u.Unverified = true },
		"missing": func(u *identitytest.User) { u.NoVerifiedClaim = true },
		"missing, email only in userinfo": func(u *identitytest.User) {
			u.NoVerifiedClaim, u.EmailOnlyInUserinfo = true, true
		},
	} {
		for _, email := range []string{"dana@example.com", "newcomer@example.com"} {
			u := identitytest.NewUser("sub-"+name+email, email)
			mod(u)
			if si, err := oidcSignIn(t, f, idp, u, ""); apperr.Status(err) != http.StatusForbidden {
				t.Errorf("email_verified %s, %s: %v (session %+v), want 403", name, email, err, si)
			}
		}
	}
	if n := len(f.st.SessionsOf(dana.ID)); n != 0 || linkCount(f) != 0 || len(f.st.Users()) != 1 {
		t.Errorf("sessions %d, links %d, users %d: want 0, 0, 1", n, linkCount(f), len(f.st.Users()))
	}
}

// A provider that puts email_verified only in its userinfo answer is heard,
// for the address its ID token names.
func TestOIDCVerifiedInUserinfo(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp))
	u := identitytest.NewUser("sub-uma", "uma@example.com")
	u.VerifiedOnlyInUserinfo = true
	si, err := oidcSignIn(t, f, idp, u, "")
	if err != nil || si.Session.Email != "uma@example.com" {
		t.Fatalf("sign-in: %v", err)
	}
}

// A KELVIN SIGN (U+212A, which strings.ToLower turns into "k") never
// reaches kim@example.com.
func TestOIDCUnicodeLookalikeNotMatched(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp, "example.com"))
	kim := f.addUser(t, "kim@example.com", "")
	for _, email := range []string{"\u212Aim@example.com", "\u212AIM@EXAMPLE.COM", "kim@example.com\u200b"} {
		si, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-evil", email), "")
		if err == nil {
			t.Fatalf("%q signed in as %s (kim is %s)", email, si.Session.UserID, kim.ID)
		}
		if apperr.Status(err) != http.StatusForbidden {
			t.Errorf("%q: %v, want 403", email, err)
		}
	}
	if len(f.st.SessionsOf(kim.ID)) != 0 || linkCount(f) != 0 || len(f.st.Users()) != 1 {
		t.Error("the look-alike reached kim or created an account")
	}
	if _, ok := f.st.UserByEmail("\u212Aim@example.com"); ok {
		t.Error("UserByEmail folds the KELVIN SIGN")
	}
}

// The provider's subject is the identity: the same subject reaches the same
// account even when its e-mail changes, and another subject with the same
// e-mail does not get in.
func TestOIDCSameSubjectSameAccount(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp))
	first, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-grace", "Grace@Example.com"), "")
	if err != nil {
		t.Fatal(err)
	}
	u, ok := f.st.User(first.Session.UserID)
	if !ok || u.Email != "grace@example.com" {
		t.Fatalf("new user = %+v, want the normalised address", u)
	}
	if d := auditDetail(f, "identity.linked"); d["method"] != store.LinkCreated || d["subject"] != "sub-grace" || d["issuer"] != idp.Issuer() {
		t.Errorf("identity.linked detail = %v", d)
	}
	again, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-grace", "grace.hopper@example.com"), "")
	if err != nil {
		t.Fatal(err)
	}
	if again.Session.UserID != u.ID || again.Session.Email != "grace@example.com" || len(f.st.Users()) != 1 {
		t.Errorf("second sign-in: user %s email %s, %d users; want the same account", again.Session.UserID, again.Session.Email, len(f.st.Users()))
	}
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-other", "grace@example.com"), ""); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("another subject asserting grace's address: %v, want 403", err)
	}
	if linkCount(f) != 1 {
		t.Errorf("%d links, want 1", linkCount(f))
	}
}

// Accounts created before links existed are linked at their next sign-in
// when the provider is trusted for their domain, the address is verified
// and the account has no password or key; never to a second subject.
func TestOIDCExistingAccountLinkedByVerifiedEmail(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp, "Example.com"))
	old := f.addUser(t, "Lee@example.com", "")
	si, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-lee", "lee@EXAMPLE.com"), "")
	if err != nil {
		t.Fatalf("legacy account: %v", err)
	}
	if si.Session.UserID != old.ID {
		t.Fatalf("signed in as %s, want %s", si.Session.UserID, old.ID)
	}
	if l, ok := f.st.IdentityLink(idp.Issuer(), "sub-lee"); !ok || l.UserID != old.ID || l.Method != store.LinkEmail {
		t.Errorf("link = %+v, %v", l, ok)
	}
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-lee-2", "lee@example.com"), ""); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("a second subject for a linked account: %v, want 403", err)
	}
	// Out of the allowed domains: no account is created.
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-x", "x@elsewhere.example"), ""); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("address outside allowed_domains: %v, want 403", err)
	}
	if len(f.st.Users()) != 1 {
		t.Errorf("%d users, want 1", len(f.st.Users()))
	}
}

// Without allowed_domains a provider links to no existing account.
func TestOIDCNoAllowedDomainsNoEmailLink(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp))
	f.addUser(t, "lee@example.com", "")
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-lee", "lee@example.com"), ""); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("existing account without allowed_domains: %v, want 403", err)
	}
	if linkCount(f) != 0 {
		t.Error("linked")
	}
}

// linkAccount runs the explicit link flow for the browser holding session
// cookie cookie, finishing it with finishCookie.
func linkAccount(t *testing.T, f *fixture, idp *identitytest.IdP, cookie, finishCookie string, u *identitytest.User) (*SignIn, error) {
	t.Helper()
	ctx := context.Background()
	sess, ok := f.svc.SessionFor(ctx, cookie)
	if !ok {
		t.Fatal("no session for the cookie")
	}
	flow := NewFlowSecret()
	auth, err := f.svc.StartLink(ctx, sess, "corp", flow, testClient)
	if err != nil {
		return nil, err
	}
	q := idp.Login(t, auth, u).Query()
	return f.svc.FinishOIDC(ctx, OIDCCallback{State: q.Get("state"), Code: q.Get("code"), Session: finishCookie}, flow, testClient)
}

// A local account is linked to a provider only by its user, signed in both
// ways; the link is audited and the provider's sign-in then reaches it.
func TestExplicitLink(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp))
	ctx := context.Background()
	owner := f.addUser(t, "owner@example.com", "correct horse battery")
	res, err := f.svc.SignInPassword(ctx, "Owner@Example.com", "correct horse battery", "", NewFlowSecret(), testClient)
	if err != nil || res.SignIn == nil {
		t.Fatalf("password sign-in: %v", err)
	}
	cookie := res.SignIn.Cookie

	// Another browser's session cannot finish the flow.
	other, err := f.svc.SignInPassword(ctx, "owner@example.com", "correct horse battery", "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := linkAccount(t, f, idp, cookie, other.SignIn.Cookie, identitytest.NewUser("sub-owner", "owner@example.com")); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("finished with another session: %v, want 403", err)
	}
	// The provider's account must have the account's verified address.
	if _, err := linkAccount(t, f, idp, cookie, cookie, identitytest.NewUser("sub-mallory", "mallory@example.com")); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("provider account with another address: %v, want 403", err)
	}
	unverified := identitytest.NewUser("sub-owner", "owner@example.com")
	unverified.NoVerifiedClaim = true
	if _, err := linkAccount(t, f, idp, cookie, cookie, unverified); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("unverified address: %v, want 403", err)
	}
	if linkCount(f) != 0 {
		t.Fatal("a refused link was stored")
	}

	done, err := linkAccount(t, f, idp, cookie, cookie, identitytest.NewUser("sub-owner", "OWNER@example.com"))
	if err != nil {
		t.Fatalf("link: %v", err)
	}
	if done.Cookie != "" || done.Redirect != testExternal+LinkDonePath {
		t.Errorf("link result = %+v, want no new session and the security page", done)
	}
	l, ok := f.st.IdentityLink(idp.Issuer(), "sub-owner")
	if !ok || l.UserID != owner.ID || l.Method != store.LinkExplicit {
		t.Fatalf("link = %+v, %v", l, ok)
	}
	if d := auditDetail(f, "identity.linked"); d["method"] != store.LinkExplicit || d["idp"] != "corp" {
		t.Errorf("identity.linked detail = %v", d)
	}
	if links := f.svc.Links(owner.ID); len(links) != 1 || links[0].ProviderName != "Mock corp" {
		t.Errorf("Links = %+v", links)
	}
	// Now the provider signs the owner in.
	si, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-owner", "owner@example.com"), "")
	if err != nil || si.Session.UserID != owner.ID {
		t.Fatalf("sign-in through the link: %v", err)
	}
	// A stale session cannot start a link.
	f.clock.Advance(FreshAuth + 1)
	sess, _ := f.svc.SessionFor(ctx, cookie)
	if _, err := f.svc.StartLink(ctx, sess, "corp", NewFlowSecret(), testClient); !IsNotFresh(err) {
		t.Errorf("StartLink on a stale session: %v, want a fresh sign-in first", err)
	}
}

// A provider account linked to one user cannot be linked to another.
func TestExplicitLinkTakenIdentity(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp))
	ctx := context.Background()
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-a", "a@example.com"), ""); err != nil {
		t.Fatal(err)
	}
	f.addUser(t, "b@example.com", "correct horse battery")
	res, err := f.svc.SignInPassword(ctx, "b@example.com", "correct horse battery", "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	// sub-a now claims b's address at the provider: still a's identity.
	if _, err := linkAccount(t, f, idp, res.SignIn.Cookie, res.SignIn.Cookie, identitytest.NewUser("sub-a", "b@example.com")); apperr.Status(err) != http.StatusConflict {
		t.Errorf("linking a taken identity: %v, want 409", err)
	}
	if !f.audited("identity.link_refused") {
		t.Error("refused link not audited")
	}
}

// "One identity per issuer per account" is a durable claim: a second link
// of the same account and issuer cannot be written even by a replica that
// has not seen the first link yet.
func TestLinkPerIssuerIsClaimed(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp, "example.com"))
	lee := f.addUser(t, "lee@example.com", "")
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-lee", "lee@example.com"), ""); err != nil {
		t.Fatal(err)
	}
	if !f.st.Claimed(issuerClaim(lee.ID, idp.Issuer())) {
		t.Fatal("the link holds no claim")
	}
	// What a lagging replica would write for another subject: refused by the store.
	other := &store.IdentityLink{ID: store.LinkID(idp.Issuer(), "sub-other"), UserID: lee.ID, Provider: "corp",
		Issuer: idp.Issuer(), Subject: "sub-other", Method: store.LinkEmail, CreatedAt: f.clock.Now()}
	if err := f.st.Write(context.Background(), f.svc.linkOps("system", other, "")...); !errors.Is(err, store.ErrExists) {
		t.Errorf("second link for the same issuer: %v, want ErrExists", err)
	}
	if n := len(f.st.LinksOf(lee.ID)); n != 1 {
		t.Errorf("%d links, want 1", n)
	}
}

// A linked account can be removed by its user (fresh, audited), after which
// the provider's account no longer signs in to it; an account without a
// password keeps its last link.
func TestUnlink(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, corpIdP(idp))
	ctx := context.Background()
	owner := f.addUser(t, "owner@example.com", "correct horse battery")
	res, err := f.svc.SignInPassword(ctx, "owner@example.com", "correct horse battery", "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := linkAccount(t, f, idp, res.SignIn.Cookie, res.SignIn.Cookie, identitytest.NewUser("sub-owner", "owner@example.com")); err != nil {
		t.Fatal(err)
	}
	links := f.svc.Links(owner.ID)
	if len(links) != 1 {
		t.Fatalf("links = %+v", links)
	}
	if err := f.svc.Unlink(ctx, res.SignIn.Session, "oidc_nonsense", testClient); apperr.Status(err) != http.StatusNotFound {
		t.Errorf("unlink of an unknown link: %v", err)
	}
	if err := f.svc.Unlink(ctx, res.SignIn.Session, links[0].ID, testClient); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	if !f.audited("identity.unlinked") || len(f.st.LinksOf(owner.ID)) != 0 || f.st.Claimed(issuerClaim(owner.ID, idp.Issuer())) {
		t.Fatal("link not removed, or not audited")
	}
	if _, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-owner", "owner@example.com"), ""); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("sign-in after unlinking: %v, want 403", err)
	}

	// An account from a provider (no password) keeps its only link.
	si, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-ida", "ida@example.com"), "")
	if err != nil {
		t.Fatal(err)
	}
	only := f.svc.Links(si.Session.UserID)
	if err := f.svc.Unlink(ctx, si.Session, only[0].ID, testClient); apperr.Status(err) != http.StatusConflict {
		t.Errorf("removing the only way to sign in: %v, want 409", err)
	}
	// Someone else's link is not found.
	if err := f.svc.Unlink(ctx, res.SignIn.Session, only[0].ID, testClient); apperr.Status(err) != http.StatusNotFound {
		t.Errorf("removing another user's link: %v, want 404", err)
	}
}
