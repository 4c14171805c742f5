package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agent"
)

// TestAgentEndToEnd runs the whole device story against a real `portier
// serve` over real mutual TLS: a code from the API, `portier agent
// enroll`, `portier agent run --once` sending this machine's real Linux
// posture, the device in the inventory, every action type executed once
// despite re-delivery, revocation, and a full wipe with a harmless
// command.
func TestAgentEndToEnd(t *testing.T) {
	m := startMDM(t)
	sd := filepath.Join(t.TempDir(), "agent")
	id := m.enroll(sd, "corporate")
	for name, mode := range map[string]os.FileMode{"device.key": 0o600, "device.crt": 0o644, "ca.crt": 0o644} {
		if fi, err := os.Stat(filepath.Join(sd, name)); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	if code, out, errs := agentCLI(t, nil, "run", "--state-dir", sd, "--once"); code != 0 {
		t.Fatalf("agent run --once exited %d:\n%s\n%s", code, out, errs)
	}
	d := m.device(id)
	if d.State != "active" || d.Ownership != "corporate" || d.OwnerEmail != "ada@example.com" || d.Posture == nil || d.Posture.ReportSeq != 1 {
		t.Fatalf("device = %+v", d)
	}
	for _, name := range []string{"os.id", "kernel.version", "agent.version", "apps.installed"} {
		if _, ok := d.signal(name); !ok {
			t.Errorf("signal %s missing from the real Linux posture", name)
		}
	}
	if d.Trust == "" || len(d.PassingChecks)+len(d.FailingChecks) == 0 {
		t.Errorf("no trust or checks computed: %+v", d)
	}
	if code, out, _ := agentCLI(t, nil, "privacy", "--state-dir", sd); code != 0 || !strings.Contains(out, id) && len(out) < 100 {
		t.Errorf("agent privacy: %d %q", code, out)
	}

	// Each action type, executed once although delivered twice.
	run := &recordRunner{}
	ids := map[string]string{}
	for _, typ := range []string{"lock", "message", "recollect"} {
		var act struct{ ID, Status string }
		body := `{"type":"` + typ + `"}`
		if typ == "message" {
			body = `{"type":"message","params":{"title":"IT","text":"Please reboot tonight"}}`
		}
		if code := m.api("POST", "/api/v1/devices/"+id+"/actions", body, &act, "Idempotency-Key", "e2e-"+typ); code != 201 || act.Status != "queued" {
			t.Fatalf("queue %s: %d %+v", typ, code, act)
		}
		ids[typ] = act.ID
	}
	dc := deviceClient(t, sd)
	code, firstPoll := m.deviceCall(dc, "GET", "/api/v1/agent/actions?wait=0s", nil)
	if code != 200 || strings.Count(firstPoll, `"status":"delivered"`) != 3 {
		t.Fatalf("first delivery: %d %s", code, firstPoll)
	}
	for range 2 {
		if code, out, errs := agentCLI(t, run, "run", "--state-dir", sd, "--once"); code != 0 {
			t.Fatalf("agent run --once exited %d:\n%s\n%s", code, out, errs)
		}
	}
	// Replay the first long-poll answer into the agent: nothing runs again.
	var replay struct{ Actions []*agent.Action }
	_ = json.Unmarshal([]byte(firstPoll), &replay)
	a, err := agent.Open(agent.Options{StateDir: sd, Runner: run})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Execute(context.Background(), replay.Actions); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if run.count("loginctl lock-sessions") != 1 || run.count("notify-send") != 1 {
		t.Errorf("commands run: %q", run.calls)
	}
	d = m.device(id)
	for _, act := range d.Actions {
		if act.Status != "acknowledged" {
			t.Errorf("action %s is %s (%s)", act.Type, act.Status, act.Result)
		}
	}
	if d.Posture.ReportSeq < 3 {
		t.Errorf("recollect did not send posture: seq %d", d.Posture.ReportSeq)
	}

	// Bad agent input, over mutual TLS.
	big := fmt.Sprintf(`{"seq":99,"collected_at":"%s","signals":[],"pad":"%s"}`, time.Now().UTC().Format(time.RFC3339), strings.Repeat("x", 300<<10))
	if code, body := m.deviceCall(dc, "POST", "/api/v1/agent/posture", []byte(big)); code != 413 {
		t.Errorf("oversized posture: %d %.200s", code, body)
	}
	if code, body := m.deviceCall(dc, "POST", "/api/v1/agent/posture", []byte(`{"seq":100,"collected_at":"2026-01-01T00:00:00Z","signals":[{"name":"disk.encrypted","value":"yes"}]}`)); code != 400 || !strings.Contains(body, `"field":"signals[0].value"`) {
		t.Errorf("malformed posture: %d %s", code, body)
	}
	if code, body := m.deviceCall(dc, "POST", "/api/v1/agent/posture", []byte(`{"seq":1,"collected_at":"2026-01-01T00:00:00Z","signals":[]}`)); code != 200 || !strings.Contains(body, `"replay":true`) {
		t.Errorf("replayed report: %d %s", code, body)
	}

	// A full wipe runs the operator's command, here one that only writes a marker.
	marker := filepath.Join(t.TempDir(), "wiped")
	var wipe struct{ ID string }
	if code := m.api("POST", "/api/v1/devices/"+id+"/actions", `{"type":"wipe"}`, &wipe); code != 201 {
		t.Fatalf("queue wipe: %d", code)
	}
	if code, out, errs := agentCLI(t, nil, "run", "--state-dir", sd, "--once", "--wipe-command", "touch "+marker); code != 0 || !strings.Contains(out, "unenrolled") {
		t.Fatalf("wipe run exited %d:\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the wipe command did not run: %v", err)
	}
	if d := m.device(id); d.State != "wiped" {
		t.Errorf("device after wipe = %s", d.State)
	}
	var kpis struct {
		Wipes int `json:"wipes"`
	}
	if code := m.api("GET", "/api/v1/kpis", "", &kpis); code != 200 || kpis.Wipes != 1 {
		t.Errorf("kpis: %d %+v", code, kpis)
	}
}

func TestAgentRevokeAndRetire(t *testing.T) {
	m := startMDM(t)
	sd := filepath.Join(t.TempDir(), "agent")
	id := m.enroll(sd, "cope")
	if code, _, errs := agentCLI(t, nil, "run", "--state-dir", sd, "--once"); code != 0 {
		t.Fatalf("run: %s", errs)
	}
	dc := deviceClient(t, sd)
	var act struct{ Status string }
	if code := m.api("POST", "/api/v1/devices/"+id+"/actions", `{"type":"revoke","params":{"reason":"stolen"}}`, &act); code != 201 || act.Status != "acknowledged" {
		t.Fatalf("revoke: %d %+v", code, act)
	}
	if code, body := m.deviceCall(dc, "GET", "/api/v1/agent/profile", nil); code != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("next mTLS call after revoke: %d %s", code, body)
	}
	if code, _, errs := agentCLI(t, nil, "run", "--state-dir", sd, "--once"); code != 1 || !strings.Contains(errs, "revoked") {
		t.Errorf("agent after revoke: %d %s", code, errs)
	}
	if code := m.api("POST", "/api/v1/devices/"+id+"/actions", `{"type":"lock"}`, nil); code != 409 {
		t.Errorf("action for a retired device: %d", code)
	}
	sd2 := filepath.Join(t.TempDir(), "agent2")
	id2 := m.enroll(sd2, "corporate")
	if code := m.api("POST", "/api/v1/devices/"+id2+"/retire", `{"reason":"left the company"}`, nil); code != 200 {
		t.Fatalf("retire: %d", code)
	}
	if code := m.api("POST", "/api/v1/devices/"+id2+"/actions", `{"type":"message","params":{"text":"hi"}}`, nil); code != 409 {
		t.Errorf("action for a retired device: %d", code)
	}
}

