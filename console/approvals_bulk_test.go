package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// bulkBody is a bulk action's JSON body on devices.
func bulkBody(typ string, devices ...string) string {
	b, _ := json.Marshal(map[string]any{"type": typ, "devices": devices, "reason": "fleet test"})
	return string(b)
}

// enrollN enrolls n more company devices and returns their ids.
func enrollN(t *testing.T, e *mdmEnv, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		id, _ := e.enroll(t, "corporate")
		ids = append(ids, id)
	}
	return ids
}

// countActions counts the actions of type typ on each device.
func countActions(st *store.Store, typ string, ids []string) []int {
	var out []int
	for _, id := range ids {
		out = append(out, len(actionsOf(st, id, typ)))
	}
	return out
}

// onlyPending is the one pending approval request.
func onlyPending(t *testing.T, st *store.Store) *store.Approval {
	t.Helper()
	var out []*store.Approval
	for _, a := range st.Approvals() {
		if a.State == store.ApprovalPending {
			out = append(out, a)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d pending approval requests, want 1", len(out))
	}
	return out[0]
}

// TestBulkActionBelowThreshold: a lock on three devices (threshold 10)
// is queued at once on each (200 with each device's result), audited
// once as device.bulk_action and once per device; the same request with
// the same Idempotency-Key queues nothing more.
func TestBulkActionBelowThreshold(t *testing.T) {
	e, _, corp, _ := devicePageEnv(t)
	ids := append([]string{corp}, enrollN(t, e, 2)...)
	for range 2 {
		code, body := e.call(t, RoleHelpdesk, "POST", "/api/v1/devices/actions", bulkBody("lock", ids...), nil, "Idempotency-Key", "bulk-1")
		if code != http.StatusOK || !strings.Contains(body, `"count":3`) || strings.Count(body, `"result":"queued `) != 3 {
			t.Fatalf("bulk lock: %d %s", code, body)
		}
	}
	if got := countActions(e.st, "lock", ids); fmt.Sprint(got) != "[1 1 1]" {
		t.Errorf("locks per device: %v, want one each", got)
	}
	if got := actionsOf(e.st, corp, "lock")[0]; got.Params["reason"] != "fleet test" {
		t.Errorf("the reason did not reach the action: %+v", got)
	}
	if !audited(e.st, "token:tok_helpdesk", "device.bulk_action", "") || !audited(e.st, "token:tok_helpdesk", "device.action.lock", ids[2]) {
		t.Error("the bulk action or a device's action is not audited in the caller's name")
	}
	if len(e.st.Approvals()) != 0 {
		t.Errorf("a lock on 3 devices asked for approval")
	}
}

// TestBulkActionAboveThreshold: with the threshold at 2, a lock on three
// devices waits (202, one request naming the three devices, nothing
// queued); its requester cannot approve it; a second person approves and
// each device gets its lock once; approving again is a conflict; the
// approvals page shows the device count.
func TestBulkActionAboveThreshold(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	ids := append([]string{corp}, enrollN(t, e, 2)...)
	if code, body := e.call(t, RoleOwner, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":2}`, nil); code != http.StatusOK {
		t.Fatalf("raise protection: %d %s", code, body)
	}
	code, body := e.call(t, RoleAdmin, "POST", "/api/v1/devices/actions", bulkBody("lock", ids...), nil)
	if code != http.StatusAccepted || jsonField(body, "action") != "lock" {
		t.Fatalf("bulk lock above the threshold: %d %s", code, body)
	}
	req := onlyPending(t, e.st)
	if len(req.Devices) != 3 || fmt.Sprint(countActions(e.st, "lock", ids)) != "[0 0 0]" {
		t.Fatalf("request %+v; locks %v before approval", req, countActions(e.st, "lock", ids))
	}
	if code, body := e.call(t, RoleAdmin, "POST", "/api/v1/approvals/"+req.ID+"/approve", "", nil); code != http.StatusForbidden || !strings.Contains(body, "another administrator must approve it") {
		t.Errorf("self-approval: %d %s", code, body)
	}
	if code, _ := e.call(t, RoleHelpdesk, "POST", "/api/v1/approvals/"+req.ID+"/approve", "", nil); code != http.StatusForbidden {
		t.Errorf("helpdesk approval: %d, want 403", code)
	}
	_, page := pageSession(t, con, "bob", RoleAdmin, 0).callBody(con, "GET", "/approvals", "")
	if !strings.Contains(page, `data-count="3"`) || !strings.Contains(page, "3 device(s)") || !strings.Contains(page, `href="/devices/`+ids[2]+`"`) {
		t.Errorf("the approvals page does not show the devices of the request:\n%s", page)
	}
	code, body = e.call(t, RoleOwner, "POST", "/api/v1/approvals/"+req.ID+"/approve", "", nil)
	if code != http.StatusOK || strings.Count(jsonField(body, "result"), "queued ") != 3 {
		t.Fatalf("approval: %d %s", code, body)
	}
	if code, _ := e.call(t, RoleOwner, "POST", "/api/v1/approvals/"+req.ID+"/approve", "", nil); code != http.StatusConflict {
		t.Errorf("second approval: %d, want 409", code)
	}
	if got := countActions(e.st, "lock", ids); fmt.Sprint(got) != "[1 1 1]" {
		t.Errorf("locks per device after the approval: %v, want one each", got)
	}
	for _, step := range []struct{ actor, action string }{{"token:tok_admin", "approval.requested"}, {"token:tok_owner", "approval.approved"}, {"token:tok_owner", "approval.executed"}} {
		if !audited(e.st, step.actor, step.action, req.ID) {
			t.Errorf("%s by %s not audited", step.action, step.actor)
		}
	}
}

// TestBulkWipeAndRetireAlwaysNeedApproval: a full wipe or a retire of one
// device through the bulk API waits for approval, below any threshold.
func TestBulkWipeAndRetireAlwaysNeedApproval(t *testing.T) {
	e, _, corp, _ := devicePageEnv(t)
	for _, typ := range []string{"wipe", "retire"} {
		code, body := e.call(t, RoleAdmin, "POST", "/api/v1/devices/actions", bulkBody(typ, corp), nil)
		if code != http.StatusAccepted || jsonField(body, "action") != typ {
			t.Errorf("bulk %s of one device: %d %s", typ, code, body)
		}
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 0 {
		t.Errorf("a wipe was queued without approval")
	}
	if d, _ := e.st.Device(corp); d.State == store.DeviceRetired {
		t.Errorf("retired without approval")
	}
}

// TestBulkActionBadInput: every refusal names the field at fault, and
// nothing runs.
func TestBulkActionBadInput(t *testing.T) {
	e, _, corp, byod := devicePageEnv(t)
	many := make([]string, MaxBulkDevices+1)
	for i := range many {
		many[i] = fmt.Sprintf("dev_%d", i)
	}
	for _, c := range []struct {
		name, role, body, field string
		status                  int
	}{
		{"unknown type", RoleAdmin, `{"type":"explode","devices":["` + corp + `"]}`, "type", 400},
		{"recollect is not a bulk action", RoleAdmin, `{"type":"recollect","devices":["` + corp + `"]}`, "type", 400},
		{"no devices", RoleAdmin, `{"type":"lock","devices":[]}`, "devices", 400},
		{"nothing selected", RoleAdmin, `{"type":"lock"}`, "devices", 400},
		{"unknown device", RoleAdmin, bulkBody("lock", corp, "dev_nope"), "devices[1]", 400},
		{"a device twice", RoleAdmin, bulkBody("lock", corp, corp), "devices[1]", 400},
		{"devices and filter", RoleAdmin, `{"type":"lock","devices":["` + corp + `"],"filter":{"q":"x"}}`, "filter", 400},
		{"unknown filter", RoleAdmin, `{"type":"lock","filter":{"colour":"red"}}`, "filter.colour", 400},
		{"bad filter value", RoleAdmin, `{"type":"lock","filter":{"trust":"max"}}`, "filter.trust", 400},
		{"filter matching nothing", RoleAdmin, `{"type":"lock","filter":{"q":"no-such-device"}}`, "filter", 400},
		{"too many devices", RoleAdmin, bulkBody("lock", many...), "devices", 413},
		{"params of another type", RoleAdmin, `{"type":"lock","devices":["` + corp + `"],"params":{"text":"hi"}}`, "params.text", 400},
		{"message without text", RoleAdmin, `{"type":"message","devices":["` + corp + `"]}`, "params.text", 400},
		{"params on a retire", RoleAdmin, `{"type":"retire","devices":["` + corp + `"],"params":{"reason":"x"}}`, "params", 400},
		{"long reason", RoleAdmin, `{"type":"lock","devices":["` + corp + `"],"reason":"` + strings.Repeat("r", 201) + `"}`, "reason", 400},
		{"full wipe of a BYOD device", RoleAdmin, bulkBody("wipe", corp, byod), "devices[1]", 409},
		{"helpdesk wipe", RoleHelpdesk, bulkBody("wipe", corp), "", 403},
		{"helpdesk retire", RoleHelpdesk, bulkBody("retire", corp), "", 403},
		{"auditor lock", RoleAuditor, bulkBody("lock", corp), "", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := e.call(t, c.role, "POST", "/api/v1/devices/actions", c.body, nil)
			if code != c.status || jsonField(body, "field") != c.field {
				t.Errorf("%d %s, want %d naming %q", code, body, c.status, c.field)
			}
		})
	}
	if len(e.st.Approvals()) != 0 || len(e.st.ActionsOf(corp)) != 0 {
		t.Errorf("a refused request left %d approval requests and %d actions", len(e.st.Approvals()), len(e.st.ActionsOf(corp)))
	}
}

// TestBulkActionFilter: a filter of the device list selects the devices
// in service it matches (a retired one is left out), and the release of a
// quarantine reaches each.
func TestBulkActionFilter(t *testing.T) {
	e, _, corp, byod := devicePageEnv(t)
	gone, _ := e.enroll(t, "corporate")
	if _, err := e.svc.Retire(context.Background(), enrollment.Actor{ID: "test"}, gone, "test"); err != nil {
		t.Fatal(err)
	}
	code, body := e.call(t, RoleHelpdesk, "POST", "/api/v1/devices/actions", `{"type":"quarantine","filter":{"platform":"linux"},"reason":"incident"}`, nil)
	if code != http.StatusOK || !strings.Contains(body, `"count":2`) || strings.Contains(body, gone) {
		t.Fatalf("bulk quarantine by filter: %d %s", code, body)
	}
	for _, id := range []string{corp, byod} {
		if d, _ := e.st.Device(id); d.State != store.DeviceQuarantined {
			t.Errorf("%s: %s, want quarantined", id, d.State)
		}
	}
	code, body = e.call(t, RoleHelpdesk, "POST", "/api/v1/devices/actions", `{"type":"release","filter":{"state":"quarantined"}}`, nil)
	if code != http.StatusOK || strings.Count(body, `"result":"released"`) != 2 {
		t.Fatalf("bulk release: %d %s", code, body)
	}
	if d, _ := e.st.Device(corp); d.State != store.DeviceActive {
		t.Errorf("after the release: %s", d.State)
	}
}

// TestApprovalSettingsGuarded: the threshold comes from the config until
// changed; lowering it (more protection) applies at once; raising it or
// turning approval off waits for a second person, whom the requester
// cannot be; once approved, the new threshold decides.
func TestApprovalSettingsGuarded(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	if _, body := e.call(t, RoleAuditor, "GET", "/api/v1/approvals/settings", "", nil); jsonField(body, "source") != "config" || !strings.Contains(body, `"bulk_threshold":10`) {
		t.Fatalf("settings before any change: %s", body)
	}
	code, body := e.call(t, RoleAdmin, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":1}`, nil)
	if code != http.StatusOK || jsonField(body, "source") != "store" || !strings.Contains(body, `"bulk_threshold":1`) {
		t.Fatalf("more protection: %d %s", code, body)
	}
	if !audited(e.st, "token:tok_admin", "approval.settings", store.ApprovalSettingsID) {
		t.Error("the change is not audited")
	}
	ids := append([]string{corp}, enrollN(t, e, 1)...)
	if code, _ := e.call(t, RoleHelpdesk, "POST", "/api/v1/devices/actions", bulkBody("lock", ids...), nil); code != http.StatusAccepted {
		t.Errorf("a lock on 2 devices with the threshold at 1: %d, want 202", code)
	}
	for _, body := range []string{`{"bulk_threshold":50}`, `{"bulk_threshold":1,"disabled":true}`} {
		before, _ := e.st.StoredApprovalSettings()
		code, resp := e.call(t, RoleAdmin, "PUT", "/api/v1/approvals/settings", body, nil)
		if code != http.StatusAccepted || jsonField(resp, "action") != ActionApprovalSettings {
			t.Fatalf("less protection %s: %d %s", body, code, resp)
		}
		if s, _ := e.st.StoredApprovalSettings(); *s != *before {
			t.Fatalf("applied before approval: %+v", s)
		}
		a, _ := e.st.Approval(jsonField(resp, "id"))
		if code, _ := e.call(t, RoleAdmin, "POST", "/api/v1/approvals/"+a.ID+"/approve", "", nil); code != http.StatusForbidden {
			t.Errorf("self-approval of a settings change: %d, want 403", code)
		}
		if body == `{"bulk_threshold":50}` {
			code, resp = e.call(t, RoleOwner, "POST", "/api/v1/approvals/"+a.ID+"/approve", "", nil)
			if code != http.StatusOK || jsonField(resp, "result") != "applied: bulk_threshold=50 disabled=false" {
				t.Fatalf("approval of the settings change: %d %s", code, resp)
			}
		} else if code, _ := e.call(t, RoleOwner, "POST", "/api/v1/approvals/"+a.ID+"/refuse", "", nil); code != http.StatusOK {
			t.Fatalf("refusal: %d", code)
		}
	}
	if s, _ := e.st.StoredApprovalSettings(); s.BulkThreshold != 50 || s.Disabled || s.UpdatedBy != "token:tok_owner" || s.Approval == "" {
		t.Errorf("after the approved change and the refused one: %+v", s)
	}
	if code, body := e.call(t, RoleHelpdesk, "POST", "/api/v1/devices/actions", bulkBody("lock", ids...), nil); code != http.StatusOK {
		t.Errorf("a lock on 2 devices with the threshold at 50: %d %s", code, body)
	}
	if code, _ := e.call(t, RoleHelpdesk, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":5}`, nil); code != http.StatusForbidden {
		t.Errorf("helpdesk changes the settings: %d, want 403", code)
	}
	for body, field := range map[string]string{`{"bulk_threshold":0}`: "bulk_threshold", `{"bulk_threshold":1001}`: "bulk_threshold",
		`{"disabled":false}`: "bulk_threshold", `{"bulk_threshold":"ten"}`: "bulk_threshold", `{"bulk_threshold":5,"why":"x"}`: "why"} {
		if code, resp := e.call(t, RoleAdmin, "PUT", "/api/v1/approvals/settings", body, nil); code != http.StatusBadRequest || jsonField(resp, "field") != field {
			t.Errorf("%s: %d %s, want 400 naming %s", body, code, resp, field)
		}
	}
	_, page := pageSession(t, con, "carol", RoleOwner, 0).callBody(con, "GET", "/approvals", "")
	if !strings.Contains(page, `data-threshold="50"`) || !strings.Contains(page, `id="settings-form"`) {
		t.Errorf("the approvals page does not show the settings:\n%s", page)
	}
}

// TestApprovalSettingsWhileOff: with approval off in the config, turning
// it on is more protection and applies at once; turning it off again
// waits for a second person.
func TestApprovalSettingsWhileOff(t *testing.T) {
	e, _, _, _ := devicePageEnv(t)
	opts := e.con.opts
	opts.Approvals.Disabled = true
	e.con = New(opts)
	if code, body := e.call(t, RoleAdmin, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":10}`, nil); code != http.StatusOK || strings.Contains(body, `"disabled":true`) {
		t.Fatalf("turning approval on: %d %s", code, body)
	}
	if code, body := e.call(t, RoleAdmin, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":10,"disabled":true}`, nil); code != http.StatusAccepted {
		t.Fatalf("turning it off again: %d %s", code, body)
	}
}

// TestApprovalExpirySweep: the sweep records a pending request past its
// expiry as expired (audited by system, once), leaves a fresh one
// pending, and approving the expired one is refused.
func TestApprovalExpirySweep(t *testing.T) {
	e, _, corp, _ := devicePageEnv(t)
	now := time.Now()
	for _, a := range []*store.Approval{
		{ID: "apr_stale", Version: 1, Action: enrollment.ActionWipe, Devices: []string{corp}, Requester: "user:x@example.com", RequesterKey: "user:usr_x",
			State: store.ApprovalPending, CreatedAt: now.Add(-25 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{ID: "apr_fresh", Version: 1, Action: enrollment.ActionWipe, Devices: []string{corp}, Requester: "user:x@example.com", RequesterKey: "user:usr_x",
			State: store.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := e.st.Write(context.Background(), store.Create(a)); err != nil {
			t.Fatal(err)
		}
	}
	for round, want := range []int{1, 0} {
		if n, err := e.st.ExpireApprovals(context.Background(), now); err != nil || n != want {
			t.Fatalf("sweep %d: %d expired (%v), want %d", round, n, err, want)
		}
	}
	if a, _ := e.st.Approval("apr_stale"); a.State != store.ApprovalExpired || a.Version != 2 {
		t.Errorf("stale request after the sweep: %+v", a)
	}
	if a, _ := e.st.Approval("apr_fresh"); a.State != store.ApprovalPending {
		t.Errorf("fresh request after the sweep: %+v", a)
	}
	n := 0
	for _, ev := range e.st.Audit() {
		if ev.Action == "approval.expired" && ev.Target == "apr_stale" && ev.Actor == "system" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d approval.expired entries by system, want 1", n)
	}
	if code, body := e.call(t, RoleOwner, "POST", "/api/v1/approvals/apr_stale/approve", "", nil); code != http.StatusConflict || !strings.Contains(body, "expired") {
		t.Errorf("approving an expired request: %d %s", code, body)
	}
	if len(actionsOf(e.st, corp, "wipe")) != 0 {
		t.Error("an expired request queued a wipe")
	}
}

// TestDevicesPageBulkForm: the devices page offers the bulk form to a
// role that acts, with the filters as hidden fields (never to an
// auditor); the form, confirmed, locks the filtered devices, or lands on
// the approvals page when more than the threshold are selected.
func TestDevicesPageBulkForm(t *testing.T) {
	e, con, corp, byod := devicePageEnv(t)
	_, page := pageSession(t, con, "audrey", RoleAuditor, 0).callBody(con, "GET", "/devices", "")
	if strings.Contains(page, `id="bulk-form"`) {
		t.Error("an auditor is offered the bulk form")
	}
	h := pageSession(t, con, "helen", RoleHelpdesk, 0)
	_, page = h.callBody(con, "GET", "/devices?ownership=corporate", "")
	if !strings.Contains(page, `id="bulk-form"`) || !strings.Contains(page, `name="filter.ownership" value="corporate"`) || strings.Contains(page, `<option value="wipe">`) {
		t.Errorf("the helpdesk's bulk form: the filter as a hidden field, no wipe\n%s", page)
	}
	form := url.Values{"type": {"lock"}, "filter.ownership": {"corporate"}, "reason": {"drill"}, "idem": {"bulk-page-1"}}
	if code, body := h.postForm(con, "/devices/actions", form); code != http.StatusBadRequest || !strings.Contains(body, "Tick the box") || !strings.Contains(body, `id="bulk-form"`) {
		t.Errorf("unconfirmed: %d, want 400 on the devices page with the reason\n%s", code, body)
	}
	form.Set("confirm", "yes")
	code, body := h.postForm(con, "/devices/actions", form)
	if code != http.StatusSeeOther || len(actionsOf(e.st, corp, "lock")) != 1 || len(actionsOf(e.st, byod, "lock")) != 0 {
		t.Fatalf("bulk lock from the page: %d %s; locks corp %d byod %d", code, body, len(actionsOf(e.st, corp, "lock")), len(actionsOf(e.st, byod, "lock")))
	}
	stale := pageSession(t, con, "hugo", RoleHelpdesk, 10*time.Minute)
	if code, body := stale.postForm(con, "/devices/actions", form); code != http.StatusForbidden || !strings.Contains(body, `id="step-up"`) ||
		len(actionsOf(e.st, corp, "lock")) != 1 {
		t.Errorf("bulk form with an old key check: %d, want 403 with the step-up link and nothing run\n%s", code, body)
	}
	if code, body := e.call(t, RoleOwner, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":1}`, nil); code != http.StatusOK {
		t.Fatalf("threshold: %d %s", code, body)
	}
	a := pageSession(t, con, "alice", RoleAdmin, 0)
	code, _ = a.postForm(con, "/devices/actions", url.Values{"type": {"quarantine"}, "confirm": {"yes"}, "idem": {"bulk-page-2"}})
	if code != http.StatusSeeOther || len(onlyPending(t, e.st).Devices) != 2 {
		t.Fatalf("bulk quarantine of 2 devices over a threshold of 1: %d", code)
	}
}

// TestBulkApprovalRaceExecutesOnce: two admins approve the same bulk
// request at the same moment through two consoles on one store: one
// wins, the other gets 409, and each device gets its lock once.
func TestBulkApprovalRaceExecutesOnce(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	ids := append([]string{corp}, enrollN(t, e, 2)...)
	other, secret := New(con.opts), secondAdmin(t, e.st)
	if code, body := e.call(t, RoleOwner, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":2}`, nil); code != http.StatusOK {
		t.Fatalf("threshold: %d %s", code, body)
	}
	for round := range 5 {
		if code, body := e.call(t, RoleAdmin, "POST", "/api/v1/devices/actions", bulkBody("lock", ids...), nil); code != http.StatusAccepted {
			t.Fatalf("bulk lock: %d %s", code, body)
		}
		path := "/api/v1/approvals/" + onlyPending(t, e.st).ID + "/approve"
		codes := make([]int, 2)
		done := make(chan struct{})
		go func() { codes[0], _ = bearer(con, roleSecret(RoleOwner), "POST", path); close(done) }()
		codes[1], _ = bearer(other, secret, "POST", path)
		<-done
		if codes[0]+codes[1] != http.StatusOK+http.StatusConflict || (codes[0] != http.StatusOK && codes[1] != http.StatusOK) {
			t.Fatalf("approvals at once: %v, want one 200 and one 409", codes)
		}
		want := fmt.Sprint([]int{round + 1, round + 1, round + 1})
		if got := fmt.Sprint(countActions(e.st, "lock", ids)); got != want {
			t.Fatalf("round %d: locks per device %s, want %s", round, got, want)
		}
	}
}

// TestHelpdeskCancelsTheirBulkRequest: a help-desk member whose bulk lock
// waits for approval may cancel it (not approve it); another help-desk
// member may not cancel it.
func TestHelpdeskCancelsTheirBulkRequest(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	ids := append([]string{corp}, enrollN(t, e, 1)...)
	if code, body := e.call(t, RoleOwner, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":1}`, nil); code != http.StatusOK {
		t.Fatalf("threshold: %d %s", code, body)
	}
	h := pageSession(t, con, "helen", RoleHelpdesk, 0)
	if code, body := h.postForm(con, "/devices/actions", url.Values{"type": {"lock"}, "confirm": {"yes"}, "idem": {"k"}}); code != http.StatusSeeOther {
		t.Fatalf("bulk lock: %d %s", code, body)
	}
	req := onlyPending(t, e.st)
	if code, _ := pageSession(t, con, "hank", RoleHelpdesk, 0).postForm(con, "/approvals/"+req.ID+"/cancel", url.Values{}); code != http.StatusForbidden {
		t.Errorf("another help-desk member cancels: %d, want 403", code)
	}
	if code, _ := h.postForm(con, "/approvals/"+req.ID+"/approve", url.Values{}); code != http.StatusForbidden {
		t.Errorf("the help desk approves: %d, want 403", code)
	}
	if code, body := h.postForm(con, "/approvals/"+req.ID+"/cancel", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("the requester cancels: %d %s", code, body)
	}
	if a, _ := e.st.Approval(req.ID); a.State != store.ApprovalCancelled || fmt.Sprint(countActions(e.st, "lock", ids)) != "[0 0]" {
		t.Errorf("after the cancel: %+v, locks %v", a, countActions(e.st, "lock", ids))
	}
}
