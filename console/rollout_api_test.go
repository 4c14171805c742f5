package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// rolloutPlanJSON is a plan attaching policy rollout-pol and route
// rollout-app, with a pilot and one wave.
const rolloutPlanJSON = `{"id":"mdm-2027","name":"MDM 2027","policies":["rollout-pol"],
 "waves":[{"name":"pilot","groups":["it"],"people":["Ada@Example.com"],"start":"2027-01-04T08:00:00Z"},
          {"name":"sales","departments":["sales"],"start":"2027-01-18T08:00:00Z"}],
 "coexistence":{"deadline":"2027-03-01T00:00:00Z","routes":["rollout-app"]}}`

// checkRolloutOperations walks the rollout plans API through the OpenAPI
// checker: validation naming the field, creation, the If-Match rules, the
// server-owned applied dates, a change to an applied wave refused, tickets,
// pause and resume, progress, delete, and the audit of each change.
func checkRolloutOperations(t *testing.T, c *oasChecker) {
	t.Helper()
	want := func(code, status int, body string) {
		t.Helper()
		if code != status {
			t.Fatalf("got %d, want %d: %.400s", code, status, body)
		}
	}
	wantField := func(code, status int, body, field string) {
		t.Helper()
		if want(code, status, body); jsonField(body, "field") != field {
			t.Errorf("the error must name %q: %s", field, body)
		}
	}
	// The plan names a policy and a route that do not exist yet.
	code, body := c.do(RoleAdmin, "POST", "/api/v1/rollout/plans", rolloutPlanJSON, nil)
	wantField(code, http.StatusBadRequest, body, "policies[0]")
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/policies/rollout-pol", "allow:\n  or:\n    - group: {has: staff}\n", nil)
	want(code, http.StatusCreated, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans", rolloutPlanJSON, nil)
	wantField(code, http.StatusBadRequest, body, "coexistence.routes[0]")
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/routes/rollout-app", "from: https://app.localhost\nto: http://127.0.0.1:9\npolicy: rollout-pol\n", nil)
	want(code, http.StatusCreated, body)
	bad := strings.Replace(rolloutPlanJSON, `"2027-01-18T08:00:00Z"`, `"2027-01-01T08:00:00Z"`, 1)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans", bad, nil)
	wantField(code, http.StatusBadRequest, body, "waves[1].start")
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans", `{"id":"x","colour":"red"}`, nil)
	wantField(code, http.StatusBadRequest, body, "colour")
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans", `{"name":"`+strings.Repeat("x", MaxBodyBytes)+`"}`, nil)
	want(code, http.StatusRequestEntityTooLarge, body)
	// applied_at is the server's: a created plan has none.
	withApplied := strings.Replace(rolloutPlanJSON, `"start":"2027-01-04T08:00:00Z"`, `"start":"2027-01-04T08:00:00Z","applied_at":"2027-01-04T08:00:00Z"`, 1)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans", withApplied, nil)
	want(code, http.StatusCreated, body)
	var p store.RolloutPlan
	_ = json.Unmarshal([]byte(body), &p)
	if p.Version != 1 || !p.Waves[0].AppliedAt.IsZero() || p.Exit != store.DefaultExitCriteria || p.Waves[0].People[0] != "ada@example.com" {
		t.Errorf("created plan: %+v", p)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans", rolloutPlanJSON, nil)
	wantField(code, http.StatusConflict, body, "id")
	code, body = c.do(RoleAuditor, "GET", "/api/v1/rollout/plans", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"mdm-2027"`) {
		t.Errorf("list: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/rollout/plans?limit=1&cursor=mdm-2027", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"plans":[]`) || jsonField(body, "next_cursor") != "" {
		t.Errorf("the page after the last plan: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/rollout/plans?limit=0", "", nil)
	wantField(code, http.StatusBadRequest, body, "limit")
	code, body = c.do(RoleAuditor, "GET", "/api/v1/rollout/plans/mdm-2027", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/rollout/plans/nope", "", nil)
	want(code, http.StatusNotFound, body)

	// If-Match: required, and of the current version.
	renamed := strings.Replace(rolloutPlanJSON, `"MDM 2027"`, `"MDM roll-out 2027"`, 1)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027", renamed, nil)
	want(code, http.StatusPreconditionRequired, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027", renamed, nil, "If-Match", `"7"`)
	want(code, http.StatusPreconditionFailed, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027", strings.Replace(renamed, `"mdm-2027"`, `"other"`, 1), nil, "If-Match", `"1"`)
	wantField(code, http.StatusBadRequest, body, "id")
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027", renamed, nil, "If-Match", `"1"`)
	if want(code, http.StatusOK, body); jsonField(body, "name") != "MDM roll-out 2027" {
		t.Errorf("renamed: %s", body)
	}

	// The scheduler (task of package rollout) applies the pilot.
	applied := time.Date(2027, 1, 4, 8, 0, 1, 0, time.UTC)
	stored, _ := c.e.st.RolloutPlan("mdm-2027")
	cp := *stored
	cp.Waves = append([]store.RolloutWave{}, stored.Waves...)
	cp.Waves[0].AppliedAt, cp.Version = applied, stored.Version+1
	if err := c.e.st.Write(context.Background(), store.PutIf(&cp, stored.Version)); err != nil {
		t.Fatal(err)
	}
	// An applied wave keeps its members and date; the body's applied_at
	// is ignored either way.
	moved := strings.Replace(renamed, `"people":["Ada@Example.com"]`, `"people":["bob@example.com"]`, 1)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027", moved, nil, "If-Match", `"3"`)
	wantField(code, http.StatusConflict, body, "waves[0].people")
	onlyPilot := `{"id":"mdm-2027","name":"x","policies":["rollout-pol"],"waves":[{"name":"sales","departments":["sales"],"start":"2027-01-18T08:00:00Z"}]}`
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027", onlyPilot, nil, "If-Match", `"3"`)
	wantField(code, http.StatusConflict, body, "waves[0].name")
	appended := strings.Replace(renamed, `"start":"2027-01-18T08:00:00Z"}`,
		`"start":"2027-01-18T08:00:00Z","applied_at":"2027-01-18T08:00:00Z"},{"name":"rest","everyone":true,"start":"2027-02-01T08:00:00Z"}`, 1)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027", appended, nil, "If-Match", `"3"`)
	want(code, http.StatusOK, body)
	_ = json.Unmarshal([]byte(body), &p)
	if len(p.Waves) != 3 || !p.Waves[0].AppliedAt.Equal(applied) || !p.Waves[1].AppliedAt.IsZero() {
		t.Errorf("after appending a wave: %+v", p.Waves)
	}

	// Tickets, pause and resume, progress.
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027/waves/pilot/tickets", `{"tickets":-1}`, nil)
	wantField(code, http.StatusBadRequest, body, "tickets")
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027/waves/pilot/tickets", `{}`, nil)
	wantField(code, http.StatusBadRequest, body, "tickets")
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027/waves/nope/tickets", `{"tickets":1}`, nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/rollout/plans/mdm-2027/waves/pilot/tickets", `{"tickets":12}`, nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans/mdm-2027/pause", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"paused":true`) {
		t.Errorf("pause: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/rollout/plans/mdm-2027/resume", "", nil)
	if want(code, http.StatusOK, body); strings.Contains(body, `"paused":true`) {
		t.Errorf("resume: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/rollout/plans/mdm-2027/progress", "", nil)
	want(code, http.StatusOK, body)
	var pr struct {
		Go      bool
		Judged  int
		Failing []string
	}
	_ = json.Unmarshal([]byte(body), &pr)
	if pr.Go || pr.Judged != 0 || !strings.Contains(strings.Join(pr.Failing, "|"), "open tickets 12 > 10") {
		t.Errorf("progress: %s", body)
	}
	code, body = c.do(RoleAuditor, "PUT", "/api/v1/rollout/plans/mdm-2027/waves/pilot/tickets", `{"tickets":0}`, nil)
	want(code, http.StatusForbidden, body)

	// Delete: If-Match too.
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/rollout/plans/mdm-2027", "", nil)
	want(code, http.StatusPreconditionRequired, body)
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/rollout/plans/mdm-2027", "", nil, "If-Match", `"4"`)
	want(code, http.StatusPreconditionFailed, body)
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/rollout/plans/mdm-2027", "", nil, "If-Match", `"7"`)
	want(code, http.StatusNoContent, body)
	if _, ok := c.e.st.RolloutPlan("mdm-2027"); ok {
		t.Error("the plan is still stored")
	}

	// Every change is in the audit log with the plan.
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit?action=rollout.*&order=asc", "", nil)
	want(code, http.StatusOK, body)
	var audit struct {
		Events []struct {
			Action, Target string
			Detail         map[string]string
		}
	}
	_ = json.Unmarshal([]byte(body), &audit)
	var got []string
	for _, ev := range audit.Events {
		if ev.Target == "mdm-2027" {
			got = append(got, ev.Action)
		}
		if ev.Action == "rollout.tickets" && (ev.Detail["tickets"] != "12" || ev.Detail["was"] != "0" || ev.Detail["wave"] != "pilot") {
			t.Errorf("tickets audit: %+v", ev.Detail)
		}
		if ev.Action == "rollout.update" && ev.Detail["changed"] == "" {
			t.Errorf("update audit names no change: %+v", ev.Detail)
		}
	}
	if s := strings.Join(got, " "); s != "rollout.create rollout.update rollout.update rollout.tickets rollout.pause rollout.resume rollout.delete" {
		t.Errorf("audit: %s (%s)", s, body)
	}
}