func TestAgentBYODWorkProfile(t *testing.T) {
	m := startMDM(t)
	sd := filepath.Join(t.TempDir(), "agent")
	id := m.enroll(sd, "byod", "--work-profile")
	if _, err := os.Stat(filepath.Join(sd, "work-profile", "device.key")); err != nil {
		t.Fatalf("work profile: %v", err)
	}
	if code, _, errs := agentCLI(t, nil, "run", "--state-dir", sd, "--once"); code != 0 {
		t.Fatalf("run: %s", errs)
	}
	d := m.device(id)
	if !d.WorkProfile || d.Posture == nil {
		t.Fatalf("device = %+v", d)
	}
	if _, ok := d.signal("apps.installed"); ok {
		t.Error("the application inventory of a personal device was collected")
	}
	if _, ok := d.signal("os.version"); !ok {
		t.Error("os.version missing from the BYOD posture")
	}
	var e struct{ Error struct{ Message string } }
	if code := m.api("POST", "/api/v1/devices/"+id+"/actions", `{"type":"wipe"}`, &e); code != 409 || !strings.Contains(e.Error.Message, "selective_wipe") {
		t.Errorf("BYOD wipe: %d %+v", code, e)
	}
	if code := m.api("POST", "/api/v1/devices/"+id+"/actions", `{"type":"selective_wipe"}`, nil); code != 201 {
		t.Fatalf("selective wipe: %d", code)
	}
	if code, out, errs := agentCLI(t, nil, "run", "--state-dir", sd, "--once"); code != 0 || !strings.Contains(out, "unenrolled") {
		t.Fatalf("selective wipe run: %d %s %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(sd, "work-profile")); !os.IsNotExist(err) {
		t.Errorf("work profile left behind: %v", err)
	}
	if d := m.device(id); d.State != "retired" {
		t.Errorf("device after selective wipe = %s", d.State)
	}
}

func TestAgentEnrollBadInput(t *testing.T) {
	m := startMDM(t)
	code := m.newCode("corporate")
	sd := t.TempDir()
	args := []string{"agent", "enroll", "--server", m.url(""), "--code", code, "--state-dir", sd, "--ca-fingerprint", m.fp}
	if c, _, errs := run(t, nil, args...); c != 0 {
		t.Fatalf("enroll: %s", errs)
	}
	if c, _, errs := run(t, nil, append(args[:len(args)-2:len(args)-2], "--state-dir", t.TempDir())...); c != 1 || !strings.Contains(errs, "already used") {
		t.Errorf("reused code: %d %s", c, errs)
	}
	if c, _, errs := run(t, nil, "agent", "enroll", "--server", m.url(""), "--code", "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", "--state-dir", t.TempDir()); c != 1 || !strings.Contains(errs, "not valid") {
		t.Errorf("unknown code: %d %s", c, errs)
	}
	if c, _, errs := run(t, nil, "agent", "enroll", "--server", m.url(""), "--code", m.newCode("corporate"), "--state-dir", t.TempDir(), "--ca-fingerprint", strings.Repeat("0", 64)); c != 1 || !strings.Contains(errs, "refusing") {
		t.Errorf("wrong fingerprint: %d %s", c, errs)
	}
	if c, _, _ := run(t, nil, "agent", "enroll", "--code", "x"); c != 2 {
		t.Errorf("missing --server: %d", c)
	}
	// Weak and mismatched CSRs, straight to the API.
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tc := range map[string]struct {
		key  any
		tpl  *x509.CertificateRequest
		want string
	}{
		"rsa1024":  {rsa1024, &x509.CertificateRequest{}, "RSA (1024 bits)"},
		"p224":     {p224, &x509.CertificateRequest{}, "P-224"},
		"dns name": {p256, &x509.CertificateRequest{DNSNames: []string{"portier.example"}}, "unexpected DNS name"},
	} {
		der, err := x509.CreateCertificateRequest(rand.Reader, tc.tpl, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"code": m.newCode("corporate"),
			"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
		resp, out := m.do("POST", "/api/v1/agent/enroll", "", string(body))
		if resp.StatusCode != 400 || !strings.Contains(out, tc.want) || !strings.Contains(out, `"field":"csr"`) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, out)
		}
	}
	if resp, out := m.do("POST", "/api/v1/agent/enroll", "", `{"code":"x","device":{"serial":7}}`); resp.StatusCode != 400 || !strings.Contains(out, `"field":"device.serial"`) {
		t.Errorf("malformed enroll: %d %s", resp.StatusCode, out)
	}
}
