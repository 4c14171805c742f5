package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// TestKeyResetRankRule: the help desk resets only an auditor's or an
// employee's keys (a role from identity-provider groups counts), an admin
// anyone's but an owner's, an owner anyone's; nobody their own.
func TestKeyResetRankRule(t *testing.T) {
	con, _ := authzConsole(t)
	body := `{"verification":"in_person","note":"ID card checked at the desk"}`
	n := 0
	for _, c := range []struct {
		caller, target string
		want           int
	}{
		{RoleHelpdesk, "", http.StatusOK}, {RoleHelpdesk, RoleAuditor, http.StatusOK},
		{RoleHelpdesk, RoleHelpdesk, http.StatusForbidden}, {RoleHelpdesk, RoleSecurity, http.StatusForbidden},
		{RoleHelpdesk, RoleAdmin, http.StatusForbidden}, {RoleHelpdesk, RoleOwner, http.StatusForbidden},
		{RoleAdmin, RoleAdmin, http.StatusOK}, {RoleAdmin, RoleOwner, http.StatusForbidden},
		{RoleOwner, RoleOwner, http.StatusOK},
		{RoleSecurity, "", http.StatusForbidden}, {RoleAuditor, "", http.StatusForbidden},
	} {
		n++
		u := addPerson(t, con, "target"+string(rune('a'+n)), c.target)
		code, got := authzCaller{token: roleSecret(c.caller)}.callBody(con, "POST", "/api/v1/users/"+u.ID+"/security_keys/reset", body)
		if code != c.want {
			t.Errorf("%s resetting a %q: %d %s, want %d", c.caller, c.target, code, got, c.want)
		}
	}
	// A role from identity-provider groups counts: this employee is
	// security through their session.
	u := addPerson(t, con, "grouped", "")
	for _, s := range con.opts.Store.SessionsOf(u.ID) {
		cp := *s
		cp.Roles = []string{RoleSecurity}
		if err := con.opts.Store.Write(context.Background(), store.Put(&cp)); err != nil {
			t.Fatal(err)
		}
	}
	if code, _ := (authzCaller{token: roleSecret(RoleHelpdesk)}).callBody(con, "POST", "/api/v1/users/"+u.ID+"/security_keys/reset", body); code != http.StatusForbidden {
		t.Errorf("helpdesk resetting a security engineer by group: %d, want 403", code)
	}
	help := pageSession(t, con, "help", RoleHelpdesk, 0)
	if code, got := help.postForm(con, "/people/usr_page_help/reset_keys", url.Values{"verification": {"video_call"}, "note": {"me"}}); code != http.StatusForbidden ||
		!strings.Contains(got, "your own security keys") {
		t.Errorf("own reset: %d\n%s", code, got)
	}
	if code, got := (authzCaller{token: roleSecret(RoleHelpdesk)}).callBody(con, "POST", "/api/v1/users/"+u.ID+"/security_keys/reset", `{"verification":"in_person"}`); code != http.StatusBadRequest ||
		!strings.Contains(got, `"field":"note"`) {
		t.Errorf("without a note: %d %s", code, got)
	}
}

// TestKeyResetForm: from the person page, after a fresh key check, the
// help desk's reset removes the person's security keys (not their device
// passkeys), ends their sessions and shows the re-registration link once;
// the audit entry records how they were verified. A stale check changes
// nothing, on the page and through the API.
func TestKeyResetForm(t *testing.T) {
	con, _ := authzConsole(t)
	st := con.opts.Store
	ann := addPerson(t, con, "ann", "")
	now := time.Now()
	if err := st.Write(context.Background(),
		store.Put(&store.Credential{ID: "cred-key", UserID: ann.ID, Purpose: identity.PurposeMFA, Name: "Blue key", CreatedAt: now}),
		store.Put(&store.Credential{ID: "cred-dev", UserID: ann.ID, Purpose: identity.PurposeDevice, DeviceID: "dev_1", CreatedAt: now})); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"verification": {"video_call"}, "note": {"camera on, badge photo matched"}}
	stale := pageSession(t, con, "stale", RoleHelpdesk, 10*time.Minute)
	if code, body := stale.postForm(con, "/people/ann/reset_keys", form); code != http.StatusForbidden || !strings.Contains(body, `id="step-up"`) {
		t.Errorf("stale form: %d\n%s", code, body)
	}
	if code, _ := stale.callBody(con, "POST", "/api/v1/users/ann/security_keys/reset", `{"verification":"video_call","note":"x"}`); code != http.StatusForbidden {
		t.Errorf("stale API call from the browser: %d", code)
	}
	if len(st.CredentialsOf(ann.ID)) != 2 {
		t.Fatalf("a stale reset removed keys")
	}

	help := pageSession(t, con, "help", RoleHelpdesk, time.Minute)
	code, body := help.postForm(con, "/people/ann/reset_keys", form)
	if code != http.StatusOK || !strings.Contains(body, `id="reset-url" readonly size="70" value="https://localhost`+KeyResetPath+`?token=`) ||
		!strings.Contains(body, "Keys removed: 1. Sessions ended: 1.") || !strings.Contains(body, `id="no-keys"`) {
		t.Fatalf("reset: %d\n%s", code, body)
	}
	creds := st.CredentialsOf(ann.ID)
	if len(creds) != 1 || creds[0].ID != "cred-dev" || len(st.SessionsOf(ann.ID)) != 0 {
		t.Errorf("after the reset: credentials %+v, %d sessions", creds, len(st.SessionsOf(ann.ID)))
	}
	evs := auditOf(t, st, "user.security_keys_reset")
	if len(evs) != 1 || evs[0].Actor != "user:help@example.com" || evs[0].Target != ann.ID || evs[0].Detail["verification"] != "video_call" ||
		evs[0].Detail["note"] != "camera on, badge photo matched" || evs[0].Detail["keys_removed"] != "1" || evs[0].Detail["device_passkeys_kept"] != "1" {
		t.Errorf("audit = %+v", evs)
	}
	if code, _ := help.postForm(con, "/people/ann/reset_keys", url.Values{"verification": {"trust_me"}, "note": {"x"}}); code != http.StatusBadRequest {
		t.Errorf("unknown verification: %d, want 400", code)
	}
}

