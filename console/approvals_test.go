package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// pendingFor is the pending approval request about a device.
func pendingFor(t *testing.T, st *store.Store, device string) *store.Approval {
	t.Helper()
	for _, a := range st.Approvals() {
		if a.State == store.ApprovalPending && len(a.Devices) == 1 && a.Devices[0] == device {
			return a
		}
	}
	t.Fatalf("no pending approval request for %s", device)
	return nil
}

// approveOnPage has a second admin approve the device's pending request
// on the approvals page.
func approveOnPage(t *testing.T, con *Console, st *store.Store, device string) {
	t.Helper()
	a := pendingFor(t, st, device)
	second := pageSession(t, con, "second-admin", RoleAdmin, 0)
	if code, body := second.postForm(con, "/approvals/"+a.ID+"/approve", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("approve on the page: %d\n%s", code, body)
	}
}

// personToken gives the page session's person an API token of their own.
func personToken(t *testing.T, st *store.Store, email, role string) string {
	t.Helper()
	u, ok := st.UserByEmail(email)
	if !ok {
		t.Fatalf("no user %s", email)
	}
	secret := "secret-of-" + email
	tok := &store.Token{ID: "tok_" + u.ID, Role: role, SecretHash: identity.HashSecret(secret), CreatedAt: time.Now(), OwnerID: u.ID, OwnerEmail: u.Email}
	if err := st.Write(context.Background(), store.Put(tok)); err != nil {
		t.Fatal(err)
	}
	return secret
}

// bearer sends one API request with a token secret.
func bearer(con *Console, secret, method, path string) (int, string) {
	return authzCaller{token: secret}.callBody(con, method, path, "")
}

