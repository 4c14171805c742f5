package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/rollout"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// planForm is the new-plan form of a pilot (ada) and a sales wave.
func rolloutPlanForm() url.Values {
	return url.Values{"id": {"mdm-2027"}, "name": {"MDM 2027"}, "policy": {"staff"}, "route": {"wiki"},
		"wave_name": {"pilot", "sales", ""}, "wave_groups": {"", "", ""}, "wave_departments": {"", "sales", ""},
		"wave_people": {"ada@example.com", "", ""}, "wave_start": {"2027-01-04 08:00", "2027-01-18", ""},
		"deadline": {"2027-03-01"}, "min_enrollment": {"95"}, "min_compliance": {"90"}, "max_tickets": {"10"}, "max_would_deny": {"0"}}
}

// TestRolloutPagesByRole: an admin creates a plan from the form, sees
// its per-wave table with a no-go naming the failing criterion, enters
// tickets, pauses (with a fresh key check) and resumes; an auditor reads
// without forms; the help desk gets the 403 page.
func TestRolloutPagesByRole(t *testing.T) {
	con := rulesPagesEnv(t)
	ctx := context.Background()
	admin := pageSession(t, con, "admin", RoleAdmin, 0)
	code, body := admin.callBody(con, "GET", "/rollout", "")
	if code != http.StatusOK || !strings.Contains(body, `id="no-plans"`) || !strings.Contains(body, `href="/rollout/new"`) || !strings.Contains(body, `href="/rollout"`) {
		t.Fatalf("/rollout = %d:\n%s", code, body)
	}
	code, body = admin.callBody(con, "GET", "/rollout/new", "")
	if code != http.StatusOK || !strings.Contains(body, `<input type="checkbox" name="policy" value="staff">`) || !strings.Contains(body, `value="95"`) {
		t.Fatalf("/rollout/new = %d, want the policies to choose and the default criteria:\n%s", code, body)
	}
	// A date in the wrong form: the form again, as submitted, naming the field.
	bad := rolloutPlanForm()
	bad["wave_start"] = []string{"2027-01-04 08:00", "next monday", ""}
	code, body = admin.postForm(con, "/rollout/new", bad)
	if code != http.StatusBadRequest || !strings.Contains(body, "waves[1].start") || !strings.Contains(body, `value="next monday"`) {
		t.Fatalf("bad date = %d:\n%s", code, body)
	}
	code, body = admin.postForm(con, "/rollout/new", rolloutPlanForm())
	if code != http.StatusSeeOther {
		t.Fatalf("create = %d:\n%s", code, body)
	}
	p, ok := con.opts.Store.RolloutPlan("mdm-2027")
	if !ok || len(p.Waves) != 2 || p.Waves[1].Departments[0] != "sales" || !p.Waves[1].Start.Equal(time.Date(2027, 1, 18, 0, 0, 0, 0, time.UTC)) ||
		p.Coexistence == nil || p.Coexistence.Routes[0] != "wiki" || p.Exit != store.DefaultExitCriteria || p.CreatedBy != "user:admin@example.com" {
		t.Fatalf("stored plan: %+v", p)
	}
	// The pilot: one expected device, enrolled; its device not compliant.
	if err := con.opts.Store.Write(ctx,
		store.Put(&store.ExpectedDevice{ID: "E1", OwnerEmail: "ada@example.com", EnrolledAs: "d1"}),
		store.Put(&store.Device{ID: "d1", OwnerEmail: "ada@example.com", State: store.DeviceActive})); err != nil {
		t.Fatal(err)
	}
	code, body = admin.callBody(con, "GET", "/rollout/mdm-2027", "")
	if code != http.StatusOK || !strings.Contains(body, `<table id="waves"`) || !strings.Contains(body, `data-wave="pilot" data-state="scheduled"`) ||
		!strings.Contains(body, `<span class="state state-denied no-go">`) || !strings.Contains(body, "<li>compliance 0 % &lt; 90 %</li>") ||
		!strings.Contains(body, `<td class="enrollment">1 / 1</td>`) {
		t.Fatalf("plan page = %d, want the wave table and a no-go on compliance:\n%s", code, body)
	}
	// Tickets.
	code, body = admin.postForm(con, "/rollout/mdm-2027/tickets", url.Values{"wave": {"pilot"}, "tickets": {"4"}})
	if p, _ := con.opts.Store.RolloutPlan("mdm-2027"); code != http.StatusSeeOther || p.Waves[0].Tickets != 4 {
		t.Fatalf("tickets = %d (%d stored):\n%s", code, p.Waves[0].Tickets, body)
	}
	if evs := auditOf(t, con.opts.Store, "rollout.tickets"); len(evs) != 1 || evs[0].Detail["tickets"] != "4" {
		t.Errorf("tickets audit: %+v", evs)
	}
	// Editing from a form read before the tickets were entered: refused.
	edit := rolloutPlanForm()
	edit.Set("version", "1")
	edit.Set("name", "MDM 2027, second try")
	if code, body := admin.postForm(con, "/rollout/mdm-2027", edit); code != http.StatusPreconditionFailed {
		t.Errorf("stale save = %d:\n%s", code, body)
	}
	edit.Set("version", "2")
	if code, body := admin.postForm(con, "/rollout/mdm-2027", edit); code != http.StatusSeeOther {
		t.Fatalf("save = %d:\n%s", code, body)
	}
	if p, _ := con.opts.Store.RolloutPlan("mdm-2027"); p.Name != "MDM 2027, second try" || p.Waves[0].Tickets != 4 {
		t.Errorf("saved plan: %+v", p)
	}
	// Pausing needs a fresh key check.
	stale := pageSession(t, con, "admin2", RoleAdmin, 10*time.Minute)
	if code, body := stale.postForm(con, "/rollout/mdm-2027/pause", url.Values{}); code != http.StatusForbidden || !strings.Contains(body, `id="step-up"`) {
		t.Errorf("pause with an old key check = %d:\n%s", code, body)
	}
	if code, _ := admin.postForm(con, "/rollout/mdm-2027/pause", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("pause = %d", code)
	}
	if _, body := admin.callBody(con, "GET", "/rollout/mdm-2027", ""); !strings.Contains(body, `id="resume"`) {
		t.Errorf("a paused plan offers no resume:\n%s", body)
	}
	if code, _ := admin.postForm(con, "/rollout/mdm-2027/resume", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("resume = %d", code)
	}
	// The versions the plan's steps wrote are linked.
	one := uint64(1)
	if _, err := con.opts.Rules.Put(ctx, rules.Actor{Name: rollout.Author("mdm-2027")}, rules.Change{Type: store.RulePolicy, ID: "staff",
		IfMatch: &one, Body: []byte("allow:\n  or:\n    - group: {has: staff}\ncomment: pilot enforced\n")}); err != nil {
		t.Fatal(err)
	}
	auditor := pageSession(t, con, "auditor", RoleAuditor, 0)
	code, body = auditor.callBody(con, "GET", "/rollout/mdm-2027", "")
	if code != http.StatusOK || !strings.Contains(body, `href="/rules/policies/staff#version-2"`) || strings.Contains(body, `id="plan-form"`) ||
		strings.Contains(body, `name="tickets"`) {
		t.Errorf("auditor plan page = %d, want the versions and no form:\n%s", code, body)
	}
	code, body = auditor.callBody(con, "GET", "/rollout", "")
	if code != http.StatusOK || !strings.Contains(body, `data-plan="mdm-2027"`) || strings.Contains(body, `id="new-plan"`) ||
		!strings.Contains(body, "<small>compliance 0 % &lt; 90 %</small>") {
		t.Errorf("auditor /rollout = %d:\n%s", code, body)
	}
	if code, _ := auditor.postForm(con, "/rollout/mdm-2027/tickets", url.Values{"wave": {"pilot"}, "tickets": {"0"}}); code != http.StatusForbidden {
		t.Errorf("auditor tickets = %d, want 403", code)
	}
	help := pageSession(t, con, "helpdesk", RoleHelpdesk, 0)
	if code, _ := help.callBody(con, "GET", "/rollout", ""); code != http.StatusForbidden {
		t.Errorf("helpdesk /rollout = %d, want 403", code)
	}
	req := admin.request("GET", "/rollout/mdm-2027", "")
	req.Header.Set("Accept-Language", "fr")
	rec := httptest.NewRecorder()
	con.ServeHTTP(rec, req)
	if b := rec.Body.String(); !strings.Contains(b, "Avancement par vague") || !strings.Contains(b, "conformité 0 % &lt; 90 %") {
		t.Errorf("French plan page:\n%s", b)
	}
}
