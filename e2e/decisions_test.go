package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// apiCall sends an API request with a bearer token and returns the status
// and body.
func (w *world) apiCall(c *http.Client, token, method, path, body string) (int, string) {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.url("localhost", path), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// roleToken stores an API token of role and returns its secret.
func (w *world) roleToken(role string) string {
	w.t.Helper()
	secret := "e2e-" + role + "-token-secret-0123456789abcdef"
	if err := w.srv.Store().Write(context.Background(), store.Put(&store.Token{ID: "tok_" + role, Name: role, Role: role,
		SecretHash: identity.HashSecret(secret), CreatedAt: time.Now()})); err != nil {
		w.t.Fatal(err)
	}
	return secret
}

type decisionPage struct {
	Decisions []store.DecisionRecord `json:"decisions"`
	Next      string                 `json:"next_cursor"`
}

// Real requests through the proxy (denied, allowed, and under a
// report-only policy) appear in the decision explorer with the reasons the
// deny page showed, and an impact replay of a stricter draft names the
// person it would newly deny.
func TestRecordedAccessExplorerAndImpact(t *testing.T) {
	w := newWorldWith(t, e2eConfig+"decisions: {flush_interval: 200ms}\n")
	api := w.browser(nil)
	security, helpdesk := w.roleToken("security"), w.roleToken("helpdesk")

	// Ann without a device: denied. With her laptop: allowed. On the
	// route whose report-only policy would deny her: let through.
	w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
	plain := w.browser(nil)
	resp, denyPage := get(t, plain, "GET", w.url("app.localhost", "/page"))
	if resp.StatusCode != 403 || !strings.Contains(denyPage, "not enrolled") {
		t.Fatalf("without a device: %d\n%s", resp.StatusCode, denyPage)
	}
	w.idp.QueueUser(identitytest.NewUser("sub-ann", "ann@example.com", "staff"))
	laptop := w.browser(w.enrolledDevice("dev_ann", store.TrustMedium)) // a software key: medium
	for range 3 {
		if resp, _ := get(t, laptop, "GET", w.url("app.localhost", "/page")); resp.StatusCode != 200 {
			t.Fatalf("with a device: %d", resp.StatusCode)
		}
	}
	if resp, _ := get(t, laptop, "GET", w.url("next.localhost", "/")); resp.StatusCode != 200 {
		t.Fatalf("report-only route: %d", resp.StatusCode)
	}

	// The records reach the store within a flush.
	app := "https://app.localhost:" + w.port
	var page decisionPage
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := w.apiCall(api, security, "GET", "/api/v1/decisions?user=ann@example.com", "")
		if code != 200 {
			t.Fatalf("decisions: %d %s", code, body)
		}
		page = decisionPage{}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Decisions) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var denied, allowed, observed *store.DecisionRecord
	for i := range page.Decisions {
		r := &page.Decisions[i]
		switch {
		case r.ReportOnly != nil:
			observed = r
		case r.Route == app && r.Outcome == "deny":
			denied = r
		case r.Route == app && r.Outcome == "allow":
			allowed = r
		}
	}
	if denied == nil || allowed == nil || observed == nil {
		t.Fatalf("want a denied, an allowed and a report-only record for ann, got %+v", page.Decisions)
	}
	// The record keeps the reasons and the remediation the deny page showed.
	var codes []string
	for _, rs := range denied.Reasons {
		codes = append(codes, rs.Code)
		if rs.Remediation == "" || !strings.Contains(denyPage, rs.Remediation) {
			t.Errorf("remediation %q of %s is not the deny page's", rs.Remediation, rs.Code)
		}
	}
	if denied.Device != "" || !strings.Contains(strings.Join(codes, " "), "device.trust") {
		t.Errorf("denied record: device %q reasons %+v", denied.Device, denied.Reasons)
	}
	if allowed.Count != 3 || allowed.Device != "dev_ann" || allowed.Facts.Trust != "medium" || allowed.Facts.Key != "software" || allowed.Facts.Path != "/page" || allowed.Facts.Method != "GET" {
		t.Errorf("allowed record: count %d device %q facts %+v", allowed.Count, allowed.Device, allowed.Facts)
	}
	if observed.Outcome != "allow" || observed.ReportOnly.Policy != "staff-next" || observed.ReportOnly.Outcome != "deny" {
		t.Errorf("report-only record: %+v %+v", observed, observed.ReportOnly)
	}
	code, body := w.apiCall(api, security, "GET", "/api/v1/decisions?report_only=true&outcome=deny", "")
	if code != 200 || !strings.Contains(body, `"user":"ann@example.com"`) || !strings.Contains(body, "https://next.localhost") {
		t.Errorf("report-only would-deny: %d %s", code, body)
	}
	// The statistics name her in the report-only policy's would-deny list.
	code, body = w.apiCall(api, security, "GET", "/api/v1/decisions/stats?window=24h", "")
	if code != 200 || !strings.Contains(body, `"policy":"staff-next"`) || !strings.Contains(body, `"people":[{"user":"ann@example.com"`) {
		t.Errorf("stats would-deny: %d %s", code, body)
	}

	// A stricter draft of staff (a hardware key): ann's laptop keeps its
	// key in software, so she would newly be denied there.
	draft := "id: staff\nallow:\n  and:\n    - group: {has: staff}\n    - device: {trust: {gte: medium}, key: hardware}\n"
	req, _ := json.Marshal(map[string]string{"policy": draft, "route": app})
	code, body = w.apiCall(api, security, "POST", "/api/v1/policies/impact", string(req))
	if code != 200 {
		t.Fatalf("impact: %d %s", code, body)
	}
	var im struct {
		Records     int `json:"records"`
		NewlyDenied struct {
			Requests int `json:"requests"`
			Users    int `json:"users"`
			Groups   []struct {
				Reasons []store.DecisionReason `json:"reasons"`
				Users   []string               `json:"users"`
				Devices []string               `json:"devices"`
			} `json:"groups"`
		} `json:"newly_denied"`
		Unchanged struct {
			Requests int `json:"requests"`
		} `json:"unchanged"`
	}
	if err := json.Unmarshal([]byte(body), &im); err != nil {
		t.Fatal(err)
	}
	nd := im.NewlyDenied
	if nd.Requests != 3 || nd.Users != 1 || len(nd.Groups) != 1 || nd.Groups[0].Users[0] != "ann@example.com" ||
		nd.Groups[0].Devices[0] != "dev_ann" || !strings.Contains(body, `"code":"device.key"`) {
		t.Errorf("newly denied: %s", body)
	}
	if im.Unchanged.Requests != 1 { // the request without a device stays denied
		t.Errorf("unchanged: %s", body)
	}

	// A broken draft names its line; roles without the permission get 403.
	req, _ = json.Marshal(map[string]string{"policy": "id: staff\nallow:\n  group: {hass: staff}\n"})
	if code, body = w.apiCall(api, security, "POST", "/api/v1/policies/impact", string(req)); code != 422 || !strings.Contains(body, `"line":3`) {
		t.Errorf("broken draft: %d %s", code, body)
	}
	if code, _ = w.apiCall(api, helpdesk, "GET", "/api/v1/decisions", ""); code != 403 {
		t.Errorf("helpdesk reading decisions: %d", code)
	}
	if code, _ = w.apiCall(api, helpdesk, "POST", "/api/v1/policies/impact", string(req)); code != 403 {
		t.Errorf("helpdesk replaying: %d", code)
	}
	if code, body = w.apiCall(api, security, "GET", "/api/v1/decisions?since=yesterday", ""); code != 400 || !strings.Contains(body, `"field":"since"`) {
		t.Errorf("bad since: %d %s", code, body)
	}
}
