package enrollment

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// report builds a posture report body.
func report(t testing.TB, seq uint64, at time.Time, sigs ...collect.Signal) []byte {
	t.Helper()
	b, err := json.Marshal(posture.Report{Seq: seq, CollectedAt: at, TimeZone: "Europe/Paris", Signals: sigs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIngestPostureFiltersAndIgnoresReplays(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	now := e.clock.Now()
	byod := e.mustEnroll(t, store.OwnershipBYOD, agentwire.DeviceInfo{}).Device
	apps := collect.Signal{Name: collect.AppsInstalled, Value: []collect.App{{Name: "bash"}}, Source: "dpkg-query", CollectedAt: now}
	osv := collect.Signal{Name: collect.OSVersion, Value: "12", Source: "/etc/os-release", CollectedAt: now}
	r, err := ParseReport(report(t, 2, now, apps, osv))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.IngestPosture(ctx, byod, r)
	if err != nil || !res.Accepted || res.Dropped != 1 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	p, ok := e.st.Posture(byod.ID)
	if !ok || strings.Contains(string(p.Signals), "apps.installed") || !strings.Contains(string(p.Signals), "os.version") {
		t.Fatalf("stored posture = %s", p.Signals)
	}
	for _, seq := range []uint64{2, 1} {
		r, _ := ParseReport(report(t, seq, now, osv))
		res, err = e.svc.IngestPosture(ctx, byod, r)
		if err != nil || res.Accepted || !res.Replay || res.LastSeq != 2 {
			t.Errorf("replay of seq %d: %+v %v", seq, res, err)
		}
	}
}

func TestParseReport(t *testing.T) {
	now := time.Now().UTC()
	if _, err := ParseReport(report(t, 1, now, collect.Signal{Name: "future.signal", Value: "x", CollectedAt: now})); err != nil {
		t.Errorf("an unknown signal name is refused: %v", err)
	}
	big := make([]byte, MaxReportBytes+1)
	_, err := ParseReport(big)
	wantErr(t, err, apperr.TooLarge, "larger than")
	for body, field := range map[string]string{
		`{"seq":"one","collected_at":"2026-01-01T00:00:00Z","signals":[]}`:                                    "seq",
		`{"seq":0,"collected_at":"2026-01-01T00:00:00Z","signals":[]}`:                                        "seq",
		`{"seq":3,"collected_at":"yesterday","signals":[]}`:                                                   "collected_at",
		`{"seq":3,"signals":[]}`:                                                                              "collected_at",
		`{"seq":3,"collected_at":"2026-01-01T00:00:00Z","signals":[{"name":"disk.encrypted","value":"yes"}]}`: "signals[0].value",
		`{"seq":3,"collected_at":"2026-01-01T00:00:00Z","signals":[{"value":true}]}`:                          "signals[0].name",
		`{"seq":3,"collected_at":"2026-01-01T00:00:00Z","signals":[{"name":"uptime.seconds","value":1.5}]}`:   "signals[0].value",
		`{"seq":3,"collected_at":"2026-01-01T00:00:00Z","signals":{}}`:                                        "signals",
	} {
		_, err := ParseReport([]byte(body))
		ae, ok := err.(*apperr.Error)
		if !ok || ae.Code != apperr.Invalid || ae.Field != field {
			t.Errorf("%s: err = %v, want 400 naming %s", body, err, field)
		}
	}
	_, err = ParseReport([]byte(`{"seq":1,`))
	wantErr(t, err, apperr.Invalid, "")
}

func TestProfileAndPrivacy(t *testing.T) {
	e := newEnv(t, nil)
	corp := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	p, err := e.svc.Profile(corp)
	if err != nil || len(p.Allowed) == 0 || p.PrivacyText == "" || p.Privacy == nil || p.PostureInterval != "15m0s" {
		t.Fatalf("profile: %+v %v", p, err)
	}
	n, err := e.svc.Privacy(corp.ID)
	if err != nil || n.DeviceID != corp.ID || !strings.Contains(posture.NoticeText(n), n.Title) {
		t.Errorf("privacy: %+v %v", n, err)
	}
	_, err = e.svc.Privacy("dev_none")
	wantErr(t, err, apperr.NotFound, "no device")

	bare, err := New(Options{Store: e.st, CA: e.ca})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bare.Profile(corp)
	wantErr(t, err, apperr.Unavailable, "not available")
}
