package kpi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/clocktest"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/kpi"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

var day0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// fleet writes a test fleet at now: four expected laptops (three enrolled)
// of two departments, and their devices with postures and actions.
func fleet(t *testing.T, st *store.Store, now time.Time) {
	t.Helper()
	dev := func(id, dept, platform string, own store.Ownership, compliant bool, trust store.Trust, provHours int) *store.Device {
		d := &store.Device{ID: id, Name: id, Platform: platform, Ownership: own, OwnerEmail: id + "@example.com", Department: dept,
			State: store.DeviceActive, Compliant: compliant, Trust: trust, OSVersion: "14.5", LastSeen: now.Add(-time.Hour),
			Groups: []string{"laptops"}}
		if provHours > 0 {
			d.ProvisionStart, d.ProvisionedAt = now.Add(-48*time.Hour), now.Add(-48*time.Hour+time.Duration(provHours)*time.Hour)
		}
		return d
	}
	sig := func(id string, enc bool, days int) *store.Posture {
		s, _ := json.Marshal([]map[string]any{
			{"name": "disk.encrypted", "value": enc, "source": "test", "collected_at": now},
			{"name": "updates.security_oldest_days", "value": days, "source": "test", "collected_at": now},
		})
		return &store.Posture{ID: id, ReportedAt: now, ReportSeq: 1, Signals: s}
	}
	ops := []store.Op{
		store.Put(&store.ExpectedDevice{ID: "S1", Department: "sales", Platform: "macos", EnrolledAs: "d1", ImportedAt: now}),
		store.Put(&store.ExpectedDevice{ID: "S2", Department: "sales", Platform: "macos", EnrolledAs: "d2", ImportedAt: now}),
		store.Put(&store.ExpectedDevice{ID: "S3", Department: "sales", Platform: "macos", ImportedAt: now}),
		store.Put(&store.ExpectedDevice{ID: "S4", Department: "it", Platform: "linux", EnrolledAs: "d3", OwnerEmail: "d3@example.com", ImportedAt: now}),
		store.Put(dev("d1", "sales", "macos", store.OwnershipCorporate, true, store.TrustHigh, 2)),
		store.Put(dev("d2", "sales", "macos", store.OwnershipCorporate, false, store.TrustLow, 4)),
		store.Put(dev("d3", "it", "linux", store.OwnershipCOPE, true, store.TrustHigh, 10)),
		store.Put(&store.Device{ID: "d4", Department: "it", Platform: "linux", Ownership: store.OwnershipCorporate, State: store.DeviceRetired}),
		store.Put(sig("d1", true, 0)), store.Put(sig("d2", false, 40)), store.Put(sig("d3", true, 3)),
		store.Put(&store.Action{ID: "a1", DeviceID: "d2", Type: enrollment.ActionLock, Status: store.ActionAcknowledged,
			RequestedAt: now.Add(-2 * time.Hour), DoneAt: now.Add(-2*time.Hour + 90*time.Second)}),
		store.Put(&store.Action{ID: "a2", DeviceID: "d3", Type: enrollment.ActionWipe, Status: store.ActionAcknowledged,
			RequestedAt: now.Add(-time.Hour), DoneAt: now.Add(-time.Hour + 5*time.Minute)}),
		store.Put(&store.Action{ID: "a3", DeviceID: "d1", Type: enrollment.ActionLock, Status: store.ActionQueued, RequestedAt: now}),
	}
	if err := st.Write(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	dl, err := st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	rec := func(dev, outcome string, n uint64) *store.DecisionRecord {
		r := storetest.Decision(0, "ann", dev, "https://wiki.test", outcome)
		r.First, r.Last, r.Count = now.Add(-3*time.Hour), now.Add(-3*time.Hour), n
		store.RecordTimes(r)
		return r
	}
	if err := dl.AppendDecisions(context.Background(), []*store.DecisionRecord{rec("d1", "allow", 7), rec("d2", "deny", 2), rec("", "deny", 1)}); err != nil {
		t.Fatal(err)
	}
}

func TestComputeCountsTheFleet(t *testing.T) {
	st := storetest.OpenBolt(t)
	fleet(t, st, day0)
	got, err := kpi.Compute(context.Background(), st, day0, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := got[kpi.Fleet]
	if f.Expected != 4 || f.ExpectedEnrolled != 3 || f.Devices != 3 || f.Compliant != 2 || f.Encrypted != 2 || f.EncryptionKnown != 3 {
		t.Errorf("fleet = %+v", f)
	}
	if f.Trust["high"] != 2 || f.Trust["low"] != 1 || f.OSVersions["macos 14.5"] != 2 || f.OSVersions["linux 14.5"] != 1 {
		t.Errorf("trust %v, os %v", f.Trust, f.OSVersions)
	}
	if f.UpdatesBehind["0"] != 1 || f.UpdatesBehind["1-7"] != 1 || f.UpdatesBehind["31+"] != 1 {
		t.Errorf("updates = %v", f.UpdatesBehind)
	}
	if f.Provisioned != 3 || f.ProvisionMedian != 4*3600 || f.Locks != 1 || f.LockAckMedian != 90 || f.Wipes != 1 || f.WipeAckMedian != 300 {
		t.Errorf("times = %+v", f)
	}
	if f.Allowed24h != 7 || f.Denied24h != 3 || len(f.DenyReasons) != 1 || f.DenyReasons[0].Count != 3 || f.Attention != 1 || f.OpenActions != 1 {
		t.Errorf("decisions and attention = %+v", f)
	}
	sales := got[kpi.Series{Dimension: store.DimDepartment, Value: "sales"}]
	if sales == nil || sales.Expected != 3 || sales.ExpectedEnrolled != 2 || sales.Devices != 2 || sales.Denied24h != 2 || sales.Locks != 1 {
		t.Errorf("sales = %+v", sales)
	}
	if g := got[kpi.Series{Dimension: store.DimGroup, Value: "laptops"}]; g == nil || g.Devices != 3 {
		t.Errorf("group laptops = %+v", g)
	}
	if o := got[kpi.Series{Dimension: store.DimOwnership, Value: "cope"}]; o == nil || o.Devices != 1 || o.Wipes != 1 {
		t.Errorf("ownership cope = %+v", o)
	}
}

func TestSnapshotOncePerDay(t *testing.T) {
	st := storetest.OpenBolt(t)
	clk := clocktest.At(day0)
	fleet(t, st, day0)
	s := &kpi.Snapshotter{Store: st, Clock: clk.Now, Waves: func() func(string) []string {
		return func(owner string) []string {
			if owner == "d3@example.com" {
				return []string{"plan-a/wave-1", "plan-b/pilot"}
			}
			return nil
		}
	}}
	ctx := context.Background()
	n1, err := s.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Hour) // same day: replaces
	if err := st.Write(ctx, store.Put(&store.Device{ID: "d5", Platform: "windows", Ownership: store.OwnershipBYOD, State: store.DeviceActive, Compliant: true})); err != nil {
		t.Fatal(err)
	}
	n2, err := s.Take(ctx)
	if err != nil || n2 != n1+2 { // windows and byod are new series
		t.Fatalf("second take: %d series (first %d), %v", n2, n1, err)
	}
	clk.Advance(24 * time.Hour) // the next day: a new snapshot
	if _, err := s.Take(ctx); err != nil {
		t.Fatal(err)
	}
	l, _ := st.KPISnapshots()
	b, err := kpi.Load(ctx, l, kpi.Query{Since: day0, Until: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Snapshots) != 2 || b.Snapshots[0].Counts.Devices != 4 || !b.Snapshots[0].TakenAt.Equal(day0.Add(3*time.Hour)) {
		t.Fatalf("snapshots = %d, first %+v", len(b.Snapshots), b.Snapshots[0])
	}
	var comp kpi.Figure
	for _, f := range b.Figures {
		if f.Key == "compliance_rate" {
			comp = f
		}
	}
	if len(comp.Trend) != 2 || !comp.Known || comp.Value != 0.75 || comp.Met || fmt.Sprint(comp.Trend[0].Value) != "0.75" {
		t.Errorf("compliance = %+v", comp)
	}
	// A device and an expected device count in each of their owner's
	// waves, one per plan.
	for _, w := range []string{"plan-a/wave-1", "plan-b/pilot"} {
		wave, err := kpi.Load(ctx, l, kpi.Query{Since: day0, Until: clk.Now(), Series: kpi.Series{Dimension: store.DimWave, Value: w}})
		if err != nil || wave.Latest == nil || wave.Latest.Counts.Devices != 1 || wave.Latest.Counts.Expected != 1 || wave.Latest.Counts.ExpectedEnrolled != 1 {
			t.Errorf("%s = %+v, %v", w, wave.Latest, err)
		}
	}
	ch, err := kpi.Choices(ctx, l, clk.Now())
	if err != nil || fmt.Sprint(ch[store.DimPlatform]) != "[linux macos windows]" {
		t.Errorf("choices = %v, %v", ch, err)
	}
}

// leases is a Leases whose answer the test sets.
type leases struct{ held atomic.Bool }

func (l *leases) Acquire(context.Context, string, string, time.Duration) (bool, error) {
	return l.held.Load(), nil
}
func (l *leases) Release(context.Context, string, string) error { return nil }

// TestSnapshotJobRunsOnlyUnderTheLease: the job takes no snapshot while
// another replica holds the lease, and takes today's as soon as this one
// gets it.
func TestSnapshotJobRunsOnlyUnderTheLease(t *testing.T) {
	st := storetest.OpenBolt(t)
	fleet(t, st, day0)
	l, _ := st.KPISnapshots()
	count := func() int {
		got, err := l.QueryKPISnapshots(context.Background(), store.KPISnapshotQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	s := &kpi.Snapshotter{Store: st, Clock: clocktest.At(day0).Now, Log: slog.New(slog.DiscardHandler)}
	ls := &leases{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		store.Leased(ctx, ls, "kpis.snapshot", "replica-a", 30*time.Millisecond, slog.New(slog.DiscardHandler), s.Run)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond)
	if n := count(); n != 0 {
		t.Fatalf("%d snapshots without the lease", n)
	}
	ls.held.Store(true)
	for deadline := time.Now().Add(5 * time.Second); count() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot once the lease was held")
		}
	}
}
