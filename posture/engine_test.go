package posture

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

const laptopPolicy = `
compliance:
  - id: laptops
    platforms: [linux]
    checks:
      disk_encryption: required
      firewall: required
      min_os_version: {ubuntu: "22.04"}
      max_checkin_age: 24h
      forbidden_apps: [bittorrent*]
privacy:
  location:
    enabled: true
    ownership: [corporate]
    purpose: "Locate a lost or stolen laptop on request of its user"
    working_hours: {days: [mon-fri], from: "08:00", to: "19:00"}
    retention: 720h
`

func TestIngestUpdatesDeviceAndPosture(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	start := t0.Add(-2 * time.Hour)
	v.addDevice(t, &store.Device{ID: "d1", ProvisionStart: start})
	ctx := context.Background()
	if err := v.e.Ingest(ctx, "d1", linuxReport(1)); err != nil {
		t.Fatal(err)
	}
	d := v.device(t, "d1")
	if !d.Compliant || d.Trust != store.TrustHigh || !d.LastSeen.Equal(t0) || d.OSVersion != "24.04" || d.AgentVersion != "1.4.0" || d.TimeZone != "Europe/Paris" {
		t.Errorf("device = %+v", d)
	}
	if got := strings.Join(d.PassingChecks, ","); got != "disk_encrypted,os_up_to_date,firewall_on,no_forbidden_apps,recent_checkin" {
		t.Errorf("passing = %s", got)
	}
	if !d.ProvisionedAt.Equal(t0) {
		t.Errorf("ProvisionedAt = %v, want the first compliant check-in", d.ProvisionedAt)
	}
	p, _ := v.st.Posture("d1")
	if p.ReportSeq != 1 || !p.ReportedAt.Equal(t0) {
		t.Errorf("posture = %+v", p)
	}
	if got := signalNames(storedSignals(t, v.st, "d1")); !strings.Contains(got, collect.AppsInstalled) {
		t.Errorf("corporate posture lost its app inventory: %s", got)
	}
	if got := strings.Join(v.eventTypes("d1"), " "); got != "provisioned trust_changed" {
		t.Errorf("events = %s", got)
	}

	// A failing check: an event, compliance off, trust one level down.
	v.clock.Set(t0.Add(time.Hour))
	if err := v.e.Ingest(ctx, "d1", linuxReport(2, sig(collect.FirewallEnabled, false))); err != nil {
		t.Fatal(err)
	}
	d = v.device(t, "d1")
	if d.Compliant || d.Trust != store.TrustMedium || strings.Join(d.FailingChecks, ",") != CheckFirewall || d.EscalationStep != StepGrace || !d.FailingSince.Equal(t0.Add(time.Hour)) {
		t.Errorf("after failure: %+v", d)
	}
	// Recovery.
	v.clock.Set(t0.Add(2 * time.Hour))
	if err := v.e.Ingest(ctx, "d1", linuxReport(3)); err != nil {
		t.Fatal(err)
	}
	d = v.device(t, "d1")
	if !d.Compliant || d.Trust != store.TrustHigh || !d.FailingSince.IsZero() || d.EscalationStep != "" || !d.ProvisionedAt.Equal(t0) {
		t.Errorf("after recovery: %+v", d)
	}
	want := "provisioned trust_changed check_failing:firewall_on non_compliant trust_changed check_recovered:firewall_on compliance_restored trust_changed"
	if got := strings.Join(v.eventTypes("d1"), " "); got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}
}

func TestIngestRejectsReplaysAndUnknownDevices(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	v.addDevice(t, &store.Device{ID: "d1"})
	v.addDevice(t, &store.Device{ID: "old", State: store.DeviceRetired})
	ctx := context.Background()
	if err := v.e.Ingest(ctx, "d1", linuxReport(5)); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{5, 4, 0} {
		err := v.e.Ingest(ctx, "d1", linuxReport(seq, sig(collect.FirewallEnabled, false)))
		if !errors.Is(err, ErrReplay) || apperr.Status(err) != http.StatusConflict {
			t.Errorf("seq %d: err = %v, want ErrReplay/409", seq, err)
		}
	}
	if d := v.device(t, "d1"); !d.Compliant {
		t.Error("a replayed report changed the device")
	}
	if p, _ := v.st.Posture("d1"); p.ReportSeq != 5 {
		t.Errorf("seq = %d", p.ReportSeq)
	}
	if err := v.e.Ingest(ctx, "nope", linuxReport(1)); !errors.Is(err, ErrUnknownDevice) || apperr.Status(err) != http.StatusNotFound {
		t.Errorf("unknown device: %v", err)
	}
	if err := v.e.Ingest(ctx, "old", linuxReport(1)); !errors.Is(err, ErrRetired) || apperr.Status(err) != http.StatusForbidden {
		t.Errorf("retired device: %v", err)
	}
}

