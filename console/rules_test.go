package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// newTestRules is the rules service over st with a console-level compile:
// the policies must parse (the server's CompilePolicies adds the
// compliance and enrollment checks, tested in package server).
func newTestRules(t *testing.T, st *store.Store) *rules.Service {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte("external_url: https://localhost\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	return &rules.Service{Store: st, Base: func() *config.Config { return cfg }, Clock: time.Now,
		Compile: func(c *config.Config) ([]*policy.Policy, error) { return policy.ParsePolicies(c.File, &c.Policies) }}
}

// checkRulesOperations walks the versioned rules API through the
// OpenAPI checker: create, the If-Match rules, validation, versions,
// rollback and delete, for policies, routes and compliance policies.
func checkRulesOperations(t *testing.T, c *oasChecker) {
	t.Helper()
	want := func(code, status int, body string) {
		t.Helper()
		if code != status {
			t.Fatalf("got %d, want %d: %.400s", code, status, body)
		}
	}
	staff := "allow:\n  or:\n    - group: {has: staff}\ncomment: first\n"
	code, body := c.do(RoleAdmin, "PUT", "/api/v1/policies/staff", staff, nil)
	want(code, http.StatusCreated, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/policies/staff", "allow: {or: [{group: {has: ops}}]}\n", nil)
	want(code, http.StatusPreconditionRequired, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/policies/staff", "allow: {or: [{group: {has: ops}}]}\n", nil, "If-Match", `"1"`)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/policies/staff", "allow: {or: [{group: {has: sales}}]}\n", nil, "If-Match", `"1"`)
	want(code, http.StatusPreconditionFailed, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/policies/staff", "comment: typo\nallow:\n  or:\n    - grop: {has: x}\n", nil, "If-Match", `"2"`)
	if want(code, http.StatusUnprocessableEntity, body); !strings.Contains(body, "request body:4") || !strings.Contains(body, "grop") {
		t.Errorf("422 must name the line and the field: %s", body)
	}
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/policies/staff", "allow: {}\n", nil, "If-Match", "three")
	want(code, http.StatusBadRequest, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/policies", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/policies/staff", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/policies/staff/versions?limit=1", "", nil)
	if want(code, http.StatusOK, body); jsonField(body, "next_cursor") == "" {
		t.Errorf("versions page of 1 out of 2 has no next_cursor: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/policies/staff/rollback", `{"version":1}`, nil, "If-Match", `"2"`)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleHelpdesk, "PUT", "/api/v1/policies/staff", staff, nil, "If-Match", `"3"`)
	want(code, http.StatusForbidden, body)

	wiki := "from: https://wiki.localhost\nto: http://127.0.0.1:9\npolicy: staff\n"
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/routes/wiki", wiki, nil)
	want(code, http.StatusCreated, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/routes/wiki", strings.Replace(wiki, ":9", ":10", 1), nil, "If-Match", `"1"`)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/routes", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/routes/wiki", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/routes/wiki/versions", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/routes/wiki/rollback", `{"version":1,"comment":"back"}`, nil, "If-Match", `"2"`)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/policies/staff", "", nil, "If-Match", `"3"`)
	if want(code, http.StatusConflict, body); !strings.Contains(body, `route \"wiki\"`) {
		t.Errorf("deleting a policy in use must name the route: %s", body)
	}
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/routes/wiki", "", nil, "If-Match", `"3"`)
	want(code, http.StatusNoContent, body)
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/policies/staff", "", nil, "If-Match", `"3"`)
	want(code, http.StatusNoContent, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/policies/staff", "", nil)
	want(code, http.StatusNotFound, body)

	disks := "mode: report-only\nchecks: {disk_encryption: required}\n"
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/compliance/disks", disks, nil)
	if want(code, http.StatusCreated, body); jsonField(body, "mode") != "report-only" || jsonField(body, "type") != "compliance" {
		t.Errorf("created compliance policy = %s", body)
	}
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/compliance/disks", "checks: {firewall: required}\n", nil)
	want(code, http.StatusPreconditionRequired, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/compliance/disks", "mode: enforce\nchecks:\n  firewal: required\n", nil, "If-Match", `"1"`)
	if want(code, http.StatusUnprocessableEntity, body); !strings.Contains(body, "request body:3") || !strings.Contains(body, "firewal") {
		t.Errorf("422 must name the line and the field: %s", body)
	}
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/compliance/disks", "mode: enforce\nchecks: {disk_encryption: required}\n", nil, "If-Match", `"1"`)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/compliance/disks", disks, nil, "If-Match", `"1"`)
	want(code, http.StatusPreconditionFailed, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/compliance", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"compliance":[{"id":"disks"`) {
		t.Errorf("compliance list = %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/compliance/disks", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/compliance/disks/versions", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, "+mode: enforce") {
		t.Errorf("compliance versions must carry the diff: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/compliance/disks/rollback", `{"version":1}`, nil, "If-Match", `"2"`)
	if want(code, http.StatusOK, body); jsonField(body, "mode") != "report-only" {
		t.Errorf("rollback = %s", body)
	}
	code, body = c.do(RoleHelpdesk, "PUT", "/api/v1/compliance/disks", disks, nil, "If-Match", `"3"`)
	want(code, http.StatusForbidden, body)
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/compliance/disks", "", nil, "If-Match", `"3"`)
	want(code, http.StatusNoContent, body)
}
