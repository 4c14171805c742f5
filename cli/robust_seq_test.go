package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestPostureSeqCannotWedgeDevice is the attack of issue 9 item 12 over the
// running server: an enrolled device sends a posture report with the
// largest possible sequence number. Before the bound it was accepted and
// every later report of the real agent was refused as a replay, forever.
func TestPostureSeqCannotWedgeDevice(t *testing.T) {
	m := startMDM(t)
	sd := filepath.Join(t.TempDir(), "agent")
	id := m.enroll(sd, "corporate")
	dc := deviceClient(t, sd)
	report := func(seq string) (int, string) {
		return m.deviceCall(dc, "POST", "/api/v1/agent/posture",
			[]byte(`{"seq":`+seq+`,"collected_at":"2026-01-01T00:00:00Z","signals":[]}`))
	}
	for _, seq := range []string{"18446744073709551615", "9007199254740992", fmt.Sprint(1<<24 + 1)} {
		if code, body := report(seq); code != 400 || !strings.Contains(body, `"field":"seq"`) {
			t.Errorf("report with seq %s: %d %s, want 400 naming the field seq", seq, code, body)
		}
	}
	if code, body := report("5"); code != 200 || !strings.Contains(body, `"accepted":true`) {
		t.Fatalf("a normal report after the refused ones: %d %s", code, body)
	}
	if code, body := report(fmt.Sprint(5 + 1<<24 + 1)); code != 400 || !strings.Contains(body, `"field":"seq"`) {
		t.Errorf("a jump of more than 2^24 over the last report: %d %s", code, body)
	}
	if code, body := report("5"); code != 200 || !strings.Contains(body, `"replay":true`) || !strings.Contains(body, `"last_seq":5`) {
		t.Errorf("replays must still be refused: %d %s", code, body)
	}
	// The real agent keeps reporting.
	if code, out, errs := agentCLI(t, nil, "run", "--state-dir", sd, "--once"); code != 0 {
		t.Fatalf("agent run --once exited %d:\n%s\n%s", code, out, errs)
	}
	if d := m.device(id); d.Posture == nil || d.Posture.ReportSeq <= 5 {
		t.Errorf("the agent's report was not accepted: %+v", d.Posture)
	}
}