// TestKeyResetLink: after a reset the person signs in with their password
// but cannot register a key until they open the link; the link sends a
// signed-out browser to sign in, refuses another account, works once for
// theirs (audited), and then the key registration opens.
func TestKeyResetLink(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser(t, "ann@example.com", pw, false)
	e.addUser(t, "mal@example.com", pw, false)
	now := e.clock.Now()
	const secret = "help-desk-token-secret-for-the-test!"
	err := e.st.Write(context.Background(),
		store.Put(&store.Token{ID: "tok_desk", Role: RoleHelpdesk, SecretHash: identity.HashSecret(secret), CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), ServiceAccount: "desk"}),
		store.Put(&store.Credential{ID: "cred-key", UserID: ann.ID, Purpose: identity.PurposeMFA, Name: "Lost key", CreatedAt: now}))
	if err != nil {
		t.Fatal(err)
	}
	desk := e.browser(t)
	req, _ := http.NewRequest("POST", extURL+"/api/v1/users/"+ann.ID+"/security_keys/reset",
		strings.NewReader(`{"verification":"callback_known_number","note":"called the number in the HR file"}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	p := desk.do(req)
	var res keyResetResult
	if p.StatusCode != http.StatusOK || json.Unmarshal([]byte(p.body), &res) != nil || res.KeysRemoved != 1 ||
		time.Until(res.ExpiresAt) > KeyResetTTL+time.Minute {
		t.Fatalf("reset: %d %s", p.StatusCode, p.body)
	}
	link := strings.Replace(res.URL, "https://localhost", extURL, 1)
	if !strings.HasPrefix(link, extURL+KeyResetPath+"?token=") {
		t.Fatalf("link %q", res.URL)
	}

	// Signed out: sign in first, then back to the link.
	if p := e.browser(t).get(link); p.StatusCode != http.StatusFound || !strings.HasPrefix(p.Header.Get("Location"), "/auth/sign_in?rd=%2Freset_keys%3Ftoken%3D") {
		t.Errorf("signed out: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	mal := e.browser(t)
	mal.signInPassword("mal@example.com", pw, "")
	if p := mal.get(link); p.StatusCode != http.StatusForbidden || !strings.Contains(p.body, "This link is for ann@example.com") {
		t.Errorf("another account: %d\n%s", p.StatusCode, p.body)
	}

	b := e.browser(t)
	if p := b.signInPassword("ann@example.com", pw, ""); p.StatusCode >= 400 {
		t.Fatalf("password sign-in after the reset: %d\n%s", p.StatusCode, p.body)
	}
	csrf := identity.CSRFToken(b.cookie(identity.SessionCookie))
	if p := b.postJSON(extURL+"/auth/webauthn/register/begin", csrf, map[string]string{"name": "New key"}, nil); p.StatusCode != http.StatusForbidden ||
		!strings.Contains(p.body, "open the link they gave you") {
		t.Errorf("registering without the link: %d %s", p.StatusCode, p.body)
	}
	if p := b.get(link); p.StatusCode != http.StatusFound || p.Header.Get("Location") != "/auth/step_up?rd=%2F" {
		t.Fatalf("the link: %d %q\n%s", p.StatusCode, p.Header.Get("Location"), p.body)
	}
	if u, _ := e.st.User(ann.ID); u.KeyReset != "" {
		t.Errorf("the reset is still pending after the link")
	}
	if evs := auditOf(t, e.st, "user.key_reset_link_used"); len(evs) != 1 || evs[0].Actor != "user:ann@example.com" || evs[0].Detail["issued_by"] != "service:desk via token tok_desk" {
		t.Errorf("audit = %+v", evs)
	}
	if p := b.postJSON(extURL+"/auth/webauthn/register/begin", csrf, map[string]string{"name": "New key"}, nil); p.StatusCode != http.StatusOK {
		t.Errorf("registering after the link: %d %s", p.StatusCode, p.body)
	}
	if p := b.get(link); p.StatusCode != http.StatusConflict {
		t.Errorf("the link again: %d, want 409", p.StatusCode)
	}
	if p := b.get(extURL + InvitePath + "?" + strings.SplitN(link, "?", 2)[1]); p.StatusCode != http.StatusNotFound {
		t.Errorf("the reset link as an invitation: %d, want 404", p.StatusCode)
	}
}
