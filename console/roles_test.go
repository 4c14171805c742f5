package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// TestConsoleRole is the one rule of a browser's role: the more powerful
// of the local role and the IdP-mapped roles, only after a WebAuthn
// ceremony in the session.
func TestConsoleRole(t *testing.T) {
	now := time.Now()
	u := func(role string, disabled bool) *store.User {
		return &store.User{ID: "usr_a", Email: "a@example.com", Role: role, Disabled: disabled}
	}
	s := func(webauthn bool, roles ...string) *store.Session {
		sess := &store.Session{ID: "s", UserID: "usr_a", Roles: roles}
		if webauthn {
			sess.WebAuthnAt = now
		}
		return sess
	}
	other := s(true)
	other.UserID = "usr_b"
	tests := []struct {
		name       string
		u          *store.User
		s          *store.Session
		held, role string
	}{
		{"employee", u("", false), s(true), "", ""},
		{"local role with a key", u(RoleSecurity, false), s(true), RoleSecurity, RoleSecurity},
		{"local role without a key", u(RoleSecurity, false), s(false), RoleSecurity, ""},
		{"group role with a key", u("", false), s(true, RoleHelpdesk), RoleHelpdesk, RoleHelpdesk},
		{"the higher of local and groups", u(RoleAuditor, false), s(true, RoleHelpdesk, RoleSecurity), RoleSecurity, RoleSecurity},
		{"local above groups", u(RoleAdmin, false), s(true, RoleHelpdesk), RoleAdmin, RoleAdmin},
		{"an unknown mapped role is ignored", u("", false), s(true, "root"), "", ""},
		{"disabled", u(RoleOwner, true), s(true), "", ""},
		{"another user's session", u(RoleOwner, false), other, "", ""},
		{"no session", u(RoleOwner, false), nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := heldRole(tc.u, tc.s); got != tc.held {
				t.Errorf("heldRole = %q, want %q", got, tc.held)
			}
			if got := consoleRole(tc.u, tc.s); got != tc.role {
				t.Errorf("consoleRole = %q, want %q", got, tc.role)
			}
		})
	}
}

// TestConfigRolesAreConsoleRoles: the roles a config's role mapping may
// name are exactly the console's roles.
func TestConfigRolesAreConsoleRoles(t *testing.T) {
	for _, r := range config.ConsoleRoles {
		if !ValidRole(r) {
			t.Errorf("config allows %q, which is not a console role", r)
		}
	}
	for r := range perms {
		if !slices.Contains(config.ConsoleRoles, r) {
			t.Errorf("console role %q cannot be mapped in config", r)
		}
	}
}

// sessionCall sends an API request as a signed-in browser session.
func sessionCall(t *testing.T, con *Console, cookie, method, path, body string) (int, string) {
	t.Helper()
	return (authzCaller{cookie: cookie}).callBody(con, method, path, body)
}