// TestApprovalTwoPeople: admin A asks for a wipe on the device page;
// nothing is queued; A cannot approve it, neither with another session
// nor with an API token of theirs (403 saying another admin must);
// helpdesk cannot approve; admin B approves on the approvals page and the
// wipe is queued once; approving again is a conflict; every step is
// audited.
func TestApprovalTwoPeople(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	a := pageSession(t, con, "alice", RoleAdmin, 0)
	for range 2 { // a double submit asks once
		if code, body := a.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"wipe"}, "confirm": {"yes"}, "reason": {"stolen"}, "idem": {"form-9"}}); code != http.StatusSeeOther {
			t.Fatalf("wipe request: %d\n%s", code, body)
		}
	}
	if n := len(e.st.Approvals()); n != 1 {
		t.Fatalf("%d approval requests after a double submit, want 1", n)
	}
	req := pendingFor(t, e.st, corp)
	if _, body := a.callBody(con, "GET", "/devices/"+corp, ""); !strings.Contains(body, `data-awaiting="`+req.ID+`"`) || !strings.Contains(body, "Waiting for approval by another admin") {
		t.Errorf("the device page does not show the request waiting:\n%s", body)
	}
	if req.Requester != "user:alice@example.com" || req.Action != "wipe" || len(actionsOf(e.st, corp, "wipe")) != 0 {
		t.Fatalf("request: %+v", req)
	}
	code, body := pageSession(t, con, "alice", RoleAdmin, 0).postForm(con, "/approvals/"+req.ID+"/approve", url.Values{})
	if code != http.StatusForbidden || !strings.Contains(body, "another administrator must approve it") {
		t.Errorf("self-approval from another session: %d, want 403 with the reason\n%s", code, body)
	}
	code, body = bearer(con, personToken(t, e.st, "alice@example.com", RoleOwner), "POST", "/api/v1/approvals/"+req.ID+"/approve")
	if code != http.StatusForbidden || !strings.Contains(body, "another administrator must approve it") {
		t.Errorf("self-approval with a token of hers: %d %s", code, body)
	}
	if code, _ := pageSession(t, con, "helen", RoleHelpdesk, 0).postForm(con, "/approvals/"+req.ID+"/approve", url.Values{}); code != http.StatusForbidden {
		t.Errorf("helpdesk approve: %d, want 403", code)
	}
	if code, _ := e.call(t, RoleHelpdesk, "POST", "/api/v1/approvals/"+req.ID+"/approve", "", nil); code != http.StatusForbidden {
		t.Errorf("helpdesk approve (API): %d, want 403", code)
	}
	stale := pageSession(t, con, "bob-stale", RoleAdmin, 10*time.Minute)
	if code, body := stale.postForm(con, "/approvals/"+req.ID+"/approve", url.Values{}); code != http.StatusForbidden || !strings.Contains(body, `id="step-up"`) {
		t.Errorf("approve with an old key check: %d, want 403 with the step-up link\n%s", code, body)
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 0 {
		t.Fatalf("queued before approval: %d", n)
	}
	b := pageSession(t, con, "bob", RoleAdmin, 0)
	code, body = b.callBody(con, "GET", "/approvals", "")
	if code != http.StatusOK || !strings.Contains(body, `id="approve-`+req.ID+`"`) || !strings.Contains(body, "user:alice@example.com") {
		t.Errorf("approvals page: %d\n%s", code, body)
	}
	if code, body := b.postForm(con, "/approvals/"+req.ID+"/approve", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("second admin approves: %d\n%s", code, body)
	}
	if got := actionsOf(e.st, corp, "wipe"); len(got) != 1 || got[0].Params["reason"] != "stolen" {
		t.Fatalf("after the approval: %+v", got)
	}
	if code, _ := pageSession(t, con, "carol", RoleOwner, 0).postForm(con, "/approvals/"+req.ID+"/approve", url.Values{}); code != http.StatusConflict {
		t.Errorf("approving again: %d, want 409", code)
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 1 {
		t.Errorf("%d wipes after a second approval, want 1", n)
	}
	for _, step := range []struct{ actor, action string }{{"user:alice@example.com", "approval.requested"},
		{"user:bob@example.com", "approval.approved"}, {"user:bob@example.com", "approval.executed"}} {
		if !audited(e.st, step.actor, step.action, req.ID) {
			t.Errorf("%s by %s not audited", step.action, step.actor)
		}
	}
	_, body = pageSession(t, con, "audrey", RoleAuditor, 0).callBody(con, "GET", "/approvals", "")
	if !strings.Contains(body, `data-state="approved"`) || strings.Contains(body, `id="approve-`) {
		t.Errorf("auditor's approvals page: the decided request, no forms\n%s", body)
	}
}

// TestApprovalExpires: a request past its expiry cannot be approved (409,
// audited approval.expired) and is listed as expired.
func TestApprovalExpires(t *testing.T) {
	e, _, corp, _ := devicePageEnv(t)
	old := time.Now().Add(-48 * time.Hour)
	req := &store.Approval{ID: "apr_old", Version: 1, Action: enrollment.ActionWipe, Devices: []string{corp}, Requester: "user:x@example.com",
		RequesterKey: "user:usr_x", State: store.ApprovalPending, CreatedAt: old, ExpiresAt: old.Add(24 * time.Hour)}
	if err := e.st.Write(context.Background(), store.Create(req)); err != nil {
		t.Fatal(err)
	}
	code, body := e.call(t, RoleOwner, "POST", "/api/v1/approvals/apr_old/approve", "", nil)
	if code != http.StatusConflict || !strings.Contains(body, "expired") {
		t.Errorf("approve an expired request: %d %s", code, body)
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 0 {
		t.Errorf("an expired request queued %d wipes", n)
	}
	if a, _ := e.st.Approval("apr_old"); a.State != store.ApprovalExpired || !audited(e.st, "token:tok_owner", "approval.expired", "apr_old") {
		t.Errorf("stored: %+v", a)
	}
	if _, body := e.call(t, RoleAuditor, "GET", "/api/v1/approvals?state=expired", "", nil); !strings.Contains(body, "apr_old") {
		t.Errorf("expired list: %s", body)
	}
}

// secondAdmin gives the store an admin token of another person than the
// requesters of the race tests (tok_admin), and returns its secret.
func secondAdmin(t *testing.T, st *store.Store) string {
	t.Helper()
	second := &store.Token{ID: "tok_admin2", Role: RoleAdmin, SecretHash: identity.HashSecret("second-admin-secret"), CreatedAt: time.Now()}
	if err := st.Write(context.Background(), store.Put(second)); err != nil {
		t.Fatal(err)
	}
	return "second-admin-secret"
}

// race sends the two approvals at once and checks that one won and the
// other got 409, and that wipes wipes were queued on the device.
func race(t *testing.T, st *store.Store, device string, wipes int, approve ...func() int) {
	t.Helper()
	codes := make([]int, len(approve))
	var wg sync.WaitGroup
	for i, f := range approve {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = f()
		}()
	}
	wg.Wait()
	if !(codes[0] == http.StatusOK && codes[1] == http.StatusConflict || codes[0] == http.StatusConflict && codes[1] == http.StatusOK) {
		t.Fatalf("approvals at once: %v, want one 200 and one 409", codes)
	}
	if err := st.CatchUp(context.Background()); err != nil { // the winner may be another replica
		t.Fatal(err)
	}
	if n := len(actionsOf(st, device, "wipe")); n != wipes {
		t.Fatalf("%d wipes, want %d", n, wipes)
	}
}

// TestApprovalRaceExecutesOnce: two admins approve the same request at
// the same moment through two consoles on one store: one wins, the other
// gets 409, and the wipe is queued once.
func TestApprovalRaceExecutesOnce(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	other, secret := New(con.opts), secondAdmin(t, e.st)
	for round := range 10 {
		if code, body := e.call(t, RoleAdmin, "POST", "/api/v1/devices/"+corp+"/actions", `{"type":"wipe"}`, nil); code != http.StatusAccepted {
			t.Fatalf("wipe request: %d %s", code, body)
		}
		path := "/api/v1/approvals/" + pendingFor(t, e.st, corp).ID + "/approve"
		race(t, e.st, corp, round+1,
			func() int { code, _ := bearer(con, roleSecret(RoleOwner), "POST", path); return code },
			func() int { code, _ := bearer(other, secret, "POST", path); return code })
	}
}

// TestApprovalsDisabled: with approvals.disabled (one administrator), a
// full wipe is queued and a retire done at the first request, from the
// API and from the device page.
func TestApprovalsDisabled(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	opts := con.opts
	opts.Approvals.Disabled = true
	con = New(opts)
	a := pageSession(t, con, "alice", RoleAdmin, 0)
	if code, body := a.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"wipe"}, "confirm": {"yes"}, "reason": {"stolen"}, "idem": {"form-1"}}); code != http.StatusSeeOther {
		t.Fatalf("wipe on the page: %d\n%s", code, body)
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 1 || len(e.st.Approvals()) != 0 {
		t.Fatalf("%d wipes queued and %d approval requests, want 1 and 0", n, len(e.st.Approvals()))
	}
	other, _ := e.enroll(t, "corporate")
	code, body := bearer(con, personToken(t, e.st, "alice@example.com", RoleOwner), "POST", "/api/v1/devices/"+other+"/retire")
	if code != http.StatusOK || !strings.Contains(body, `"state":"retired"`) {
		t.Fatalf("retire through the API: %d %s", code, body)
	}
}

