package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/config"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// devicePageEnv is the device registry (full wipes enabled) with the
// console's pages: a corporate and a BYOD device enrolled through the
// agent API.
func devicePageEnv(t *testing.T) (e *mdmEnv, con *Console, corp, byod string) {
	t.Helper()
	e = newMDMEnv(t, enrollment.Config{WipeEnabled: true})
	id, err := identity.New(identity.Options{Store: e.st, Clock: time.Now, Log: slog.New(slog.DiscardHandler), ExternalURL: "https://localhost"})
	if err != nil {
		t.Fatal(err)
	}
	opts := e.con.opts
	opts.Identity = id
	con = New(opts)
	corp, _ = e.enroll(t, "corporate")
	byod, _ = e.enroll(t, "byod")
	return e, con, corp, byod
}

// withPosture connects a posture engine with the posture part of a
// config file (sources, compliance policies) and returns it.
func (e *mdmEnv) withPosture(t *testing.T, yaml string) *posture.Engine {
	t.Helper()
	cfg, err := config.Parse("posture-test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	pcfg, err := posture.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := posture.New(posture.Options{Store: e.st, Clock: time.Now, Config: pcfg, Actions: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetPosture(eng)
	return eng
}

// audited reports whether the audit log holds action on target by actor.
func audited(st *store.Store, actor, action, target string) bool {
	for _, ev := range st.Audit() {
		if ev.Actor == actor && ev.Action == action && ev.Target == target {
			return true
		}
	}
	return false
}

// TestDevicePageByRole: every role that reads devices sees the device
// page, each view audited in the person's name; the buttons are the
// role's: helpdesk locks but is offered no wipe, an auditor no action, an
// admin the full wipe of a company device but never of a BYOD one; a
// person without a role gets the 403 page.
func TestDevicePageByRole(t *testing.T) {
	e, con, corp, byod := devicePageEnv(t)
	d, _ := e.st.Device(corp)
	dl, err := e.st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	rec := &store.DecisionRecord{First: time.Now(), Last: time.Now(), Count: 3, Route: "https://wiki.localhost", User: "ada@example.com",
		Device: corp, Outcome: "deny", Rules: []string{"staff"}}
	store.RecordTimes(rec)
	if err := dl.AppendDecisions(context.Background(), []*store.DecisionRecord{rec}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role      string
		want, not []string
	}{
		{RoleAdmin, []string{`id="action-lock"`, `id="action-wipe"`, `id="action-selective_wipe"`, `id="action-retire"`, `id="action-revoke"`}, nil},
		{RoleHelpdesk, []string{`id="action-lock"`, `id="action-message"`, `id="action-quarantine"`}, []string{`id="action-wipe"`, `id="action-selective_wipe"`, `id="action-retire"`, `id="action-revoke"`}},
		{RoleAuditor, []string{"Your role takes no action"}, []string{`id="action-lock"`, `id="action-wipe"`}},
		{RoleSecurity, []string{"Your role takes no action"}, []string{`id="action-lock"`}},
	} {
		s := pageSession(t, con, "viewer-"+tc.role, tc.role, 0)
		code, body := s.callBody(con, "GET", "/devices/"+corp, "")
		if code != http.StatusOK || !strings.Contains(body, d.CertSerial) || !strings.Contains(body, `id="certificates"`) ||
			!strings.Contains(body, "/decisions?device="+corp) || !strings.Contains(body, `id="timeline"`) ||
			!strings.Contains(body, `<tr data-outcome="deny"><td>`) || !strings.Contains(body, "https://wiki.localhost") {
			t.Fatalf("%s: /devices/%s = %d:\n%s", tc.role, corp, code, body)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the device page lacks %s", tc.role, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%s: the device page offers %s", tc.role, n)
			}
		}
		if !audited(e.st, "user:viewer-"+tc.role+"@example.com", "device.view", corp) {
			t.Errorf("%s: the view of the device is not audited", tc.role)
		}
	}
	_, body := pageSession(t, con, "byod-admin", RoleAdmin, 0).callBody(con, "GET", "/devices/"+byod, "")
	if strings.Contains(body, `id="action-wipe"`) || !strings.Contains(body, `id="no-wipe"`) || !strings.Contains(body, `id="action-selective_wipe"`) {
		t.Errorf("admin on a BYOD device: want no full wipe, a note, and the work-data removal:\n%s", body)
	}
	if code, _ := pageSession(t, con, "employee", "", 0).callBody(con, "GET", "/devices/"+corp, ""); code != http.StatusForbidden {
		t.Errorf("employee: /devices/%s = %d, want 403", corp, code)
	}
	if code, _ := pageSession(t, con, "admin-404", RoleAdmin, 0).callBody(con, "GET", "/devices/dev_nope", ""); code != http.StatusNotFound {
		t.Errorf("unknown device: %d, want 404", code)
	}
	_, list := pageSession(t, con, "lister", RoleHelpdesk, 0).callBody(con, "GET", "/devices", "")
	if !strings.Contains(list, `<a href="/devices/`+corp+`">`) {
		t.Errorf("the devices page does not link to the device page:\n%s", list)
	}
}

