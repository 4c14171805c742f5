package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// auditOf returns the audit events of action, newest first.
func auditOf(t *testing.T, st *store.Store, action string) []*store.AuditEvent {
	t.Helper()
	evs, err := st.QueryAudit(context.Background(), store.AuditQuery{Action: action, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// addPerson stores an account with a role and a live session.
func addPerson(t *testing.T, con *Console, id, role string) *store.User {
	t.Helper()
	now := time.Now()
	u := &store.User{ID: id, Email: id + "@example.com", Role: role, CreatedAt: now}
	_, sid := identity.NewSessionSecret()
	s := &store.Session{ID: sid, UserID: u.ID, Email: u.Email, IdP: identity.LocalIdP, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := con.opts.Store.Write(context.Background(), store.Put(u), store.Put(s)); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPeoplePageByRole: every role that reads users sees the people page
// and its menu entry, with role, role source and keys; an employee gets
// the 403 page; only owners and admins get the invitation form; the search
// narrows the list and a long list pages by cursor.
func TestPeoplePageByRole(t *testing.T) {
	con, _ := authzConsole(t)
	addPerson(t, con, "zed", RoleAuditor)
	for _, role := range []string{RoleOwner, RoleAdmin, RoleSecurity, RoleHelpdesk, RoleAuditor} {
		code, body := pageSession(t, con, "viewer-"+role, role, 0).callBody(con, "GET", "/people", "")
		if code != http.StatusOK || !strings.Contains(body, `<a href="/people" class="current"`) || !strings.Contains(body, "zed@example.com") ||
			!regexp.MustCompile(`zed@example.com</a></td><td>auditor</td><td>Portier</td><td>0</td>`).MatchString(body) {
			t.Fatalf("%s: /people = %d:\n%s", role, code, body)
		}
		if invite := strings.Contains(body, `id="invite"`); invite != perms[role][PermRolesWrite] {
			t.Errorf("%s: invitation form shown = %v", role, invite)
		}
	}
	owner := pageSession(t, con, "owner", RoleOwner, 0)
	if code, body := owner.callBody(con, "GET", "/people?q=ZED", ""); code != http.StatusOK || !strings.Contains(body, "zed@example.com") ||
		strings.Contains(body, "owner@example.com</a>") {
		t.Errorf("search: %d\n%s", code, body)
	}
	if code, _ := pageSession(t, con, "emp", "", 0).callBody(con, "GET", "/people", ""); code != http.StatusForbidden {
		t.Errorf("employee: %d, want 403", code)
	}
	for i := range peoplePageSize + 5 {
		addPerson(t, con, fmt.Sprintf("many%03d", i), "")
	}
	_, body := owner.callBody(con, "GET", "/people?q=many", "")
	next := regexp.MustCompile(`href="(/people\?[^"]+)" id="next"`).FindStringSubmatch(body)
	if next == nil || strings.Count(body, "@example.com</a>") != peoplePageSize {
		t.Fatalf("first page: no next link or not %d people:\n%s", peoplePageSize, body)
	}
	_, body = owner.callBody(con, "GET", strings.ReplaceAll(next[1], "&amp;", "&"), "")
	if strings.Count(body, "@example.com</a>") != 5 || !strings.Contains(body, "many054@") || strings.Contains(body, "many000@") {
		t.Errorf("second page:\n%s", body)
	}
}

// TestPeopleInviteForm: an owner's invitation shows its link once and
// lists it, audited in their name; an admin cannot invite an owner; a key
// check older than 5 minutes, or a form without the CSRF token, invites no
// one; withdrawing stops the link, audited.
func TestPeopleInviteForm(t *testing.T) {
	con, _ := authzConsole(t)
	st := con.opts.Store
	owner := pageSession(t, con, "owner", RoleOwner, time.Minute)
	code, body := owner.postForm(con, "/people/invite", url.Values{"email": {"Sec@Example.com"}, "role": {RoleSecurity}})
	link := regexp.MustCompile(`id="invite-url" readonly size="70" value="([^"]+)"`).FindStringSubmatch(body)
	if code != http.StatusCreated || link == nil || !strings.HasPrefix(link[1], "https://localhost"+InvitePath+"?token=") ||
		!strings.Contains(body, `<tr data-email="sec@example.com"><td>sec@example.com</td><td>security</td><td>pending</td>`) {
		t.Fatalf("invite: %d\n%s", code, body)
	}
	if evs := auditOf(t, st, "invitation.created"); len(evs) != 1 || evs[0].Actor != "user:owner@example.com" || evs[0].Detail["role"] != RoleSecurity {
		t.Errorf("audit = %+v", evs)
	}
	if _, body := owner.callBody(con, "GET", "/people", ""); strings.Contains(body, "invite-url") {
		t.Errorf("the link is shown again")
	}

	admin := pageSession(t, con, "admin", RoleAdmin, 0)
	if code, body := admin.postForm(con, "/people/invite", url.Values{"email": {"boss@example.com"}, "role": {RoleOwner}}); code != http.StatusForbidden ||
		!strings.Contains(body, "may not invite to the more powerful role owner") {
		t.Errorf("admin inviting an owner: %d\n%s", code, body)
	}
	stale := pageSession(t, con, "stale", RoleOwner, 10*time.Minute)
	if code, body := stale.postForm(con, "/people/invite", url.Values{"email": {"late@example.com"}, "role": {RoleAuditor}}); code != http.StatusForbidden ||
		!strings.Contains(body, `id="step-up" href="/auth/step_up?rd=%2Fpeople"`) {
		t.Errorf("stale key check: %d\n%s", code, body)
	}
	req := owner.request("POST", "/people/invite", url.Values{"email": {"forged@example.com"}, "role": {RoleAuditor}}.Encode())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Del(csrfHeader)
	rec := httptest.NewRecorder()
	if con.ServeHTTP(rec, req); rec.Code != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", rec.Code)
	}
	if n := len(auditOf(t, st, "invitation.created")); n != 1 {
		t.Errorf("%d invitations made, want only the owner's", n)
	}

	id := identity.HashSecret(strings.TrimPrefix(link[1], "https://localhost"+InvitePath+"?token="))
	if code, _ := owner.postForm(con, "/people/invitations/"+id+"/revoke", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("withdraw: %d", code)
	}
	if _, ok := st.Invite(id); ok || len(auditOf(t, st, "invitation.deleted")) != 1 {
		t.Errorf("the invitation is still there, or its withdrawal is not audited")
	}
}

// TestPersonPageActions: the person page shows sessions, keys and the
// actions the viewer may take; the role change, sign-out and disable /
// enable forms do what the API does, in the viewer's name, within the rank
// rule and with the fresh key check where the API has one.
func TestPersonPageActions(t *testing.T) {
	con, _ := authzConsole(t)
	st := con.opts.Store
	ann := addPerson(t, con, "ann", "")
	boss := addPerson(t, con, "boss", RoleAdmin)
	now := time.Now()
	key := &store.Credential{ID: "cred-ann", UserID: ann.ID, Purpose: identity.PurposeMFA, Name: "Blue key", CreatedAt: now}
	if err := st.Write(context.Background(), store.Put(key)); err != nil {
		t.Fatal(err)
	}

	help := pageSession(t, con, "help", RoleHelpdesk, 0)
	code, body := help.callBody(con, "GET", "/people/ann", "")
	if code != http.StatusOK || !strings.Contains(body, "Blue key") || !strings.Contains(body, `id="sessions"`) ||
		!strings.Contains(body, `id="sign-out"`) || !strings.Contains(body, `id="reset-keys"`) || strings.Contains(body, `id="change-role"`) {
		t.Fatalf("helpdesk on ann's page: %d\n%s", code, body)
	}
	if _, body := help.callBody(con, "GET", "/people/boss", ""); strings.Contains(body, `id="sign-out"`) || strings.Contains(body, `id="reset-keys"`) {
		t.Errorf("helpdesk is offered actions on an admin:\n%s", body)
	}
	if code, _ := help.postForm(con, "/people/boss/end_sessions", url.Values{}); code != http.StatusForbidden || len(st.SessionsOf(boss.ID)) != 1 {
		t.Errorf("helpdesk signing out an admin: %d", code)
	}
	if code, _ := help.postForm(con, "/people/ann/end_sessions", url.Values{}); code != http.StatusSeeOther || len(st.SessionsOf(ann.ID)) != 0 {
		t.Errorf("helpdesk signing out ann: %d", code)
	}
	if evs := auditOf(t, st, "session.ended"); len(evs) != 1 || evs[0].Actor != "user:help@example.com" || evs[0].Target != ann.ID {
		t.Errorf("audit = %+v", evs)
	}
	if code, _ := help.postForm(con, "/people/ann/disable", url.Values{}); code != http.StatusForbidden {
		t.Errorf("helpdesk disabling: %d, want 403 (no users:write)", code)
	}

	admin := pageSession(t, con, "admin", RoleAdmin, time.Minute)
	if code, _ := admin.postForm(con, "/people/ann/role", url.Values{"role": {RoleAuditor}}); code != http.StatusSeeOther {
		t.Fatalf("role change: %d", code)
	}
	if u, _ := st.User(ann.ID); u.Role != RoleAuditor || len(auditOf(t, st, "user.role_changed")) != 1 {
		t.Errorf("role = %q, or not audited", u.Role)
	}
	if code, body := admin.postForm(con, "/people/ann/role", url.Values{"role": {RoleOwner}}); code != http.StatusForbidden ||
		!strings.Contains(body, "may not grant the more powerful role owner") {
		t.Errorf("granting owner: %d\n%s", code, body)
	}
	stale := pageSession(t, con, "stale", RoleAdmin, 10*time.Minute)
	if code, body := stale.postForm(con, "/people/ann/role", url.Values{"role": {""}}); code != http.StatusForbidden ||
		!strings.Contains(body, `href="/auth/step_up?rd=%2Fpeople%2Fann"`) {
		t.Errorf("stale role change: %d\n%s", code, body)
	}
	if code, _ := stale.postForm(con, "/people/ann/disable", url.Values{"reason": {"left"}}); code != http.StatusSeeOther {
		t.Errorf("disable (no fresh check, as the API): %d", code)
	}
	if u, _ := st.User(ann.ID); !u.Disabled || auditOf(t, st, "user.disabled")[0].Detail["reason"] != "left" {
		t.Errorf("not disabled, or the reason is not audited")
	}
	if code, _ := stale.postForm(con, "/people/ann/enable", url.Values{}); code != http.StatusForbidden {
		t.Errorf("stale enable: %d, want 403", code)
	}
	if code, _ := admin.postForm(con, "/people/ann/enable", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("enable: %d", code)
	}
	if code, body := admin.callBody(con, "GET", "/people/ann?done=enable", ""); code != http.StatusOK || !strings.Contains(body, "The account was enabled.") {
		t.Errorf("after enable: %d\n%s", code, body)
	}
	if code, _ := admin.callBody(con, "GET", "/people/nobody", ""); code != http.StatusNotFound {
		t.Errorf("unknown person: %d", code)
	}
}