// TestApprovalRefusesTokensOfTheRequester: a service account's token the
// requester created is not a second person: approving with it is refused
// (403, nothing queued); another administrator's token approves.
func TestApprovalRefusesTokensOfTheRequester(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	a := pageSession(t, con, "alice", RoleAdmin, 0)
	if code, body := a.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"wipe"}, "confirm": {"yes"}, "reason": {"stolen"}, "idem": {"f"}}); code != http.StatusSeeOther {
		t.Fatalf("wipe request: %d\n%s", code, body)
	}
	req := pendingFor(t, e.st, corp)
	const secret = "a-service-token-alice-created-for-ci"
	if err := e.st.Write(context.Background(), store.Put(&store.Token{ID: "tok_ci", Name: "ci", Role: RoleOwner, ServiceAccount: "ci",
		CreatedBy: "user:alice@example.com", SecretHash: identity.HashSecret(secret), CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	code, body := bearer(con, secret, "POST", "/api/v1/approvals/"+req.ID+"/approve")
	if code != http.StatusForbidden || !strings.Contains(body, "created by the requester") || len(actionsOf(e.st, corp, "wipe")) != 0 {
		t.Fatalf("approval with a token alice created: %d %s, %d wipes", code, body, len(actionsOf(e.st, corp, "wipe")))
	}
	pageSession(t, con, "bob", RoleAdmin, 0)
	if code, body := bearer(con, personToken(t, e.st, "bob@example.com", RoleAdmin), "POST", "/api/v1/approvals/"+req.ID+"/approve"); code != http.StatusOK || len(actionsOf(e.st, corp, "wipe")) != 1 {
		t.Fatalf("bob's approval: %d %s", code, body)
	}
}