// actionsOf lists a device's actions of one type.
func actionsOf(st *store.Store, id, typ string) []*store.Action {
	var out []*store.Action
	for _, a := range st.ActionsOf(id) {
		if a.Type == typ {
			out = append(out, a)
		}
	}
	return out
}

// TestDevicePageActions: the page's buttons take the API's path. Helpdesk
// locks (queued, audited in their name; the same form sent twice queues
// one lock) and is refused a wipe; a wipe asks for confirmation first,
// then waits for a second admin's approval, then is queued; a key check
// older than 5 minutes does nothing and links to the step-up; a BYOD
// device's full wipe is refused with the reason; retire is confirmed,
// approved by a second admin, then revokes the device.
func TestDevicePageActions(t *testing.T) {
	e, con, corp, byod := devicePageEnv(t)
	help := pageSession(t, con, "help", RoleHelpdesk, 0)
	lock := url.Values{"type": {"lock"}, "reason": {"lost on the train"}, "idem": {"form-1"}}
	for range 2 {
		if code, body := help.postForm(con, "/devices/"+corp+"/actions", lock); code != http.StatusSeeOther {
			t.Fatalf("helpdesk lock: %d\n%s", code, body)
		}
	}
	if got := actionsOf(e.st, corp, "lock"); len(got) != 1 || got[0].Status != store.ActionQueued || got[0].RequestedBy != "user:help@example.com" {
		t.Fatalf("after the lock: %+v", got)
	}
	if !audited(e.st, "user:help@example.com", "device.action.lock", corp) {
		t.Error("the lock is not audited in the person's name")
	}
	code, body := help.callBody(con, "GET", "/devices/"+corp+"?done=lock", "")
	if code != http.StatusOK || !strings.Contains(body, "Done: Lock.") || !strings.Contains(body, `data-type="lock" data-status="queued"`) {
		t.Errorf("device page after the lock: %d\n%s", code, body)
	}
	for _, typ := range []string{"wipe", "selective_wipe", "revoke"} {
		if code, _ := help.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {typ}, "confirm": {"yes"}}); code != http.StatusForbidden {
			t.Errorf("helpdesk %s: %d, want 403", typ, code)
		}
	}
	if code, _ := help.postForm(con, "/devices/"+corp+"/retire", url.Values{"confirm": {"yes"}}); code != http.StatusForbidden {
		t.Errorf("helpdesk retire: %d, want 403", code)
	}

	admin := pageSession(t, con, "admin", RoleAdmin, 0)
	code, body = admin.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"wipe"}, "reason": {"stolen"}})
	if code != http.StatusOK || !strings.Contains(body, `id="confirm-wipe"`) || !strings.Contains(body, `value="stolen"`) {
		t.Errorf("wipe without confirmation: %d, want the confirmation step\n%s", code, body)
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 0 {
		t.Fatalf("a wipe was queued before its confirmation: %d", n)
	}
	stale := pageSession(t, con, "admin-stale", RoleAdmin, 10*time.Minute)
	code, body = stale.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"wipe"}, "confirm": {"yes"}})
	if code != http.StatusForbidden || !strings.Contains(body, `id="step-up"`) || !strings.Contains(body, "/auth/step_up?rd=%2Fdevices%2F"+corp) {
		t.Errorf("wipe with an old key check: %d, want 403 with the step-up link\n%s", code, body)
	}
	if code, _ := stale.postForm(con, "/devices/"+corp+"/actions", lock); code != http.StatusForbidden {
		t.Errorf("lock with an old key check: %d, want 403 (as the API)", code)
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 0 {
		t.Fatalf("a wipe was queued without a fresh key check: %d", n)
	}
	if code, body := admin.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"wipe"}, "confirm": {"yes"}, "reason": {"stolen"}}); code != http.StatusSeeOther {
		t.Fatalf("confirmed wipe: %d\n%s", code, body)
	}
	if n := len(actionsOf(e.st, corp, "wipe")); n != 0 {
		t.Fatalf("a wipe was queued before a second person approved it: %d", n)
	}
	if _, body := admin.callBody(con, "GET", "/devices/"+corp+"?requested=wipe", ""); !strings.Contains(body, "waiting for approval by another admin") {
		t.Errorf("the device page does not say the wipe waits for approval:\n%s", body)
	}
	approveOnPage(t, con, e.st, corp)
	if got := actionsOf(e.st, corp, "wipe"); len(got) != 1 || got[0].Params["reason"] != "stolen" {
		t.Errorf("after the approved wipe: %+v", got)
	}
	code, body = admin.postForm(con, "/devices/"+byod+"/actions", url.Values{"type": {"wipe"}, "confirm": {"yes"}})
	if code != http.StatusConflict || !strings.Contains(body, "personal (BYOD) device") || len(actionsOf(e.st, byod, "wipe")) != 0 {
		t.Errorf("BYOD full wipe: %d, want 409 with the reason and nothing queued\n%s", code, body)
	}
	code, body = admin.postForm(con, "/devices/"+byod+"/retire", url.Values{})
	if code != http.StatusOK || !strings.Contains(body, `id="confirm-retire"`) {
		t.Errorf("retire without confirmation: %d\n%s", code, body)
	}
	if code, body := admin.postForm(con, "/devices/"+byod+"/retire", url.Values{"confirm": {"yes"}, "reason": {"left"}}); code != http.StatusSeeOther {
		t.Fatalf("confirmed retire: %d\n%s", code, body)
	}
	if d, _ := e.st.Device(byod); d.State == store.DeviceRetired {
		t.Fatal("retired before a second person approved it")
	}
	approveOnPage(t, con, e.st, byod)
	if d, _ := e.st.Device(byod); d.State != store.DeviceRetired || !audited(e.st, "user:second-admin@example.com", "device.retire", byod) {
		t.Errorf("after the retire: %s, audited %v", d.State, audited(e.st, "user:second-admin@example.com", "device.retire", byod))
	}
	if code, _ := admin.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"quarantine"}}); code != http.StatusSeeOther {
		t.Fatalf("quarantine: %d", code)
	}
	_, body = help.callBody(con, "GET", "/devices/"+corp, "")
	if !strings.Contains(body, `id="action-release"`) {
		t.Errorf("a quarantined device offers no release")
	}
	if code, _ := help.postForm(con, "/devices/"+corp+"/release", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("helpdesk release: %d", code)
	}
	if d, _ := e.st.Device(corp); d.State != store.DeviceActive {
		t.Errorf("after the release: %s", d.State)
	}
	if code, _ := help.postForm(con, "/devices/"+corp+"/actions", url.Values{"type": {"message"}}); code != http.StatusBadRequest {
		t.Errorf("a message without text: %d, want 400", code)
	}
}

