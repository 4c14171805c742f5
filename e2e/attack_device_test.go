package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// deviceClaimConfig has a route only an organization-owned, highly
// trusted device may open (HR), and one any signed-in staff member may.
const deviceClaimConfig = `
external_url: https://localhost:%[1]s
listen: 127.0.0.1:%[1]s
metrics_listen: "off"
data_dir: %[2]s
identity_providers:
  - id: mock
    type: oidc
    issuer: %[3]s
    client_id: %[4]s
    client_secret: %[5]s
    scopes: [openid, email, profile, groups]
    groups_claim: groups
routes:
  - {from: "https://hr.localhost:%[1]s", to: "%[6]s", policy: corporate-high, idp: mock}
  - {from: "https://app.localhost:%[1]s", to: "%[6]s", policy: staff, idp: mock}
policies:
  - id: corporate-high
    allow:
      and:
        - group: {has: staff}
        - device: {ownership: corporate, trust: {gte: high}}
  - id: staff
    allow:
      and:
        - group: {has: staff}
`

// newDeviceClaimWorld starts a Portier with deviceClaimConfig and the
// built-in baseline compliance policy.
func newDeviceClaimWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, deviceClaimConfig)
}

// signIn signs a person in through the mock IdP on browser c by opening
// the staff route, which any signed-in staff member may open.
func (w *world) signIn(c *http.Client, sub, email string) {
	w.t.Helper()
	w.idp.QueueUser(identitytest.NewUser(sub, email, "staff"))
	if resp, body := get(w.t, c, "GET", w.url("app.localhost", "/")); resp.StatusCode != 200 {
		w.t.Fatalf("sign in %s: %d %s\n%s", email, resp.StatusCode, resp.Request.URL, body)
	}
}

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	codeRE = regexp.MustCompile(`[0-9A-Z]{5}(-[0-9A-Z]{5}){4}`)
)

