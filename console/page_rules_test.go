package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// rulesPagesEnv is the whole console (authzConsole) with a policy "staff"
// (version 1, by the config file) used by a route "wiki".
func rulesPagesEnv(t *testing.T) *Console {
	t.Helper()
	con, _ := authzConsole(t)
	ctx, cfg := context.Background(), rules.Actor{Name: "config file"}
	if _, err := con.opts.Rules.Put(ctx, cfg, rules.Change{Type: store.RulePolicy, ID: "staff",
		Body: []byte("allow:\n  or:\n    - group: {has: staff}\ncomment: first\n")}); err != nil {
		t.Fatal(err)
	}
	if _, err := con.opts.Rules.Put(ctx, cfg, rules.Change{Type: store.RuleRoute, ID: "wiki",
		Body: []byte("from: https://wiki.localhost\nto: http://127.0.0.1:9\npolicy: staff\n")}); err != nil {
		t.Fatal(err)
	}
	if _, err := con.opts.Rules.Put(ctx, cfg, rules.Change{Type: store.RuleCompliance, ID: "disks",
		Body: []byte("mode: report-only\nchecks: {disk_encryption: required}\n")}); err != nil {
		t.Fatal(err)
	}
	return con
}

// pageSession is a browser session of a person with role whose last
// security-key check was keyAge ago.
func pageSession(t *testing.T, con *Console, name, role string, keyAge time.Duration) authzCaller {
	t.Helper()
	now := time.Now()
	u := &store.User{ID: "usr_page_" + name, Email: name + "@example.com", Role: role, CreatedAt: now}
	if old, ok := con.opts.Store.UserByEmail(u.Email); ok { // one person per address
		u.ID = old.ID
	}
	cookie, sid := identity.NewSessionSecret()
	s := &store.Session{ID: sid, UserID: u.ID, Email: u.Email, IdP: identity.LocalIdP, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(time.Hour), WebAuthnAt: now.Add(-keyAge), MFAAt: now.Add(-keyAge)}
	if err := con.opts.Store.Write(context.Background(), store.Put(u), store.Put(s)); err != nil {
		t.Fatal(err)
	}
	return authzCaller{name: name, role: role, cookie: cookie}
}