// TestDevicePageShowsChecksAndFixes: a laptop whose disk is not encrypted
// shows the failing check with the fix for its platform, the signal as
// reported with its source, and the escalation step with its deadline.
func TestDevicePageShowsChecksAndFixes(t *testing.T) {
	e, con, _, _ := devicePageEnv(t)
	id, _ := e.unencryptedLaptop(t, "notify: 0s, lower_trust: 24h, block: 48h")
	code, body := pageSession(t, con, "reader", RoleAuditor, 0).callBody(con, "GET", "/devices/"+id, "")
	if code != http.StatusOK {
		t.Fatalf("device page: %d\n%s", code, body)
	}
	for _, want := range []string{`<tr data-status="fail"><td><code>disk_encrypted</code></td>`, "LUKS", "<code>disk.encrypted</code></td><td>false</td><td>lsblk -J</td>",
		`Escalation: <strong>grace</strong>`, "next step due", `<p id="compliance">not compliant`} {
		if !strings.Contains(body, want) {
			t.Errorf("the device page lacks %q", want)
		}
	}
}

// unencryptedLaptop enrolls a corporate Linux laptop under a compliance
// policy that requires disk encryption (grace 1h, then escalation, e.g.
// "notify: 2h, lower_trust: 24h"), and has its agent report the disk not
// encrypted now; it returns the device and when the report was made.
func (e *mdmEnv) unencryptedLaptop(t *testing.T, escalation string) (string, time.Time) {
	t.Helper()
	e.withPosture(t, `
compliance:
  - id: laptops
    platforms: [linux]
    checks: {disk_encryption: required}
    grace: 1h
    escalation: {`+escalation+`}
`)
	id, chain := e.enroll(t, "corporate")
	now := time.Now().UTC()
	at := now.Format(time.RFC3339)
	report := `{"seq":1,"collected_at":"` + at + `","signals":[{"name":"disk.encrypted","value":false,"source":"lsblk -J","collected_at":"` + at + `"}]}`
	if code, body := e.call(t, "", "POST", "/api/v1/agent/posture", report, chain); code != http.StatusOK {
		t.Fatalf("posture: %d %s", code, body)
	}
	return id, now
}

