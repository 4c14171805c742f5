package console

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// The owner's address is stored under the one e-mail rule, and a Unicode
// look-alike is refused: the owner account cannot be shadowed by
// "\u212Aim@…" (KELVIN SIGN) and is found as kim@… however it is typed.
func TestSetupNormalisesOwnerEmail(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	secret := NewSecret()
	inv := &store.Invite{ID: identity.HashSecret(secret), Role: RoleOwner, CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}
	if err := e.st.Write(context.Background(), store.Put(inv)); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"token": {secret}, "password": {"correct horse battery"}}
	form.Set("email", "\u212Aim@example.com")
	if p := b.postForm(extURL+"/setup", form); p.StatusCode != http.StatusBadRequest {
		t.Fatalf("KELVIN SIGN address: %d, want 400", p.StatusCode)
	}
	form.Set("email", "  Kim@Example.COM ")
	if p := b.postForm(extURL+"/setup", form); p.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d\n%s", p.StatusCode, p.body)
	}
	u, ok := e.st.UserByEmail("kim@example.com")
	if !ok || u.Email != "kim@example.com" || u.Role != RoleOwner {
		t.Fatalf("owner = %+v, %v", u, ok)
	}
	if _, ok := e.st.UserByEmail("\u212Aim@example.com"); ok {
		t.Error("the look-alike finds the owner")
	}
}