// postForm posts a page form as caller (same-origin, with the CSRF token).
func (a authzCaller) postForm(con *Console, path string, form url.Values) (int, string) {
	form.Set("csrf", identity.CSRFToken(a.cookie))
	req := a.request("POST", path, form.Encode())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	con.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestRulesPageByRole: security and admin see the policies and routes and
// the menu entry; an auditor reads a policy without an editor; helpdesk
// gets the 403 page.
func TestRulesPageByRole(t *testing.T) {
	con := rulesPagesEnv(t)
	for _, role := range []string{RoleSecurity, RoleAdmin} {
		code, body := pageSession(t, con, role, role, 0).callBody(con, "GET", "/rules", "")
		if code != http.StatusOK || !strings.Contains(body, `href="/rules/policies/staff"`) || !strings.Contains(body, "https://wiki.localhost") ||
			!strings.Contains(body, `<a href="/rules" class="current"`) || !strings.Contains(body, "config file") {
			t.Errorf("%s: /rules = %d:\n%s", role, code, body)
		}
		code, body = pageSession(t, con, role+"2", role, 0).callBody(con, "GET", "/rules/policies/staff", "")
		if code != http.StatusOK || !strings.Contains(body, `id="policy-editor"`) || !strings.Contains(body, "group: {has: staff}") ||
			!strings.Contains(body, `id="version-1"`) {
			t.Errorf("%s: policy page = %d:\n%s", role, code, body)
		}
	}
	code, body := pageSession(t, con, "auditor", RoleAuditor, 0).callBody(con, "GET", "/rules/policies/staff", "")
	if code != http.StatusOK || strings.Contains(body, `id="policy-editor"`) || !strings.Contains(body, `<pre id="current">`) {
		t.Errorf("auditor: policy page = %d, want it read-only:\n%s", code, body)
	}
	help := pageSession(t, con, "helpdesk", RoleHelpdesk, 0)
	for _, p := range []string{"/rules", "/rules/policies/staff"} {
		code, body := help.callBody(con, "GET", p, "")
		if code != http.StatusForbidden || !strings.Contains(body, "Not allowed") || strings.Contains(body, "wiki.localhost") {
			t.Errorf("helpdesk: %s = %d, want the 403 page:\n%s", p, code, body)
		}
	}
	if code, _ := help.postForm(con, "/rules/policies/staff", url.Values{"text": {"allow: {}\n"}, "loaded": {"1"}}); code != http.StatusForbidden {
		t.Errorf("helpdesk saving: %d, want 403", code)
	}
	if code, body := help.callBody(con, "GET", "/", ""); code != http.StatusOK || strings.Contains(body, `href="/rules"`) {
		t.Errorf("helpdesk's menu offers the rules:\n%s", body)
	}
}

// TestPolicyEditorSave: the editor's Save makes a new version in the
// person's name (audited) with the mode of the select; a form loaded
// before someone else's change is refused and names who changed it; a
// policy error is shown under the text with its line; a key check older
// than 5 minutes saves nothing and links to the step-up; a roll back
// restores an old version.
func TestPolicyEditorSave(t *testing.T) {
	con := rulesPagesEnv(t)
	st := con.opts.Store
	sec := pageSession(t, con, "sec", RoleSecurity, time.Minute)
	staff := func() *store.Rule {
		r, _ := st.RuleOf(store.RulePolicy, "staff")
		return r
	}

	// Without the page's CSRF token nothing is saved.
	req := sec.request("POST", "/rules/policies/staff", url.Values{"text": {"allow: {}\n"}, "loaded": {"1"}}.Encode())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Del(csrfHeader)
	rec := httptest.NewRecorder()
	if con.ServeHTTP(rec, req); rec.Code != http.StatusForbidden || staff().Version != 1 {
		t.Fatalf("save without the CSRF token: %d, version %d", rec.Code, staff().Version)
	}

	code, body := sec.postForm(con, "/rules/policies/staff", url.Values{"text": {staff().Text}, "mode": {"report-only"},
		"comment": {"try in report-only"}, "loaded": {"1"}})
	if code != http.StatusSeeOther {
		t.Fatalf("save = %d:\n%s", code, body)
	}
	r := staff()
	if d, _ := rules.DocOf(r); r.Version != 2 || d.Mode != rules.ModeReportOnly || r.Author != "user:sec@example.com" || r.Comment != "try in report-only" {
		t.Fatalf("after save: %+v", r)
	}
	evs, err := st.QueryAudit(context.Background(), store.AuditQuery{Action: "policy.update", Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Actor != "user:sec@example.com" || evs[0].Target != "policy/staff" {
		t.Errorf("audit = %+v %v", evs, err)
	}
	if _, body := sec.callBody(con, "GET", "/rules/policies/staff", ""); !strings.Contains(body, `id="version-2"`) || !strings.Contains(body, "try in report-only") ||
		!strings.Contains(body, "&#43;mode: report-only") {
		t.Errorf("the new version is not in the history with its diff:\n%s", body)
	}

	// A form loaded at version 1 is stale now.
	code, body = sec.postForm(con, "/rules/policies/staff", url.Values{"text": {"allow:\n  or:\n    - group: {has: ops}\n"}, "loaded": {"1"}})
	if code != http.StatusPreconditionFailed || !strings.Contains(body, "changed meanwhile by user:sec@example.com (version 2") {
		t.Errorf("stale form = %d:\n%s", code, body)
	}
	// A policy error names its line, next to the text kept as typed.
	code, body = sec.postForm(con, "/rules/policies/staff", url.Values{"text": {"comment: typo\nallow:\n  or:\n    - grop: {has: x}\n"}, "loaded": {"2"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="policy-error"`) || !strings.Contains(body, "Line 4:") ||
		!strings.Contains(body, "comment: typo\nallow:\n  or:\n    - grop: {has: x}\n") {
		t.Errorf("invalid policy = %d:\n%s", code, body)
	}
	// A key check 6 minutes old saves nothing.
	old := pageSession(t, con, "sec-old", RoleSecurity, 6*time.Minute)
	code, body = old.postForm(con, "/rules/policies/staff", url.Values{"text": {"allow:\n  or:\n    - group: {has: ops}\n"}, "loaded": {"2"}})
	if code != http.StatusForbidden || !strings.Contains(body, `href="/auth/step_up?rd=%2Frules%2Fpolicies%2Fstaff"`) || !strings.Contains(body, "Nothing was saved") {
		t.Errorf("old key check = %d:\n%s", code, body)
	}
	if code, _ = old.postForm(con, "/rules/policies/staff/rollback", url.Values{"version": {"1"}, "loaded": {"2"}}); code != http.StatusForbidden {
		t.Errorf("rollback with an old key check = %d, want 403", code)
	}
	if r := staff(); r.Version != 2 {
		t.Fatalf("a refused change saved: version %d", r.Version)
	}

	code, body = sec.postForm(con, "/rules/policies/staff/rollback", url.Values{"version": {"1"}, "loaded": {"2"}})
	if code != http.StatusSeeOther {
		t.Fatalf("rollback = %d:\n%s", code, body)
	}
	if r := staff(); r.Version != 3 || strings.Contains(r.Text, "report-only") || r.Author != "user:sec@example.com" {
		t.Errorf("after rollback: %+v", r)
	}

	// A new policy.
	code, body = sec.postForm(con, "/rules/policies/new", url.Values{"id": {"ops"}, "text": {"allow:\n  or:\n    - group: {has: ops}\n"}, "mode": {"draft"}})
	if code != http.StatusSeeOther {
		t.Fatalf("new policy = %d:\n%s", code, body)
	}
	if r, ok := st.RuleOf(store.RulePolicy, "ops"); !ok || r.Version != 1 || !strings.Contains(r.Text, "mode: draft") {
		t.Errorf("new policy: %+v", r)
	}
	code, body = sec.postForm(con, "/rules/policies/new", url.Values{"id": {"ops"}, "text": {"allow:\n  or:\n    - group: {has: ops}\n"}})
	if code != http.StatusPreconditionRequired || !strings.Contains(body, "exists already") {
		t.Errorf("a new policy over an existing one = %d:\n%s", code, body)
	}
}

// checkLintOperation: POST /api/v1/policies/lint answers the errors of a
// policy with their lines, saves nothing, and needs rules:read.
func checkLintOperation(t *testing.T, c *oasChecker) {
	t.Helper()
	code, body := c.do(RoleAuditor, "POST", "/api/v1/policies/lint?id=linted", "allow:\n  or:\n    - group: {has: staff}\n", nil)
	if code != http.StatusOK || !strings.Contains(body, `"ok":true`) || !strings.Contains(body, `"errors":[]`) {
		t.Errorf("lint of a valid policy = %d %s", code, body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/policies/lint?id=linted", "comment: typo\nallow:\n  or:\n    - grop: {has: x}\n", nil)
	if code != http.StatusOK || !strings.Contains(body, `"ok":false`) || !strings.Contains(body, `"line":4`) || !strings.Contains(body, "grop") {
		t.Errorf("lint of an invalid policy = %d %s", code, body)
	}
	code, body = c.do(RoleAuditor, "POST", "/api/v1/policies/lint", "allow: [\n", nil)
	if code != http.StatusOK || !strings.Contains(body, `"ok":false`) {
		t.Errorf("lint of broken YAML = %d %s", code, body)
	}
	if code, body = c.do(RoleHelpdesk, "POST", "/api/v1/policies/lint?id=linted", "allow: {}\n", nil); code != http.StatusForbidden {
		t.Errorf("helpdesk lint = %d %s, want 403", code, body)
	}
	if code, _ = c.do(RoleAuditor, "GET", "/api/v1/policies/linted", "", nil); code != http.StatusNotFound {
		t.Errorf("lint saved the policy: GET = %d", code)
	}
	code, body = c.do(RoleAuditor, "POST", "/api/v1/routes/lint?id=linted", "from: https://linted.localhost\nto: http://127.0.0.1:9\npolicy: staff\n", nil)
	if code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Errorf("lint of a valid route = %d %s", code, body)
	}
	code, body = c.do(RoleAuditor, "POST", "/api/v1/routes/lint", "from: https://linted.localhost\nto: http://127.0.0.1:9\npolcy: staff\n", nil)
	if code != http.StatusOK || !strings.Contains(body, `"ok":false`) || !strings.Contains(body, `"line":3`) || !strings.Contains(body, "polcy") {
		t.Errorf("lint of an invalid route = %d %s", code, body)
	}
}
