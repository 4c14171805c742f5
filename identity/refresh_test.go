package identity

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// addChild stores a route session handed off from parent, as the proxy does.
func (f *fixture) addChild(t *testing.T, parent *store.Session) *store.Session {
	t.Helper()
	_, id := NewSessionSecret()
	c := *parent
	c.ID, c.ParentID, c.Host, c.RefreshEnc = id, parent.ID, "wiki.localhost", nil
	if err := f.st.Write(context.Background(), store.Put(&c)); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestRefreshUpdatesGroups(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, idp.Config("corp"))
	u := identitytest.NewUser("sub-1", "grace@example.com", "staff")
	si, err := oidcSignIn(t, f, idp, u, "")
	if err != nil {
		t.Fatal(err)
	}
	child := f.addChild(t, si.Session)

	// Not due yet: the ID token lives 10 minutes.
	f.svc.Maintain(context.Background())
	if n := refreshes(idp); n != 0 {
		t.Fatalf("%d refreshes before the ID token nears expiry", n)
	}
	u.SetGroups("staff", "oncall")
	f.clock.Advance(6 * time.Minute)
	f.svc.Maintain(context.Background())
	if n := refreshes(idp); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	for _, id := range []string{si.Session.ID, child.ID} {
		s, ok := f.st.Session(id)
		if !ok || !slices.Equal(s.Groups, []string{"staff", "oncall"}) {
			t.Errorf("session %s groups = %v, want the refreshed ones", id, s.Groups)
		}
	}
	// Within the same window the same generation is not refreshed twice.
	f.svc.Maintain(context.Background())
	if n := refreshes(idp); n != 1 {
		t.Errorf("%d refreshes: refreshing in a loop", n)
	}
}

func refreshes(idp *identitytest.IdP) int {
	n := 0
	for _, r := range idp.TokenRequests() {
		if r.Get("grant_type") == "refresh_token" {
			n++
		}
	}
	return n
}

func TestRefreshRefusedEndsSessions(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, idp.Config("corp"))
	u := identitytest.NewUser("sub-1", "grace@example.com", "staff")
	si, err := oidcSignIn(t, f, idp, u, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := oidcSignIn(t, f, idp, u, "") // a second browser
	if err != nil {
		t.Fatal(err)
	}
	child := f.addChild(t, si.Session)
	someoneElse, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-2", "linus@example.com"), "")
	if err != nil {
		t.Fatal(err)
	}

	f.clock.Advance(6 * time.Minute)
	idp.RefuseNextRequest("invalid_grant")
	f.svc.refresh(context.Background(), si.Session, mustOpen(t, f, si.Session))

	for _, id := range []string{si.Session.ID, other.Session.ID, child.ID} {
		if _, ok := f.st.Session(id); ok {
			t.Errorf("session %s survived the provider's invalid_grant", id)
		}
	}
	if _, ok := f.st.Session(someoneElse.Session.ID); !ok {
		t.Error("another user's session was ended")
	}
	if !f.audited("session.ended_by_idp") {
		t.Error("not audited")
	}
}

func TestRefreshTransientErrorKeepsSession(t *testing.T) {
	idp := identitytest.StartIdP(t)
	f := newFixture(t, idp.Config("corp"))
	si, err := oidcSignIn(t, f, idp, identitytest.NewUser("sub-1", "grace@example.com"), "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(6 * time.Minute)
	idp.RefuseNextRequest("temporarily_unavailable")
	f.svc.Maintain(context.Background())
	if _, ok := f.st.Session(si.Session.ID); !ok {
		t.Fatal("a transient provider error ended the session")
	}
}

func mustOpen(t *testing.T, f *fixture, s *store.Session) refreshState {
	t.Helper()
	r, err := f.svc.openRefresh(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSweep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ada@example.com", goodPassword)
	res, err := f.svc.SignInPassword(ctx, u.Email, goodPassword, attempted("https://wiki.localhost:8443/"), NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	child := f.addChild(t, res.SignIn.Session)
	if _, err := f.svc.StartOIDC(ctx, "nope", "", "x", testClient); err == nil {
		t.Fatal("unknown provider accepted")
	}
	f.svc.Maintain(ctx)
	if _, ok := f.st.Session(child.ID); !ok {
		t.Fatal("a live route session was swept")
	}
	f.clock.Advance(SessionIdle + time.Minute)
	f.svc.Maintain(ctx)
	for _, id := range []string{res.SignIn.Session.ID, child.ID} {
		if _, ok := f.st.Session(id); ok {
			t.Errorf("idle session %s not swept", id)
		}
	}
	if n := len(scan[store.Handoff](f.st, store.KindHandoff)); n != 0 {
		t.Errorf("%d expired hand-offs left", n)
	}
}
