package posture

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture/collect"
)

func TestParseReport(t *testing.T) {
	body := `{"seq":7,"collected_at":"2025-03-11T10:00:00Z","time_zone":"Europe/Paris","agent_build":"x","signals":[
	 {"name":"disk.encrypted","value":true,"source":"lsblk -J","collected_at":"2025-03-11T10:00:00Z"},
	 {"name":"updates.security_pending","value":3,"source":"apt list --upgradable","collected_at":"2025-03-11T10:00:00Z"},
	 {"name":"apps.installed","value":[{"name":"firefox","version":"133.0"}],"source":"dpkg-query -W","collected_at":"2025-03-11T10:00:00Z"},
	 {"name":"firewall.enabled","source":"ufw status","collected_at":"2025-03-11T10:00:00Z","error":"not available"},
	 {"name":"location.coordinates","value":"48.85,2.35","collected_at":"2025-03-11T10:00:00Z"},
	 {"name":"future.signal","value":{"x":1}}]}`
	r, err := ParseReport([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 7 || r.TimeZone != "Europe/Paris" || len(r.Signals) != 5 {
		t.Fatalf("report = %+v", r)
	}
	if v, ok := r.Signals[1].Value.(int64); !ok || v != 3 {
		t.Errorf("int value = %#v", r.Signals[1].Value)
	}
	if apps, ok := r.Signals[2].Value.([]collect.App); !ok || apps[0].Name != "firefox" {
		t.Errorf("apps = %#v", r.Signals[2].Value)
	}
	if r.Signals[3].OK() || r.Signals[3].Error != "not available" {
		t.Errorf("error signal = %+v", r.Signals[3])
	}
	// Round trip through the stored form.
	raw, _ := json.Marshal(r.Signals)
	back, err := DecodeSignals(raw)
	if err != nil || len(back) != 5 || back[4].Value != "48.85,2.35" {
		t.Errorf("DecodeSignals = %+v, %v", back, err)
	}
}

func TestParseReportErrorsNameTheField(t *testing.T) {
	tests := []struct{ name, body, field string }{
		{"no seq", `{"signals":[]}`, "seq"},
		{"seq string", `{"seq":"1","signals":[]}`, "seq"},
		{"negative seq", `{"seq":-1,"signals":[]}`, "seq"},
		{"zero seq", `{"seq":0,"signals":[]}`, "seq"},
		{"bad time", `{"seq":1,"collected_at":"now","signals":[]}`, "collected_at"},
		{"zone type", `{"seq":1,"time_zone":5}`, "time_zone"},
		{"signals not a list", `{"seq":1,"signals":{}}`, "signals"},
		{"bool as string", `{"seq":1,"signals":[{"name":"disk.encrypted","value":"yes"}]}`, "signals[0].value"},
		{"int as float", `{"seq":1,"signals":[{"name":"uptime.seconds","value":1.5}]}`, "signals[0].value"},
		{"apps wrong", `{"seq":1,"signals":[{"name":"os.id","value":"x"},{"name":"apps.installed","value":"firefox"}]}`, "signals[1].value"},
		{"no name", `{"seq":1,"signals":[{"value":true}]}`, "signals[0].name"},
		{"signal time", `{"seq":1,"signals":[{"name":"disk.encrypted","value":true,"collected_at":"x"}]}`, "signals[0].collected_at"},
		{"signal not object", `{"seq":1,"signals":[true]}`, "signals"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReport([]byte(tc.body))
			var ae *apperr.Error
			if err == nil || !asApp(err, &ae) || apperr.Status(err) != http.StatusBadRequest {
				t.Fatalf("err = %v, want a 400", err)
			}
			if ae.Field != tc.field {
				t.Errorf("field = %q (%s), want %q", ae.Field, ae.Msg, tc.field)
			}
		})
	}
	for _, body := range []string{``, `{`, `[]`, `{"seq":1} {"seq":2}`, `nul`} {
		if _, err := ParseReport([]byte(body)); apperr.Status(err) != http.StatusBadRequest {
			t.Errorf("%q: err = %v, want 400", body, err)
		}
	}
	big := `{"seq":1,"signals":[{"name":"os.name","value":"` + strings.Repeat("x", MaxReportBytes) + `"}]}`
	if _, err := ParseReport([]byte(big)); apperr.Status(err) != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: %v", err)
	}
	long := `{"seq":1,"signals":[{"name":"os.name","value":"` + strings.Repeat("x", 5000) + `"}]}`
	if _, err := ParseReport([]byte(long)); apperr.Status(err) != http.StatusBadRequest {
		t.Errorf("long value: %v", err)
	}
}

func asApp(err error, target **apperr.Error) bool {
	e, ok := err.(*apperr.Error)
	if ok {
		*target = e
	}
	return ok
}
