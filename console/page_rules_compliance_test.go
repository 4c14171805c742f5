package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCompliancePoliciesOnRulesPage: /rules lists the compliance
// policies with their mode and version, each linking to a read-only page
// with the YAML and the versions; helpdesk gets the 403 page.
func TestCompliancePoliciesOnRulesPage(t *testing.T) {
	con := rulesPagesEnv(t)
	sec := pageSession(t, con, "sec", RoleSecurity, 0)
	code, body := sec.callBody(con, "GET", "/rules", "")
	if code != http.StatusOK || !strings.Contains(body, `<table id="compliance">`) ||
		!strings.Contains(body, `<a href="/rules/compliance/disks">disks</a></td><td>report-only</td><td>1</td>`) {
		t.Fatalf("/rules = %d, want the compliance section listing disks in report-only:\n%s", code, body)
	}
	code, body = sec.callBody(con, "GET", "/rules/compliance/disks", "")
	if code != http.StatusOK || !strings.Contains(body, `<pre id="current">`) || !strings.Contains(body, "disk_encryption: required") ||
		!strings.Contains(body, `id="version-1"`) || strings.Contains(body, "rollback") {
		t.Errorf("compliance page = %d, want the YAML and versions, read-only:\n%s", code, body)
	}
	if code, _ := sec.callBody(con, "GET", "/rules/compliance/nope", ""); code != http.StatusNotFound {
		t.Errorf("unknown compliance policy = %d, want 404", code)
	}
	help := pageSession(t, con, "helpdesk", RoleHelpdesk, 0)
	if code, body := help.callBody(con, "GET", "/rules/compliance/disks", ""); code != http.StatusForbidden || strings.Contains(body, "disk_encryption") {
		t.Errorf("helpdesk: compliance page = %d, want the 403 page", code)
	}
	fr := pageSession(t, con, "secfr", RoleSecurity, 0)
	req := fr.request("GET", "/rules", "")
	req.Header.Set("Accept-Language", "fr")
	rec := httptest.NewRecorder()
	con.ServeHTTP(rec, req)
	if body := rec.Body.String(); !strings.Contains(body, "Politiques de conformité") {
		t.Errorf("French /rules lacks the compliance section title")
	}
}
