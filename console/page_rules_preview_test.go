package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// recordAccess records one allowed request of user on wiki.localhost from
// device, ago before now.
func recordAccess(t *testing.T, con *Console, user, device string, ago time.Duration) {
	t.Helper()
	dl, err := con.opts.Store.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	r := storetest.Decision(0, user, device, "https://wiki.localhost", "allow")
	r.First, r.Last = time.Now().Add(-ago), time.Now().Add(-ago)
	store.RecordTimes(r)
	if err := dl.AppendDecisions(context.Background(), []*store.DecisionRecord{r}); err != nil {
		t.Fatal(err)
	}
}

// impactRow is the counts row of one impact class as the page shows it.
func impactRow(class string, requests, people, devices int) string {
	return `<tr class="` + class + `"><th>` + map[string]string{"impact-denied": "Newly denied", "impact-allowed": "Newly allowed",
		"impact-unchanged": "Unchanged"}[class] + `</th><td>` + strconv.Itoa(requests) + `</td><td>` + strconv.Itoa(people) + `</td><td>` + strconv.Itoa(devices) + `</td></tr>`
}

// TestPolicyEditorPreview: Preview shows the diff of the edited text
// against the current version and who the edit would newly deny on the
// recorded access of the chosen window (people, devices, reasons), keeps
// the form filled, and saves nothing. An auditor may preview but gets no
// Save; helpdesk gets 403.
func TestPolicyEditorPreview(t *testing.T) {
	con := rulesPagesEnv(t)
	st := con.opts.Store
	recordAccess(t, con, "ann", "dev_a", time.Hour)
	recordAccess(t, con, "bob", "", 2*time.Hour)
	recordAccess(t, con, "cyd", "dev_c", 10*24*time.Hour) // outside a 7-day window
	sec := pageSession(t, con, "sec", RoleSecurity, time.Minute)
	edit := "allow:\n  or:\n    - group: {has: ops}\n"
	form := func(days string) url.Values {
		return url.Values{"text": {edit}, "mode": {"report-only"}, "comment": {"ops only"}, "loaded": {"1"}, "days": {days}}
	}

	code, body := sec.postForm(con, "/rules/policies/staff/preview", form("7"))
	if code != http.StatusOK {
		t.Fatalf("preview = %d:\n%s", code, body)
	}
	for _, want := range []string{
		`<section id="preview">`, "Changes against version 1", `<pre id="diff">`,
		"-    - group: {has: staff}", "&#43;    - group: {has: ops}", "&#43;mode: report-only",
		`<div id="impact">`, "2 records replayed",
		impactRow("impact-denied", 2, 2, 1), impactRow("impact-allowed", 0, 0, 0), impactRow("impact-unchanged", 0, 0, 0),
		`<section id="impact-denied">`, "ann@example.com, bob@example.com", "dev_a", "policy.no_match",
		// The form stays filled, with the window chosen.
		"    - group: {has: ops}\n</textarea>", `value="ops only"`, `<option value="7" selected>`, `<option value="report-only" selected>`,
		`id="save-button"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview lacks %q:\n%s", want, body)
		}
	}
	if _, body = sec.postForm(con, "/rules/policies/staff/preview", form("30")); !strings.Contains(body, impactRow("impact-denied", 3, 3, 2)) {
		t.Errorf("a 30-day preview does not count the record of 10 days ago:\n%s", body)
	}
	if r, _ := st.RuleOf(store.RulePolicy, "staff"); r.Version != 1 {
		t.Errorf("the preview saved: version %d", r.Version)
	}
	if evs, _ := st.QueryAudit(context.Background(), store.AuditQuery{Action: "policy.update", Limit: 10}); len(evs) != 0 {
		t.Errorf("the preview was audited as a change: %+v", evs)
	}

	// The same text: no change, nobody affected.
	r, _ := st.RuleOf(store.RulePolicy, "staff")
	_, body = sec.postForm(con, "/rules/policies/staff/preview", url.Values{"text": {r.Text}, "loaded": {"1"}})
	if !strings.Contains(body, `<p id="diff" class="note">No change`) || !strings.Contains(body, impactRow("impact-unchanged", 3, 3, 2)) {
		t.Errorf("preview of the current text:\n%s", body)
	}
	// A lint error shows under the text; no impact.
	code, body = sec.postForm(con, "/rules/policies/staff/preview", url.Values{"text": {"comment: typo\nallow:\n  or:\n    - grop: {has: x}\n"}, "loaded": {"1"}})
	if code != http.StatusOK || !strings.Contains(body, `id="policy-error"`) || !strings.Contains(body, "Line 4:") ||
		!strings.Contains(body, `<p id="impact" class="note">Correct the error`) {
		t.Errorf("preview of an invalid policy = %d:\n%s", code, body)
	}
	// A new policy no route uses: the diff, and why there is no impact.
	_, body = sec.postForm(con, "/rules/policies/new/preview", url.Values{"id": {"ops"}, "text": {edit}, "mode": {"draft"}})
	if !strings.Contains(body, "The new rule") || !strings.Contains(body, "&#43;id: ops") || !strings.Contains(body, "No route uses this policy yet") {
		t.Errorf("preview of a new policy:\n%s", body)
	}
	if code, body = sec.postForm(con, "/rules/policies/staff/preview", url.Values{"text": {edit}, "days": {"90"}}); code != http.StatusBadRequest || !strings.Contains(body, "days must be") {
		t.Errorf("days=90 = %d:\n%s", code, body)
	}

	aud := pageSession(t, con, "aud", RoleAuditor, 0)
	code, body = aud.callBody(con, "GET", "/rules/policies/staff", "")
	if code != http.StatusOK || !strings.Contains(body, `id="rule-preview"`) || strings.Contains(body, `id="save-button"`) || strings.Contains(body, "/rollback") {
		t.Errorf("auditor's policy page = %d, want a preview without save:\n%s", code, body)
	}
	code, body = aud.postForm(con, "/rules/policies/staff/preview", form("7"))
	if code != http.StatusOK || !strings.Contains(body, impactRow("impact-denied", 2, 2, 1)) || strings.Contains(body, `id="save-button"`) {
		t.Errorf("auditor's preview = %d:\n%s", code, body)
	}
	if code, _ = aud.postForm(con, "/rules/policies/staff", form("7")); code != http.StatusForbidden {
		t.Errorf("auditor's save = %d, want 403", code)
	}
	help := pageSession(t, con, "help", RoleHelpdesk, 0)
	if code, body = help.postForm(con, "/rules/policies/staff/preview", form("7")); code != http.StatusForbidden || strings.Contains(body, "ann@example.com") {
		t.Errorf("helpdesk's preview = %d:\n%s", code, body)
	}
}

// TestRouteEditor: the route editor is the policy editor for routes: the
// list links to it, Save makes a new version (audited), a stale form gets
// 412 naming who changed the route, a roll back restores the old version,
// and Preview shows the diff and the route's recorded access replayed.
func TestRouteEditor(t *testing.T) {
	con := rulesPagesEnv(t)
	st := con.opts.Store
	recordAccess(t, con, "ann", "dev_a", time.Hour)
	sec := pageSession(t, con, "sec", RoleSecurity, time.Minute)
	wiki := func() *store.Rule {
		r, _ := st.RuleOf(store.RuleRoute, "wiki")
		return r
	}

	if _, body := sec.callBody(con, "GET", "/rules", ""); !strings.Contains(body, `<a href="/rules/routes/wiki">wiki</a>`) || !strings.Contains(body, `href="/rules/routes/new"`) {
		t.Errorf("/rules does not link to the route editor:\n%s", body)
	}
	code, body := sec.callBody(con, "GET", "/rules/routes/wiki", "")
	if code != http.StatusOK || !strings.Contains(body, `id="policy-editor"`) || !strings.Contains(body, `data-lint="/api/v1/routes/lint"`) ||
		!strings.Contains(body, "Route (YAML)") || !strings.Contains(body, "from: https://wiki.localhost") || strings.Contains(body, `name="mode"`) ||
		!strings.Contains(body, `id="version-1"`) {
		t.Errorf("route page = %d:\n%s", code, body)
	}
	moved := strings.Replace(wiki().Text, "http://127.0.0.1:9", "http://127.0.0.1:10", 1)

	code, body = sec.postForm(con, "/rules/routes/wiki/preview", url.Values{"text": {moved}, "loaded": {"1"}})
	if code != http.StatusOK || !strings.Contains(body, "-to: http://127.0.0.1:9") || !strings.Contains(body, "&#43;to: http://127.0.0.1:10") ||
		!strings.Contains(body, impactRow("impact-unchanged", 1, 1, 1)) {
		t.Errorf("route preview = %d:\n%s", code, body)
	}
	_, body = sec.postForm(con, "/rules/routes/wiki/preview", url.Values{"text": {strings.Replace(moved, "policy: staff", "policy: nosuch", 1)}, "loaded": {"1"}})
	if !strings.Contains(body, `<p id="impact" class="note">the route&#39;s policy &#34;nosuch&#34; is not in force`) {
		t.Errorf("preview of a route naming no policy in force:\n%s", body)
	}

	code, body = sec.postForm(con, "/rules/routes/wiki", url.Values{"text": {moved}, "comment": {"new upstream"}, "loaded": {"1"}})
	if code != http.StatusSeeOther || wiki().Version != 2 || !strings.Contains(wiki().Text, "127.0.0.1:10") || wiki().Author != "user:sec@example.com" {
		t.Fatalf("route save = %d %+v:\n%s", code, wiki(), body)
	}
	if evs, _ := st.QueryAudit(context.Background(), store.AuditQuery{Action: "route.update", Limit: 10}); len(evs) != 1 || evs[0].Target != "route/wiki" {
		t.Errorf("audit = %+v", evs)
	}
	code, body = sec.postForm(con, "/rules/routes/wiki", url.Values{"text": {moved}, "loaded": {"1"}})
	if code != http.StatusPreconditionFailed || !strings.Contains(body, "This route was changed meanwhile by user:sec@example.com (version 2") {
		t.Errorf("stale route form = %d:\n%s", code, body)
	}
	code, body = sec.postForm(con, "/rules/routes/wiki", url.Values{"text": {moved + "polcy: x\n"}, "loaded": {"2"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="policy-error"`) || !strings.Contains(body, "polcy") {
		t.Errorf("invalid route = %d:\n%s", code, body)
	}
	code, body = sec.postForm(con, "/rules/routes/wiki/rollback", url.Values{"version": {"1"}, "loaded": {"2"}})
	if code != http.StatusSeeOther || wiki().Version != 3 || !strings.Contains(wiki().Text, "127.0.0.1:9\n") {
		t.Errorf("route rollback = %d %+v:\n%s", code, wiki(), body)
	}
	code, body = sec.postForm(con, "/rules/routes/new", url.Values{"id": {"docs"}, "text": {"from: https://docs.localhost\nto: http://127.0.0.1:9\npolicy: staff\n"}})
	if r, ok := st.RuleOf(store.RuleRoute, "docs"); code != http.StatusSeeOther || !ok || r.Version != 1 {
		t.Errorf("new route = %d:\n%s", code, body)
	}
	old := pageSession(t, con, "sec-old", RoleSecurity, 6*time.Minute)
	if code, body = old.postForm(con, "/rules/routes/wiki", url.Values{"text": {moved}, "loaded": {"3"}}); code != http.StatusForbidden ||
		!strings.Contains(body, `rd=%2Frules%2Froutes%2Fwiki`) || !strings.Contains(body, "Saving a route needs") {
		t.Errorf("old key check = %d:\n%s", code, body)
	}
	help := pageSession(t, con, "help", RoleHelpdesk, 0)
	if code, _ = help.callBody(con, "GET", "/rules/routes/wiki", ""); code != http.StatusForbidden {
		t.Errorf("helpdesk route page = %d", code)
	}
}