func TestBYODProfileDropsWhatItForbids(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	v.addDevice(t, &store.Device{ID: "byod", Ownership: store.OwnershipBYOD, WorkProfile: true})
	rep := linuxReport(1, collect.Signal{Name: SignalLocation, Value: "48.8566,2.3522", CollectedAt: t0})
	if err := v.e.Ingest(context.Background(), "byod", rep); err != nil {
		t.Fatal(err)
	}
	got := signalNames(storedSignals(t, v.st, "byod"))
	for _, forbidden := range []string{collect.AppsInstalled, SignalLocation, collect.KernelVersion, collect.UptimeSeconds, collect.DiskFreeBytes} {
		if strings.Contains(got, forbidden) {
			t.Errorf("BYOD posture kept %s: %s", forbidden, got)
		}
	}
	if !strings.Contains(got, collect.DiskEncrypted) || !strings.Contains(got, collect.FirewallEnabled) {
		t.Errorf("BYOD posture lost security signals: %s", got)
	}
	d := v.device(t, "byod")
	if !d.Compliant || d.Trust != store.TrustMedium || slices.Contains(d.PassingChecks, CheckNoForbiddenApps) {
		t.Errorf("byod device = %+v", d)
	}
	prof := v.e.Profile(d)
	if prof.Allows(collect.AppsInstalled) || prof.Allows(SignalLocation) || prof.Location != nil || !prof.Allows(collect.DiskEncrypted) {
		t.Errorf("byod profile = %+v", prof)
	}
}

func TestLocationOnlyWithinWorkingHours(t *testing.T) {
	loc := func(at time.Time) collect.Signal {
		return collect.Signal{Name: SignalLocation, Value: "48.8566,2.3522", Source: "corelocation", CollectedAt: at}
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	tests := []struct {
		name string
		doc  string
		now  time.Time
		zone string
		keep bool
	}{
		{"tuesday 11:00 paris", laptopPolicy, time.Date(2025, 3, 11, 11, 0, 0, 0, paris), "Europe/Paris", true},
		{"tuesday 20:30 paris", laptopPolicy, time.Date(2025, 3, 11, 20, 30, 0, 0, paris), "Europe/Paris", false},
		{"tuesday 07:59 paris", laptopPolicy, time.Date(2025, 3, 11, 7, 59, 0, 0, paris), "Europe/Paris", false},
		{"saturday noon", laptopPolicy, time.Date(2025, 3, 15, 12, 0, 0, 0, paris), "Europe/Paris", false},
		{"in hours in UTC but not in the device zone", laptopPolicy, time.Date(2025, 3, 11, 18, 30, 0, 0, time.UTC), "Asia/Tokyo", false},
		{"no zone known", laptopPolicy, time.Date(2025, 3, 11, 11, 0, 0, 0, paris), "", false},
		{"location off by default", "compliance: []\n", time.Date(2025, 3, 11, 11, 0, 0, 0, paris), "Europe/Paris", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, tc.doc)
			v.addDevice(t, &store.Device{ID: "d"})
			v.clock.Set(tc.now)
			rep := linuxReport(1, loc(tc.now.Add(-time.Minute)))
			rep.TimeZone = tc.zone
			if err := v.e.Ingest(context.Background(), "d", rep); err != nil {
				t.Fatal(err)
			}
			got := strings.Contains(signalNames(storedSignals(t, v.st, "d")), SignalLocation)
			if got != tc.keep {
				t.Errorf("location kept = %v, want %v", got, tc.keep)
			}
		})
	}
	// A position collected after hours but sent in hours is still dropped.
	v := newEnv(t, laptopPolicy)
	v.addDevice(t, &store.Device{ID: "d"})
	now := time.Date(2025, 3, 12, 8, 30, 0, 0, paris)
	v.clock.Set(now)
	if err := v.e.Ingest(context.Background(), "d", linuxReport(1, loc(now.Add(-10*time.Hour)))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(signalNames(storedSignals(t, v.st, "d")), SignalLocation) {
		t.Error("a night-time position was kept")
	}
}