// TestDevicePageSaysTheKeyProtectionIsTheAgentsClaim: where the agent
// stated the key's protection, the device page and the inventory API say
// it is the agent's statement, not an attested fact.
func TestDevicePageSaysTheKeyProtectionIsTheAgentsClaim(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	d, _ := e.st.Device(corp)
	cp := *d
	cp.KeyProtection, cp.KeyProtectionSource = store.KeySoftware, store.KeySourceAgent
	if err := e.st.Write(context.Background(), store.Put(&cp)); err != nil {
		t.Fatal(err)
	}
	s := pageSession(t, con, "key-admin", RoleAdmin, 0)
	_, body := s.callBody(con, "GET", "/devices/"+corp, "")
	if want := `id="key-protection">software (as the agent states it, not attested)</td>`; !strings.Contains(body, want) {
		t.Errorf("device page lacks %s:\n%s", want, body)
	}
	_, body = s.callBody(con, "GET", "/api/v1/devices?q="+corp, "")
	if !strings.Contains(body, `"key_protection":"software","key_protection_source":"agent_claim"`) {
		t.Errorf("GET /api/v1/devices does not give the key protection's source:\n%s", body)
	}
}

// TestDevicePageShowsCertificatePurposes: the device page and the device
// API list the agent's certificate and a browser certificate with its
// person and key protection, and an attested device says it is verified.
func TestDevicePageShowsCertificatePurposes(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	d, _ := e.st.Device(corp)
	if _, err := e.svc.IssueBrowserCertificate(context.Background(), d, agentwire.BrowserCertificateRequest{
		CSR: oasCSR(t), Person: "ada.lovelace", KeyProtection: "software"}); err != nil {
		t.Fatal(err)
	}
	cp := *d
	cp.KeyProtection, cp.KeyProtectionSource = store.KeyHardware, store.KeySourceTPM
	if err := e.st.Write(context.Background(), store.Put(&cp)); err != nil {
		t.Fatal(err)
	}
	s := pageSession(t, con, "cert-admin", RoleAdmin, 0)
	_, body := s.callBody(con, "GET", "/devices/"+corp, "")
	for _, want := range []string{`id="key-protection">hardware (verified: TPM key attestation)</td>`,
		`<tr data-purpose="browser">`, `<td>browser · ada.lovelace</td><td>software (agent_claim)</td>`, `<tr data-purpose="agent">`} {
		if !strings.Contains(body, want) {
			t.Errorf("device page lacks %s", want)
		}
	}
	_, body = s.callBody(con, "GET", "/api/v1/devices/"+corp, "")
	if !strings.Contains(body, `"purpose":"browser","person":"ada.lovelace","key_protection":"software","key_protection_source":"agent_claim"`) ||
		!strings.Contains(body, `"key_protection_source":"tpm_attested"`) {
		t.Errorf("GET /api/v1/devices/{id} lacks the certificates' purposes or the device's source:\n%.2000s", body)
	}
}
