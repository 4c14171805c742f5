package identity

import (
	"context"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// oidcSignIn runs the code flow for user against idp "corp".
func oidcSignIn(t *testing.T, f *fixture, idp *identitytest.IdP, u *identitytest.User, rd string) (*SignIn, error) {
	t.Helper()
	ctx := context.Background()
	flow := NewFlowSecret()
	auth, err := f.svc.StartOIDC(ctx, "corp", rd, flow, testClient)
	if err != nil {
		t.Fatalf("StartOIDC: %v", err)
	}
	cb := idp.Login(t, auth, u)
	q := cb.Query()
	return f.svc.FinishOIDC(ctx, OIDCCallback{State: q.Get("state"), Code: q.Get("code")}, flow, testClient)
}

func TestOIDCSignIn(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, idp.Config("corp"))
	u := identitytest.NewUser("sub-1", "grace@example.com", "staff", "admins")
	si, err := oidcSignIn(t, f, idp, u, "/auth/security_keys")
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if si.Redirect != testExternal+"/auth/security_keys" {
		t.Errorf("redirect = %q", si.Redirect)
	}
	sess, ok := f.st.Session(HashSecret(si.Cookie))
	if !ok || sess.Email != "grace@example.com" || sess.IdP != "corp" || !slices.Equal(sess.Groups, []string{"staff", "admins"}) {
		t.Fatalf("session = %+v", sess)
	}
	user, ok := f.st.UserByEmail("grace@example.com")
	if !ok || user.ID != sess.UserID {
		t.Fatal("no user record for the signed-in person")
	}
	if len(sess.RefreshEnc) == 0 {
		t.Fatal("no sealed refresh token on the session")
	}
	r, err := f.svc.openRefresh(context.Background(), sess)
	if err != nil || r.Token == "" || r.Subject != "sub-1" || !r.Expiry.After(f.clock.Now()) {
		t.Fatalf("sealed refresh state = %+v, %v", r, err)
	}
	if string(sess.RefreshEnc) == r.Token || len(sess.RefreshEnc) < len(r.Token) {
		t.Error("the refresh token is not sealed")
	}
	if !f.audited("user.created") || !f.audited("signin.success") {
		t.Error("user creation or sign-in not audited")
	}
	// A second sign-in finds the same user.
	si2, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-1", "Grace@Example.com"), "")
	if err != nil {
		t.Fatal(err)
	}
	if si2.Session.UserID != sess.UserID {
		t.Error("second sign-in created another user")
	}
}

func TestOIDCUserinfoFallbackAndVerifiedEmail(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, idp.Config("corp"))
	u := identitytest.NewUser("sub-2", "linus@example.com", "ops")
	u.EmailOnlyInUserinfo = true
	si, err := oidcSignIn(t, f, idp, u, "")
	if err != nil {
		t.Fatalf("sign-in with email only in userinfo: %v", err)
	}
	if si.Session.Email != "linus@example.com" {
		t.Errorf("email = %q", si.Session.Email)
	}

	bad := identitytest.NewUser("sub-3", "eve@example.com")
	bad.Unverified = true
	if _, err := oidcSignIn(t, f, idp, bad, ""); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("unverified email: %v, want 403", err)
	}
}

func TestOIDCDisabledUserRefused(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, idp.Config("corp"))
	f.addUser(t, "off@example.com", "", func(u *store.User) { u.Disabled = true })
	_, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-9", "off@example.com"), "")
	if apperr.Status(err) != http.StatusForbidden {
		t.Fatalf("disabled user: %v, want 403", err)
	}
}

func TestOIDCProviderDownAtStart(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	idp := identitytest.StartIdP(t)
	cfg := idp.Config("corp")
	cfg.Issuer = "http://" + addr + "/oidc"
	f := newFixture(t, cfg)
	f.svc.Maintain(context.Background()) // discovery fails; Portier goes on
	_, err = f.svc.StartOIDC(context.Background(), "corp", "", NewFlowSecret(), testClient)
	if apperr.Status(err) != http.StatusServiceUnavailable {
		t.Fatalf("StartOIDC with the provider down: %v, want 503", err)
	}
	if body := apperr.ToBody(err); body.Error.Message == "" || body.Error.Code != apperr.Unavailable {
		t.Errorf("message = %+v", body)
	}
	// The provider comes up: after the retry interval sign-in works.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot reuse port for the late provider: %v", err)
	}
	late := identitytest.StartIdPOn(t, ln2)
	f.svc.byID["corp"].conf.ClientID, f.svc.byID["corp"].conf.ClientSecret = late.ClientID, late.ClientSecret
	f.clock.Advance(discoverRetry + time.Second)
	if _, err := oidcSignIn(t, f, late, nil, ""); err != nil {
		t.Fatalf("sign-in once the provider is up: %v", err)
	}
}
