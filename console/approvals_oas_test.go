package console

import (
	"net/http"
	"strings"
	"testing"
)

// checkApprovalOperations checks the bulk action and the approval
// settings against the OpenAPI document: each answer's shape, 2xx and 4xx.
func checkApprovalOperations(t *testing.T, c *oasChecker) {
	t.Helper()
	a, _ := c.e.enroll(t, "corporate")
	b, _ := c.e.enroll(t, "corporate")
	want := func(code, status int, body string) {
		t.Helper()
		if code != status {
			t.Fatalf("got %d, want %d: %.400s", code, status, body)
		}
	}
	code, body := c.do(RoleHelpdesk, "POST", "/api/v1/devices/actions", `{"type":"lock","devices":["`+a+`","`+b+`"],"reason":"audit"}`, nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"count":2`) {
		t.Errorf("bulk lock: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/actions", `{"type":"retire","filter":{"q":"`+a+`"}}`, nil)
	want(code, http.StatusAccepted, body)
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/devices/actions", `{"type":"lock","devices":["nope"]}`, nil)
	if want(code, http.StatusBadRequest, body); jsonField(body, "field") != "devices[0]" {
		t.Errorf("unknown device: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/approvals/settings", "", nil)
	if want(code, http.StatusOK, body); jsonField(body, "source") != "config" {
		t.Errorf("settings: %s", body)
	}
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":5}`, nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":50,"reason":"rollout wave"}`, nil)
	want(code, http.StatusAccepted, body)
	code, body = c.do(RoleAdmin, "PUT", "/api/v1/approvals/settings", `{"disabled":true}`, nil)
	if want(code, http.StatusBadRequest, body); jsonField(body, "field") != "bulk_threshold" {
		t.Errorf("no threshold: %s", body)
	}
}