// selfServiceCode is what a signed-in employee does on /enroll: pick an
// ownership and get a one-time code.
func (w *world) selfServiceCode(c *http.Client, ownership string) string {
	w.t.Helper()
	_, page := get(w.t, c, "GET", w.url("localhost", "/enroll"))
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		w.t.Fatalf("no enrollment form:\n%s", page)
	}
	req, _ := http.NewRequest("POST", w.url("localhost", "/enroll"), strings.NewReader(url.Values{"csrf": {m[1]}, "ownership": {ownership}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	code := codeRE.FindString(string(b))
	if resp.StatusCode != 200 || code == "" {
		w.t.Fatalf("POST /enroll %s: %d\n%s", ownership, resp.StatusCode, b)
	}
	return code
}

// perfectPosture is everything the baseline compliance policy wants to
// hear, as a tampered agent would claim it.
func perfectPosture(context.Context, collect.Allowed) []collect.Signal {
	now := time.Now().UTC()
	s := func(name string, v any) collect.Signal {
		return collect.Signal{Name: name, Value: v, Source: "agent", CollectedAt: now}
	}
	return []collect.Signal{s(collect.OSName, "Ubuntu"), s(collect.OSID, "ubuntu"), s(collect.OSVersion, "24.04"),
		s(collect.DiskEncrypted, true), s(collect.FirewallEnabled, true), s(collect.ScreenlockEnabled, true),
		s(collect.SecurebootEnabled, true), s(collect.UpdatesSecurityPending, int64(0))}
}

// enrollAgent runs `portier agent enroll` with code and the given device
// facts, sends a perfect posture report over mutual TLS, and returns the
// device id and its certificate as a browser would present it.
func (w *world) enrollAgent(code string, info agentwire.DeviceInfo) (string, *tls.Certificate) {
	w.t.Helper()
	ctx := context.Background()
	dir := w.t.TempDir()
	if info.Platform == "" {
		info.Platform = "linux"
	}
	enrolled, err := agent.Enroll(ctx, agent.EnrollOptions{Server: w.url("localhost", ""), Code: code, StateDir: dir,
		Fingerprint: w.srv.CA().Fingerprint(), Version: "1.0.0", Out: io.Discard,
		Info: func(context.Context) agentwire.DeviceInfo { return info }})
	if err != nil {
		w.t.Fatalf("agent enroll: %v", err)
	}
	ag, err := agent.Open(agent.Options{StateDir: enrolled.Dir, Version: "1.0.0", Platform: "linux", Collect: perfectPosture,
		TimeZone: func() string { return "UTC" }})
	if err != nil {
		w.t.Fatal(err)
	}
	defer ag.Close()
	if _, err := ag.SendPosture(ctx, false); err != nil {
		w.t.Fatalf("send posture over mTLS: %v", err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(enrolled.Dir, agent.CertFile), filepath.Join(enrolled.Dir, agent.KeyFile))
	if err != nil {
		w.t.Fatal(err)
	}
	return enrolled.DeviceID, &cert
}

// deviceView is a device as GET /api/v1/devices/{id} shows it.
type deviceView struct {
	ID                 string `json:"id"`
	Ownership          string `json:"ownership"`
	OwnershipSource    string `json:"ownership_source"`
	RequestedOwnership string `json:"requested_ownership"`
	OwnerEmail         string `json:"owner_email"`
	Trust              string `json:"trust"`
	Compliant          bool   `json:"compliant"`
	KeyProtection      string `json:"key_protection"`
	Shared             bool   `json:"shared"`
}

func (w *world) deviceView(token, id string) deviceView {
	w.t.Helper()
	var v deviceView
	if st := w.api(w.browser(nil), token, "GET", "/api/v1/devices/"+id, "", &v); st != 200 {
		w.t.Fatalf("GET device %s = %d", id, st)
	}
	return v
}

// audited reports whether the audit log holds action on target.
func (w *world) audited(token, action, target string) *store.AuditEvent {
	w.t.Helper()
	var out struct{ Events []*store.AuditEvent }
	if st := w.api(w.browser(nil), token, "GET", "/api/v1/audit", "", &out); st != 200 {
		w.t.Fatalf("GET audit = %d", st)
	}
	for _, ev := range out.Events {
		if ev.Action == action && ev.Target == target {
			return ev
		}
	}
	return nil
}

// TestSelfServiceCannotClaimACorporateDevice is the attack of issue 9
// item 2: an ordinary signed-in employee picks "corporate" on /enroll,
// enrolls a machine of their own with the agent and has it report perfect
// posture. The device must not become corporate nor highly trusted, and a
// route requiring a corporate, high-trust device must refuse it. The
// claim waits for an administrator, who sees it and may approve it
// (audited); even then, self-reported posture from a software key stays
// at medium trust.
func TestSelfServiceCannotClaimACorporateDevice(t *testing.T) {
	w := newDeviceClaimWorld(t)
	admin := w.apiToken("admin")

	laptop := w.browser(nil)
	w.signIn(laptop, "sub-mallory", "mallory@example.com")
	code := w.selfServiceCode(laptop, "corporate")
	id, cert := w.enrollAgent(code, agentwire.DeviceInfo{Serial: "VM-MALLORY-1", Hostname: "mallory-vm"})

	v := w.deviceView(admin, id)
	if v.Ownership == "corporate" || v.Trust == "high" {
		t.Errorf("self-service claim gave ownership %s, trust %s", v.Ownership, v.Trust)
	}
	if v.Ownership != "byod" || v.OwnershipSource != "self_service" || v.RequestedOwnership != "corporate" || !v.Compliant || v.Trust != "medium" {
		t.Errorf("device = %+v, want byod from self-service, corporate pending, compliant at medium trust", v)
	}
	mallory := w.browser(cert)
	w.signIn(mallory, "sub-mallory", "mallory@example.com")
	resp, body := get(t, mallory, "GET", w.url("hr.localhost", "/payroll"))
	if resp.StatusCode != 403 || !strings.Contains(body, "company-owned") {
		t.Errorf("HR route with the self-claimed device = %d, want 403 naming ownership\n%s", resp.StatusCode, body)
	}

	// Claiming a hardware key too changes nothing: the ownership is not the employee's to decide.
	code = w.selfServiceCode(laptop, "cope")
	id2, _ := w.enrollAgent(code, agentwire.DeviceInfo{Serial: "VM-MALLORY-2", KeyProtection: "hardware"})
	if v := w.deviceView(admin, id2); v.Ownership != "byod" || v.Trust == "high" || v.RequestedOwnership != "cope" {
		t.Errorf("self-service cope with a hardware key claim = %+v", v)
	}

	// The administrator sees the pending request and approves it, audited.
	var pending struct{ Devices []deviceView }
	if st := w.api(w.browser(nil), admin, "GET", "/api/v1/devices?pending=true", "", &pending); st != 200 || len(pending.Devices) != 2 {
		t.Fatalf("pending devices = %d %+v, want both self-service claims", st, pending.Devices)
	}
	helpdesk := w.apiToken("helpdesk")
	if st := w.api(w.browser(nil), helpdesk, "POST", "/api/v1/devices/"+id+"/ownership", "", nil); st != 403 {
		t.Errorf("helpdesk approving ownership = %d, want 403", st)
	}
	if st := w.api(w.browser(nil), admin, "POST", "/api/v1/devices/"+id+"/ownership", "", nil); st != 200 {
		t.Fatalf("approve = %d", st)
	}
	v = w.deviceView(admin, id)
	if v.Ownership != "corporate" || v.OwnershipSource != "approval" || v.RequestedOwnership != "" {
		t.Errorf("after approval: %+v", v)
	}
	ev := w.audited(admin, "device.ownership.approve", id)
	if ev == nil || ev.Actor != "token:tok_admin" || ev.Detail["to"] != "corporate" || ev.Detail["from"] != "byod" {
		t.Errorf("approval audit = %+v", ev)
	}

	// Approved, compliant, fresh, but its key is software: capped at medium,
	// so the HR route still refuses it, naming the trust level.
	if v.Trust != "medium" || v.KeyProtection != "software" {
		t.Errorf("approved corporate device with a software key: trust %s key %s, want medium and software", v.Trust, v.KeyProtection)
	}
	resp, body = get(t, mallory, "GET", w.url("hr.localhost", "/payroll"))
	if resp.StatusCode != 403 || !strings.Contains(body, "trust level is medium") {
		t.Errorf("HR route with an approved software-key device = %d\n%s", resp.StatusCode, body)
	}
}

// TestExpectedDeviceAndOwnerBinding: a device whose serial the
// administrator pre-registered for this person becomes corporate through
// self-service, and with a hardware-bound key reaches high trust and the
// HR route. Its certificate with another person's session is an
// unmanaged device for that person (over mutual TLS through the proxy)
// until an administrator marks it as shared (audited). Another person
// reporting that serial gets nothing of it.
func TestExpectedDeviceAndOwnerBinding(t *testing.T) {
	w := newDeviceClaimWorld(t)
	admin := w.apiToken("admin")
	csv := "serial,model,platform,owner_email,department,ownership\nPF-ADA-0001,ThinkPad,linux,ada@example.com,HR,corporate\n"
	if st := w.api(w.browser(nil), admin, "POST", "/api/v1/enrollment/expected", csv, nil); st != 200 {
		t.Fatalf("import expected = %d", st)
	}

	// Someone else reporting Ada's serial: not corporate, and Ada's
	// pre-registration stays free.
	other := w.browser(nil)
	w.signIn(other, "sub-mallory", "mallory@example.com")
	id, _ := w.enrollAgent(w.selfServiceCode(other, "corporate"), agentwire.DeviceInfo{Serial: "PF-ADA-0001", KeyProtection: "hardware"})
	if v := w.deviceView(admin, id); v.Ownership != "byod" || v.Trust == "high" {
		t.Errorf("another person's self-service with Ada's serial = %+v", v)
	}

	ada := w.browser(nil)
	w.signIn(ada, "sub-ada", "ada@example.com")
	id, cert := w.enrollAgent(w.selfServiceCode(ada, "byod"), agentwire.DeviceInfo{Serial: "pf-ada-0001", KeyProtection: "hardware"})
	v := w.deviceView(admin, id)
	if v.Ownership != "corporate" || v.OwnershipSource != "expected" || v.OwnerEmail != "ada@example.com" || v.KeyProtection != "hardware" || v.Trust != "high" {
		t.Fatalf("expected device enrolled by self-service = %+v, want corporate from the expected list, high trust", v)
	}
	adaLaptop := w.browser(cert)
	w.signIn(adaLaptop, "sub-ada", "ada@example.com")
	if resp, body := get(t, adaLaptop, "GET", w.url("hr.localhost", "/payroll")); resp.StatusCode != 200 {
		t.Fatalf("Ada on her corporate laptop = %d\n%s", resp.StatusCode, body)
	}

	// Mallory with Ada's certificate: not a managed device for Mallory.
	stolen := w.browser(cert)
	w.signIn(stolen, "sub-mallory", "mallory@example.com")
	resp, body := get(t, stolen, "GET", w.url("hr.localhost", "/payroll"))
	if resp.StatusCode != 403 || !strings.Contains(body, "enrolled to another person") {
		t.Errorf("Ada's certificate with Mallory's session = %d, want 403 saying the device is another person's\n%s", resp.StatusCode, body)
	}

	// Shared by an administrator: any signed-in user counts, audited.
	if st := w.api(w.browser(nil), admin, "POST", "/api/v1/devices/"+id+"/shared", `{"shared":true}`, nil); st != 200 {
		t.Fatalf("share = %d", st)
	}
	if ev := w.audited(admin, "device.share", id); ev == nil || ev.Actor != "token:tok_admin" {
		t.Errorf("share audit = %+v", ev)
	}
	if resp, body := get(t, stolen, "GET", w.url("hr.localhost", "/payroll")); resp.StatusCode != 200 {
		t.Errorf("shared device with another person's session = %d\n%s", resp.StatusCode, body)
	}
}
