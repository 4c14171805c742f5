package identity

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portier/portier/identity/identitytest"
)

// TestRolesFromGroups: the provider's role mapping is applied at sign-in
// and again when a refresh brings new groups, on the console session and
// its route sessions.
func TestRolesFromGroups(t *testing.T) {
	idp := identitytest.StartIdP(t)
	cfg := idp.Config("corp")
	cfg.Roles = map[string][]string{"security": {"secops"}, "helpdesk": {"it", "oncall"}}
	f := newFixture(t, cfg)
	u := identitytest.NewUser("sub-1", "grace@example.com", "staff", "secops", "oncall")
	si, err := oidcSignIn(t, f, idp, u, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := si.Session.Roles; !slices.Equal(got, []string{"helpdesk", "security"}) {
		t.Fatalf("roles at sign-in = %v", got)
	}
	child := f.addChild(t, si.Session)
	u.SetGroups("staff", "it")
	f.clock.Advance(6 * time.Minute)
	f.svc.Maintain(context.Background())
	for _, id := range []string{si.Session.ID, child.ID} {
		if s, _ := f.st.Session(id); !slices.Equal(s.Roles, []string{"helpdesk"}) {
			t.Errorf("session %s roles after the refresh = %v, want [helpdesk]", id, s.Roles)
		}
	}
	u.SetGroups("staff")
	other, err := oidcSignIn(t, f, idp, u, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(other.Session.Roles) != 0 {
		t.Errorf("roles after leaving the groups = %v", other.Session.Roles)
	}
}
