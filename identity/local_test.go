package identity

import (
	"context"
	"net/http"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

const goodPassword = "correct horse battery"

func TestSignInPassword(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "Ada@Example.com", goodPassword)
	ctx := context.Background()
	flow := NewFlowSecret()

	res, err := f.svc.SignInPassword(ctx, "ada@example.com", goodPassword, attempted("https://wiki.localhost:8443/x"), flow, testClient)
	if err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	si := res.SignIn
	if si == nil || res.Pending != "" {
		t.Fatalf("result = %+v, want a finished sign-in (no security keys)", res)
	}
	sess, ok := f.st.Session(HashSecret(si.Cookie))
	if !ok || sess.UserID != u.ID || sess.IdP != LocalIdP || sess.Groups[0] != "staff" || !sess.MFAAt.IsZero() {
		t.Fatalf("session = %+v", sess)
	}
	if got := sess.ExpiresAt.Sub(sess.CreatedAt); got != SessionAbsolute {
		t.Errorf("absolute lifetime %v, want %v", got, SessionAbsolute)
	}
	if si.Redirect[:len("https://wiki.localhost:8443/.portier/callback?code=")] != "https://wiki.localhost:8443/.portier/callback?code=" {
		t.Errorf("redirect = %q, want the route's hand-off", si.Redirect)
	}
	if !f.audited("signin.success") {
		t.Error("no signin.success audit event")
	}

	for _, tc := range []struct{ email, pw string }{
		{"ada@example.com", "wrong password!!"},
		{"nobody@example.com", goodPassword},
		{"", ""},
	} {
		_, err := f.svc.SignInPassword(ctx, tc.email, tc.pw, "", flow, ClientInfo{IP: "198.51.100.1"})
		if apperr.Status(err) != http.StatusUnauthorized {
			t.Errorf("SignInPassword(%q, %q) = %v, want 401", tc.email, tc.pw, err)
		}
	}
	if !f.audited("signin.failure") {
		t.Error("no signin.failure audit event")
	}
	if _, err := f.svc.SignInPassword(ctx, "ada@example.com", goodPassword, "", "", testClient); err == nil {
		t.Error("a sign-in without the flow cookie was accepted")
	}
}

func TestSignInPasswordDisabled(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "gone@example.com", goodPassword, func(u *store.User) { u.Disabled = true })
	_, err := f.svc.SignInPassword(context.Background(), "gone@example.com", goodPassword, "", NewFlowSecret(), testClient)
	if apperr.Status(err) != http.StatusForbidden {
		t.Fatalf("disabled account: %v, want 403", err)
	}
}

func TestSignInPasswordRateLimited(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ada@example.com", goodPassword)
	ctx := context.Background()
	flow := NewFlowSecret()
	for i := range accountBurst {
		if _, err := f.svc.SignInPassword(ctx, "ada@example.com", "wrong password!!", "", flow, testClient); apperr.Status(err) != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %v, want 401", i+1, err)
		}
	}
	// The account is now limited, even with the right password and from
	// another address.
	_, err := f.svc.SignInPassword(ctx, "ADA@example.com", goodPassword, "", flow, ClientInfo{IP: "203.0.113.9"})
	if apperr.Status(err) != http.StatusTooManyRequests {
		t.Fatalf("attempt past the account limit: %v, want 429", err)
	}
	// A minute later one more attempt is allowed.
	f.clock.Advance(61e9)
	if _, err := f.svc.SignInPassword(ctx, "ada@example.com", goodPassword, "", flow, testClient); err != nil {
		t.Fatalf("after the wait: %v", err)
	}

	// Per address: many accounts from one IP. The address's bucket is
	// drained directly (each real attempt costs an argon2id hash).
	ip := ClientInfo{IP: "198.51.100.7"}
	for range ipBurst {
		f.svc.ips.allow(ip.IP, f.clock.Now())
	}
	if _, err := f.svc.SignInPassword(ctx, "someone@example.com", "x", "", flow, ip); apperr.Status(err) != http.StatusTooManyRequests {
		t.Errorf("attempt past the address's limit: %v, want 429", err)
	}
}

func TestSignOutAndEndSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ada@example.com", goodPassword)
	var sis []*SignIn
	for range 2 {
		res, err := f.svc.SignInPassword(ctx, u.Email, goodPassword, "", NewFlowSecret(), testClient)
		if err != nil {
			t.Fatal(err)
		}
		sis = append(sis, res.SignIn)
	}
	child := f.addChild(t, sis[0].Session)
	childCookie, childID := NewSessionSecret()
	cp := *child
	cp.ID = childID
	if err := f.st.Write(ctx, store.Put(&cp)); err != nil {
		t.Fatal(err)
	}
	// A route host's cookie replayed on the console is no session there:
	// it signs nothing out.
	if err := f.svc.SignOut(ctx, childCookie, testClient); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.st.Session(sis[0].Session.ID); !ok {
		t.Fatal("a route cookie presented to the console ended the console session")
	}
	// Signing out with the console cookie ends its route sessions too.
	if err := f.svc.SignOut(ctx, sis[0].Cookie, testClient); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{sis[0].Session.ID, child.ID, childID} {
		if _, ok := f.st.Session(id); ok {
			t.Errorf("session %s survived sign-out", id)
		}
	}
	if _, ok := f.svc.SessionFor(ctx, sis[1].Cookie); !ok {
		t.Fatal("sign-out ended another browser's session")
	}
	if err := f.st.Write(ctx, EndUserOps(f.st, u.ID)...); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.svc.SessionFor(ctx, sis[1].Cookie); ok {
		t.Error("EndUserOps left a session")
	}
	if !f.audited("signout") {
		t.Error("not audited")
	}
}

// TestDisabledUserSessionRefused: a session that survives its user being
// disabled (a sign-in racing the disable) is not accepted anywhere.
func TestDisabledUserSessionRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "racer@example.com", goodPassword)
	res, err := f.svc.SignInPassword(ctx, u.Email, goodPassword, "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Lookup(f.st, res.SignIn.Cookie, ""); !ok {
		t.Fatal("a fresh session is not accepted")
	}
	cp := *u
	cp.Disabled = true
	if err := f.st.Write(ctx, store.Put(&cp)); err != nil {
		t.Fatal(err)
	}
	if _, ok := Lookup(f.st, res.SignIn.Cookie, ""); ok {
		t.Error("the session of a disabled user is still accepted")
	}
}