func TestRecompute(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	d := v.addDevice(t, &store.Device{ID: "d1"})
	ctx := context.Background()
	if err := v.e.Ingest(ctx, "d1", linuxReport(1)); err != nil {
		t.Fatal(err)
	}
	// Enrollment moves the device to BYOD: trust follows at Recompute.
	nd := *v.device(t, "d1")
	nd.Ownership, nd.WorkProfile = store.OwnershipBYOD, true
	if err := v.st.Write(ctx, store.Put(&nd)); err != nil {
		t.Fatal(err)
	}
	if err := v.e.Recompute(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if got := v.device(t, "d1"); got.Trust != store.TrustMedium {
		t.Errorf("trust after recompute = %s", got.Trust)
	}
	nd = *v.device(t, "d1")
	nd.State = store.DeviceRetired
	_ = v.st.Write(ctx, store.Put(&nd))
	if err := v.e.Recompute(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if got := v.device(t, "d1"); got.Trust != store.TrustUntrusted || got.State != store.DeviceRetired {
		t.Errorf("retired device = %s %s", got.Trust, got.State)
	}
	// Time passing never escalates a retired device.
	if err := v.e.Tick(ctx, t0.Add(1000*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := v.device(t, "d1"); got.State != store.DeviceRetired || len(v.queue.types()) != 0 {
		t.Errorf("retired device after a tick: %s, queued %v", got.State, v.queue.types())
	}
	if err := v.e.Recompute(ctx, "nope"); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown: %v", err)
	}
}

func TestRecomputeAllAfterConfigChange(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		v.addDevice(t, &store.Device{ID: id})
		if err := v.e.Ingest(ctx, id, linuxReport(1)); err != nil {
			t.Fatal(err)
		}
	}
	v.e.SetConfig(parseCfg(t, "compliance:\n  - id: strict\n    checks: {antivirus: required}\n"))
	if err := v.e.RecomputeAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if d := v.device(t, id); d.Compliant || strings.Join(d.FailingChecks, ",") != CheckAntivirus {
			t.Errorf("%s = %+v", id, d)
		}
	}
}

func TestExplain(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	v.addDevice(t, &store.Device{ID: "d1"})
	if err := v.e.Ingest(context.Background(), "d1", linuxReport(1, sig(collect.DiskEncrypted, false))); err != nil {
		t.Fatal(err)
	}
	ev, err := v.e.Explain("d1")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Checks[0].Name != CheckDiskEncrypted || ev.Checks[0].Status != Fail || !strings.Contains(ev.Checks[0].Remediation, "LUKS") {
		t.Errorf("explain = %+v", ev.Checks[0])
	}
	if _, err := v.e.Explain("nope"); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown: %v", err)
	}
}

// TestIngestBoundsSeq: no single report can move a device's counter out of
// reach (issue 9 item 12), and a counter an older Portier let out of reach
// does not keep the device stuck.
func TestIngestBoundsSeq(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		stored  uint64 // 0: no report yet
		seq     uint64
		wantErr string // "" accepted, "seq" 400 naming seq, "replay" 409
	}{
		{"first report at 1", 0, 1, ""},
		{"first report at the step", 0, MaxSeqStep, ""},
		{"first report past the step", 0, MaxSeqStep + 1, "seq"},
		{"largest uint64", 0, 1<<64 - 1, "seq"},
		{"largest uint64 after reports", 10, 1<<64 - 1, "seq"},
		{"next", 10, 11, ""},
		{"jump of the step", 10, 10 + MaxSeqStep, ""},
		{"jump past the step", 10, 11 + MaxSeqStep, "seq"},
		{"replay", 10, 10, "replay"},
		{"older", 10, 9, "replay"},
		{"stored out of range by an older Portier", 1<<64 - 1, 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, laptopPolicy)
			v.addDevice(t, &store.Device{ID: "d1"})
			if tc.stored != 0 {
				if err := v.st.Write(ctx, store.Put(&store.Posture{ID: "d1", ReportSeq: tc.stored})); err != nil {
					t.Fatal(err)
				}
			}
			err := v.e.Ingest(ctx, "d1", linuxReport(tc.seq))
			p, _ := v.st.Posture("d1")
			switch tc.wantErr {
			case "":
				if err != nil || p.ReportSeq != tc.seq {
					t.Fatalf("err = %v, stored seq %d; want accepted", err, p.ReportSeq)
				}
			case "seq":
				var ae *apperr.Error
				if !errors.As(err, &ae) || ae.Field != "seq" || apperr.Status(err) != http.StatusBadRequest {
					t.Fatalf("err = %v, want 400 naming seq", err)
				}
			case "replay":
				if !errors.Is(err, ErrReplay) {
					t.Fatalf("err = %v, want ErrReplay", err)
				}
			}
			if tc.wantErr != "" && p != nil && p.ReportSeq != tc.stored {
				t.Errorf("a refused report changed the stored seq to %d", p.ReportSeq)
			}
		})
	}
}
