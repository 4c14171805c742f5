package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentStatusAndUnenroll: status shows the enrollment, the
// certificate and the last report; unenroll retires the device on the
// server and deletes the state, after which status says not enrolled.
func TestAgentStatusAndUnenroll(t *testing.T) {
	m := startMDM(t)
	sd := filepath.Join(t.TempDir(), "agent")
	id := m.enroll(sd, "corporate")
	code, out, errs := agentCLI(t, nil, "status", "--state-dir", sd)
	if code != 0 || !strings.Contains(out, "Device:       "+id) || !strings.Contains(out, "Certificate:  serial ") ||
		!strings.Contains(out, "no report sent yet") || !strings.Contains(out, "Actions:      none pending") ||
		!strings.Contains(out, "Key:          software (device.key in the state directory)") {
		t.Fatalf("status (exit %d):\n%s%s", code, out, errs)
	}
	if code, out, errs := agentCLI(t, &recordRunner{}, "run", "--once", "--state-dir", sd); code != 0 {
		t.Fatalf("run --once (exit %d):\n%s%s", code, out, errs)
	}
	code, out, _ = agentCLI(t, nil, "status", "--state-dir", sd, "--json")
	var st struct {
		Enrolled    bool   `json:"enrolled"`
		DeviceID    string `json:"device_id"`
		Certificate struct {
			Serial  string `json:"serial"`
			Expired bool   `json:"expired"`
		} `json:"certificate"`
		LastPosture struct {
			Seq uint64 `json:"seq"`
		} `json:"last_posture"`
		Browser struct {
			Placements []any `json:"placements"`
		} `json:"browser"`
		PendingActions []any `json:"pending_actions"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status --json (exit %d): %v\n%s", code, err, out)
	}
	if !st.Enrolled || st.DeviceID != id || st.Certificate.Serial == "" || st.Certificate.Expired || st.LastPosture.Seq != 1 ||
		st.Browser.Placements == nil || st.PendingActions == nil {
		t.Errorf("status --json = %+v", st)
	}
	code, out, errs = agentCLI(t, nil, "unenroll", "--state-dir", sd)
	if code != 0 || !strings.Contains(out, "the server retired the device") {
		t.Fatalf("unenroll (exit %d):\n%s%s", code, out, errs)
	}
	var dev struct{ State string }
	if c := m.api("GET", "/api/v1/devices/"+id, "", &dev); c != 200 || dev.State != "retired" {
		t.Errorf("device after unenroll: %d %q", c, dev.State)
	}
	if code, out, _ := agentCLI(t, nil, "status", "--state-dir", sd); code != 1 || !strings.Contains(out, "Not enrolled") {
		t.Errorf("status after unenroll (exit %d):\n%s", code, out)
	}
	if code, _, errs := agentCLI(t, nil, "unenroll", "--state-dir", sd); code != 1 || !strings.Contains(errs, "not enrolled") {
		t.Errorf("unenroll again (exit %d): %s", code, errs)
	}
}
