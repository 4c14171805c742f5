package posture

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

func TestRetentionPurge(t *testing.T) {
	doc := laptopPolicy + `  retention: {posture: 240h, actions: 480h, events: 720h}
`
	doc = strings.Replace(doc, "    retention: 720h\n", "    retention: 48h\n", 1)
	v := newEnv(t, doc)
	ctx := context.Background()
	paris, _ := time.LoadLocation("Europe/Paris")
	day1 := time.Date(2025, 3, 11, 11, 0, 0, 0, paris)
	v.addDevice(t, &store.Device{ID: "quiet"})
	v.addDevice(t, &store.Device{ID: "busy"})
	v.clock.Set(day1)
	loc := collect.Signal{Name: SignalLocation, Value: "48.85,2.35", CollectedAt: day1}
	for _, id := range []string{"quiet", "busy"} {
		if err := v.e.Ingest(ctx, id, linuxReport(1, loc)); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(signalNames(storedSignals(t, v.st, "busy")), SignalLocation) {
		t.Fatal("location not kept within hours")
	}
	old := &store.Action{ID: "a-old", DeviceID: "busy", Type: "lock", Status: store.ActionAcknowledged, RequestedAt: day1, DoneAt: day1, ExpiresAt: day1.Add(time.Hour)}
	expired := &store.Action{ID: "a-exp", DeviceID: "busy", Type: "lock", Status: store.ActionQueued, RequestedAt: day1, ExpiresAt: day1.Add(time.Hour)}
	fresh := &store.Action{ID: "a-new", DeviceID: "busy", Type: "lock", Status: store.ActionAcknowledged, RequestedAt: day1.Add(600 * time.Hour), DoneAt: day1.Add(600 * time.Hour)}
	if err := v.st.Write(ctx, store.Put(old), store.Put(expired), store.Put(fresh)); err != nil {
		t.Fatal(err)
	}
	// Three days later: the position is past its 48h retention.
	day4 := day1.Add(72 * time.Hour)
	if err := v.e.Purge(ctx, day4); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(signalNames(storedSignals(t, v.st, "busy")), SignalLocation) {
		t.Error("location kept past its retention")
	}
	if !strings.Contains(signalNames(storedSignals(t, v.st, "busy")), collect.DiskEncrypted) {
		t.Error("location purge removed other signals")
	}
	// busy keeps reporting; quiet does not.
	v.clock.Set(day1.Add(600 * time.Hour))
	if err := v.e.Ingest(ctx, "busy", linuxReport(2)); err != nil {
		t.Fatal(err)
	}
	eventsBefore := len(v.st.DeviceEvents("busy"))
	later := day1.Add(730 * time.Hour)
	if err := v.e.Purge(ctx, later); err != nil {
		t.Fatal(err)
	}
	p, _ := v.st.Posture("quiet")
	if len(storedSignals(t, v.st, "quiet")) != 0 || p.ReportSeq != 1 {
		t.Errorf("quiet posture not purged to its counter: %+v", p)
	}
	if len(storedSignals(t, v.st, "busy")) == 0 {
		t.Error("busy posture purged")
	}
	if _, ok := v.st.Action("a-old"); ok {
		t.Error("old action kept")
	}
	if _, ok := v.st.Action("a-exp"); ok {
		t.Error("old expired action kept")
	}
	if _, ok := v.st.Action("a-new"); !ok {
		t.Error("recent action purged")
	}
	for _, ev := range v.st.AllDeviceEvents() {
		if ev.At.Before(later.Add(-720 * time.Hour)) {
			t.Errorf("event %s from %s kept past retention", ev.Type, ev.At)
		}
	}
	if n := len(v.st.DeviceEvents("busy")); n >= eventsBefore {
		t.Errorf("busy events %d -> %d: nothing purged", eventsBefore, n)
	}
	// A purged posture still refuses replays of old reports.
	v.clock.Set(later)
	if err := v.e.Ingest(ctx, "quiet", linuxReport(1)); err == nil {
		t.Error("replay accepted after purge")
	}
}

func TestLocationPurgedWhenTurnedOff(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	ctx := context.Background()
	paris, _ := time.LoadLocation("Europe/Paris")
	now := time.Date(2025, 3, 11, 11, 0, 0, 0, paris)
	v.clock.Set(now)
	v.addDevice(t, &store.Device{ID: "d"})
	_ = v.e.Ingest(ctx, "d", linuxReport(1, collect.Signal{Name: SignalLocation, Value: "48.85,2.35", CollectedAt: now}))
	v.e.SetConfig(parseCfg(t, "compliance: []\n"))
	if err := v.e.Tick(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(signalNames(storedSignals(t, v.st, "d")), SignalLocation) {
		t.Error("location kept after it was turned off")
	}
}

func TestPurgeKeepsFreshExternalObservations(t *testing.T) {
	v := newEnv(t, edrConfig)
	ctx := context.Background()
	v.addDevice(t, &store.Device{ID: "w1", Platform: "windows", Serial: "S1"})
	body := edrBody(`{"serial":"S1"}`, "")
	if err := v.e.IngestExternal(ctx, "falcon", body, Sign([]byte(edrSecret), body, t0)); err != nil {
		t.Fatal(err)
	}
	if err := v.e.Purge(ctx, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, _ := v.st.Posture("w1"); p.External["falcon"] == nil {
		t.Fatal("a fresh external observation was purged")
	}
	if err := v.e.Purge(ctx, t0.Add(DefaultPostureRetention+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, _ := v.st.Posture("w1"); p.External["falcon"] != nil {
		t.Error("an external observation past retention was kept")
	}
}
