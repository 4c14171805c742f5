package agentwire

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
)

// TestFieldNames pins the JSON names agents in the field send and read:
// renaming one breaks every installed agent.
func TestFieldNames(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    any
		keys string
	}{
		{EnrollRequest{Code: "c", CSR: "x"}, "code csr device"},
		{DeviceInfo{KeyProtection: "hardware"}, "agent_version hostname key_protection model os_version platform serial time_zone work_profile"},
		{RenewRequest{}, "csr"},
		{Certificate{WorkProfile: true}, "certificate device_id not_after ownership renew_after state work_profile"},
		{PostureReport{TimeZone: "UTC", Signals: []collect.Signal{}}, "collected_at seq signals time_zone"},
		{PostureResult{Replay: true, LastSeq: 3}, "accepted dropped last_seq replay"},
		{Profile{WorkProfile: true, Location: &LocationRule{}, Privacy: &Notice{}, PrivacyText: "t"},
			"allowed_signals device_id location ownership posture_interval privacy privacy_text state work_profile"},
		{LocationRule{}, "days from purpose retention to"},
		{Notice{WorkProfile: true, Contact: "it@example.com"},
			"actions collected contact device_id lang location not_collected ownership retention rights signals summary title work_profile"},
		{NoticeGroup{}, "group items title why"},
		{Action{Params: map[string]string{"a": "b"}, DeliveredAt: at, DoneAt: at, Result: "r"},
			"delivered_at device_id done_at expires_at id params requested_at requested_by result status type"},
		{Actions{}, "actions"},
		{ActionResult{}, "result status"},
		{Origins{}, "origins"},
		{Unenrolled{}, "device_id state"},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if got := strings.Join(keys, " "); got != tc.keys {
			t.Errorf("%T keys:\n got %s\nwant %s", tc.v, got, tc.keys)
		}
	}
}

// TestErrorBody reads the server's error answers.
func TestErrorBody(t *testing.T) {
	var b ErrorBody
	if err := json.Unmarshal([]byte(`{"error":{"code":"invalid","message":"m","field":"csr"}}`), &b); err != nil ||
		b.Error.Code != "invalid" || b.Error.Message != "m" || b.Error.Field != "csr" {
		t.Errorf("ErrorBody = %+v, %v", b, err)
	}
}
