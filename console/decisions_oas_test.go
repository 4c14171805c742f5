package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// oasRules are the OpenAPI test's rules: wiki.localhost under policy staff.
func oasRules(pols []*policy.Policy) func() Rules {
	return func() Rules {
		r := Rules{Routes: map[string]string{"https://wiki.localhost": "staff"}, Policies: map[string]*policy.Policy{}}
		for _, p := range pols {
			r.Policies[p.ID] = p
		}
		return r
	}
}

// checkDecisionOperations calls the decision explorer and the impact
// replay with records in the store, so that their answers are checked
// against the document.
func checkDecisionOperations(t *testing.T, c *oasChecker) {
	t.Helper()
	dl, err := c.e.st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ann := storetest.Decision(0, "ann", "dev_a", "https://wiki.localhost", "allow")
	ann.First, ann.Last = now.Add(-time.Hour), now.Add(-time.Hour)
	store.RecordTimes(ann)
	ann.ReportOnly = &store.Observed{Policy: "strict", Outcome: "deny", Rules: []string{}, Reasons: []store.DecisionReason{{Code: "policy.no_match"}}}
	bob := storetest.Decision(0, "bob", "", "https://wiki.localhost", "deny")
	bob.First, bob.Last = now.Add(-2*time.Hour), now.Add(-2*time.Hour)
	store.RecordTimes(bob)
	if err := dl.AppendDecisions(context.Background(), []*store.DecisionRecord{ann, bob}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role, method, path, body string
		status                   int
		has                      string
	}{
		{RoleAuditor, "GET", "/api/v1/decisions?limit=1", "", http.StatusOK, `"next_cursor":"`},
		{RoleAdmin, "GET", "/api/v1/decisions?outcome=deny&user=bob@example.com", "", http.StatusOK, `"remediation":"Travel home."`},
		{RoleAdmin, "GET", "/api/v1/decisions?outcome=maybe", "", http.StatusBadRequest, `"field":"outcome"`},
		{RoleHelpdesk, "GET", "/api/v1/decisions", "", http.StatusForbidden, ""},
		{RoleAdmin, "GET", "/api/v1/decisions/stats?bucket=day", "", http.StatusOK, `"would_deny":[{`},
		{RoleAuditor, "GET", "/api/v1/decisions/stats?window=7d&user=ann@example.com", "", http.StatusOK, `"people":[{"user":"ann@example.com","devices":["dev_a"],"count":1}]`},
		{RoleAdmin, "GET", "/api/v1/decisions/stats?window=1y", "", http.StatusBadRequest, `"field":"window"`},
		{RoleAdmin, "GET", "/api/v1/decisions?outcome=deny&reason=country", "", http.StatusOK, `"user":"bob@example.com"`},
		{RoleAdmin, "GET", "/api/v1/decisions/export?format=csv", "", http.StatusOK, "bob@example.com"},
		{RoleAdmin, "GET", "/api/v1/decisions/export?format=jsonl&route=https://wiki.localhost", "", http.StatusOK, `"user":"ann@example.com"`},
		{RoleAuditor, "POST", "/api/v1/policies/impact", `{"policy":"id: staff\nallow:\n  group: {has: nobody}\n"}`, http.StatusOK, `"newly_denied":{"requests":2,"users":2,"devices":1`},
		{RoleAuditor, "POST", "/api/v1/policies/impact", `{"policy":"id: staff\nallow:\n  group: {hass: x}\n"}`, http.StatusUnprocessableEntity, `"line":3`},
		{RoleHelpdesk, "POST", "/api/v1/policies/impact", `{"policy":"id: staff"}`, http.StatusForbidden, ""},
		{RoleAuditor, "POST", "/api/v1/policies/impact", `{"route_text":"id: wiki\nfrom: https://wiki.localhost\nto: http://127.0.0.1:9\npolicy: staff\n"}`, http.StatusOK, `"unchanged":{"requests":2,"users":2,"devices":1`},
		{RoleAuditor, "POST", "/api/v1/policies/impact", `{"route_text":"id: wiki\nfrom: https://wiki.localhost\nto: http://127.0.0.1:9\npolicy: nosuch\n"}`, http.StatusBadRequest, `"field":"policy"`},
		{RoleAuditor, "POST", "/api/v1/policies/impact", `{"route_text":"id: wiki\nfrmo: https://x.localhost\n"}`, http.StatusUnprocessableEntity, `"field":"route_text"`},
		{RoleAuditor, "POST", "/api/v1/policies/impact", `{"policy":"id: staff\nallow: {}\n","route_text":"id: wiki\n"}`, http.StatusBadRequest, `"field":"route_text"`},
	} {
		code, body := c.do(tc.role, tc.method, tc.path, tc.body, nil)
		if code != tc.status || !strings.Contains(body, tc.has) {
			t.Errorf("%s %s as %s: %d %.600s; want %d with %s", tc.method, tc.path, tc.role, code, body, tc.status, tc.has)
		}
	}
}