// TestFreshCheckForBrowserSessions: a change that weakens access needs a
// security-key check at most 5 minutes old from a browser; an API token
// is exempt and audited with its token and owner.
func TestFreshCheckForBrowserSessions(t *testing.T) {
	con, _ := authzConsole(t)
	st := con.opts.Store
	now := time.Now()
	admin := &store.User{ID: "usr_fresh", Email: "fresh@example.com", Role: RoleAdmin, CreatedAt: now}
	cookie, sid := identity.NewSessionSecret()
	sess := &store.Session{ID: sid, UserID: admin.ID, Email: admin.Email, IdP: identity.LocalIdP, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(time.Hour), WebAuthnAt: now.Add(-6 * time.Minute)}
	if err := st.Write(context.Background(), store.Put(admin), store.Put(sess)); err != nil {
		t.Fatal(err)
	}
	body := `{"name":"mine","role":"auditor"}`
	if code, got := sessionCall(t, con, cookie, "POST", "/api/v1/tokens", body); code != http.StatusForbidden || !strings.Contains(got, "5 minutes") {
		t.Errorf("a 6-minute-old check: %d %s, want 403 asking for a fresh check", code, got)
	}
	if code, _ := sessionCall(t, con, cookie, "GET", "/api/v1/tokens", ""); code != http.StatusOK {
		t.Errorf("reading needs no fresh check: %d", code)
	}
	sess.WebAuthnAt = now.Add(-4 * time.Minute)
	if err := st.Write(context.Background(), store.Put(sess)); err != nil {
		t.Fatal(err)
	}
	code, got := sessionCall(t, con, cookie, "POST", "/api/v1/tokens", body)
	if code != http.StatusCreated || !strings.Contains(got, `"owner_email":"fresh@example.com"`) {
		t.Fatalf("a 4-minute-old check: %d %s", code, got)
	}
	// Without the CSRF token a session's change is refused.
	a := authzCaller{cookie: cookie}
	req := a.request("POST", "/api/v1/tokens", body)
	req.Header.Del(csrfHeader)
	rec := httptest.NewRecorder()
	con.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", rec.Code)
	}

	// A token is exempt; its use is audited with the token and its person.
	tok := &store.Token{ID: "tok_fresh", Role: RoleAdmin, SecretHash: identity.HashSecret("fresh-token-secret-for-the-test!"),
		OwnerID: admin.ID, OwnerEmail: admin.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.Write(context.Background(), store.Put(tok)); err != nil {
		t.Fatal(err)
	}
	code, got = (authzCaller{token: "fresh-token-secret-for-the-test!"}).callBody(con, "POST", "/api/v1/invitations", `{"email":"new@example.com","role":"helpdesk"}`)
	if code != http.StatusCreated {
		t.Fatalf("invitation with a token: %d %s", code, got)
	}
	evs, err := st.QueryAudit(context.Background(), store.AuditQuery{Action: "invitation.created", Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Actor != "user:fresh@example.com via token tok_fresh" || evs[0].Detail["token"] != "tok_fresh" {
		t.Errorf("audit = %+v %v, want the person via the token, and the token id", evs, err)
	}

	// A disabled owner's token stops working.
	admin.Disabled = true
	if err := st.Write(context.Background(), store.Put(admin)); err != nil {
		t.Fatal(err)
	}
	if code, _ := (authzCaller{token: "fresh-token-secret-for-the-test!"}).callBody(con, "GET", "/api/v1/whoami", ""); code != http.StatusUnauthorized {
		t.Errorf("a disabled person's token: %d, want 401", code)
	}
}

// TestLastOwnerKeepsTheRole: an owner cannot be demoted when no other
// owner (account or token of another) remains.
func TestLastOwnerKeepsTheRole(t *testing.T) {
	con, _ := authzConsole(t)
	st := con.opts.Store
	now := time.Now()
	// Only one owner: an account, with a token of its own.
	for _, tok := range st.Tokens() {
		if err := st.Write(context.Background(), store.Delete(store.KindToken, tok.ID)); err != nil {
			t.Fatal(err)
		}
	}
	own := &store.User{ID: "usr_own", Email: "own@example.com", Role: RoleOwner, CreatedAt: now}
	tok := &store.Token{ID: "tok_own", Role: RoleOwner, SecretHash: identity.HashSecret("owner-token-secret-for-the-test!"),
		OwnerID: own.ID, OwnerEmail: own.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.Write(context.Background(), store.Put(own), store.Put(tok)); err != nil {
		t.Fatal(err)
	}
	caller := authzCaller{token: "owner-token-secret-for-the-test!"}
	if code, body := caller.callBody(con, "POST", "/api/v1/users/usr_own/role", `{"role":"admin"}`); code != http.StatusConflict {
		t.Errorf("demoting the last owner: %d %s, want 409", code, body)
	}
	other := &store.User{ID: "usr_two", Email: "two@example.com", Role: RoleOwner, CreatedAt: now}
	if err := st.Write(context.Background(), store.Put(other)); err != nil {
		t.Fatal(err)
	}
	if code, body := caller.callBody(con, "POST", "/api/v1/users/usr_two/role", `{"role":"auditor"}`); code != http.StatusOK || !strings.Contains(body, `"tokens_revoked":0`) {
		t.Errorf("demoting another owner: %d %s", code, body)
	}
}

// TestInvitationWithLocalPassword: without an identity provider, the
// invited person chooses a password on the set-up form; the account has
// the role, waiting for a security key; the link works once.
func TestInvitationWithLocalPassword(t *testing.T) {
	e := newEnv(t)
	secret := NewSecret()
	now := e.clock.Now()
	inv := &store.Invite{ID: identity.HashSecret(secret), Email: "ivy@example.com", Role: RoleHelpdesk, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.Write(context.Background(), store.Put(inv)); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	link := extURL + InvitePath + "?" + url.Values{"token": {secret}}.Encode()
	p := b.get(link)
	if p.StatusCode != http.StatusFound || !strings.HasPrefix(p.Header.Get("Location"), "/setup?token=") {
		t.Fatalf("invitation link without an account: %d %q, want the set-up form", p.StatusCode, p.Header.Get("Location"))
	}
	form := url.Values{"token": {secret}, "email": {"mallory@example.com"}, "password": {pw}}
	if p := b.postForm(extURL+"/setup", form); p.StatusCode != http.StatusBadRequest {
		t.Errorf("another address: %d", p.StatusCode)
	}
	form.Set("email", "IVY@example.com")
	if p := b.postForm(extURL+"/setup", form); p.StatusCode != http.StatusOK || strings.Contains(p.body, "API token") {
		t.Fatalf("set-up for the invitation: %d\n%s", p.StatusCode, p.body)
	}
	u, ok := e.st.UserByEmail("ivy@example.com")
	if !ok || u.Role != RoleHelpdesk || u.PasswordHash == "" {
		t.Fatalf("account = %+v", u)
	}
	if len(e.st.Tokens()) != 0 {
		t.Errorf("an invitation made an API token")
	}
	if p := b.get(link); p.StatusCode != http.StatusConflict {
		t.Errorf("the link used again: %d, want 409", p.StatusCode)
	}
	// Signed in with the password alone, the role is held, not in force.
	b.signInPassword("ivy@example.com", pw, "")
	var me struct {
		Role     string
		HeldRole string `json:"held_role"`
	}
	req, _ := http.NewRequest("GET", extURL+"/api/v1/whoami", nil)
	p = b.do(req)
	if err := json.Unmarshal([]byte(p.body), &me); err != nil || me.Role != "" || me.HeldRole != RoleHelpdesk {
		t.Errorf("whoami = %d %s", p.StatusCode, p.body)
	}
}
