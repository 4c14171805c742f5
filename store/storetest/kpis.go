package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// RunKPISnapshots runs the KPI snapshot log's cases against a backend:
// replacing a day, series and day ranges, and survival across a restart.
func RunKPISnapshots(t *testing.T, newOpener func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"KPISnapshotsReplaceSameDay", testKPIReplace},
		{"KPISnapshotsSeriesAndRange", testKPIRange},
		{"KPISnapshotsSurviveRestart", testKPIRestart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newOpener(t)) })
	}
}

// kpiBase is the first test day.
var kpiBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// Snapshot is a test snapshot of day d (from kpiBase) with n devices.
func Snapshot(d int, dim, val string, n int) *store.KPISnapshot {
	day := kpiBase.AddDate(0, 0, d)
	return &store.KPISnapshot{Day: day, Dimension: dim, Value: val, TakenAt: day.Add(10 * time.Minute),
		Counts: store.KPICounts{Devices: n, Compliant: n / 2, Trust: map[string]int{"high": n},
			DenyReasons: []store.ReasonCount{{Code: "country", Count: 3, Users: 1}}}}
}

func kpiLog(t *testing.T, be store.Backend) store.KPISnapshotLog {
	t.Helper()
	l, ok := be.(store.KPISnapshotLog)
	if !ok {
		t.Fatalf("%T does not implement store.KPISnapshotLog", be)
	}
	return l
}

func putKPIs(t *testing.T, l store.KPISnapshotLog, snaps ...*store.KPISnapshot) {
	t.Helper()
	if err := l.PutKPISnapshots(context.Background(), snaps); err != nil {
		t.Fatalf("PutKPISnapshots: %v", err)
	}
}

func queryKPIs(t *testing.T, l store.KPISnapshotLog, q store.KPISnapshotQuery) string {
	t.Helper()
	got, err := l.QueryKPISnapshots(context.Background(), q)
	if err != nil {
		t.Fatalf("QueryKPISnapshots: %v", err)
	}
	s := ""
	for _, g := range got {
		s += fmt.Sprintf("%s %s=%s %d;", g.Day.Format("01-02"), g.Dimension, g.Value, g.Counts.Devices)
	}
	return s
}

func testKPIReplace(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	l := kpiLog(t, be)
	putKPIs(t, l, Snapshot(0, "", "", 10), Snapshot(0, store.DimDepartment, "sales", 4))
	// Taking the day again replaces it, even at another time of the day.
	again := Snapshot(0, "", "", 11)
	again.Day = again.Day.Add(13 * time.Hour)
	putKPIs(t, l, again)
	if got, want := queryKPIs(t, l, store.KPISnapshotQuery{}), "03-01 = 11;"; got != want {
		t.Errorf("fleet = %q, want %q", got, want)
	}
	got, err := l.QueryKPISnapshots(context.Background(), store.KPISnapshotQuery{Dimension: store.DimDepartment, Value: "sales"})
	if err != nil || len(got) != 1 {
		t.Fatalf("sales = %v, %v", got, err)
	}
	s := got[0]
	if !s.Day.Equal(kpiBase) || s.Counts.Compliant != 2 || s.Counts.Trust["high"] != 4 || len(s.Counts.DenyReasons) != 1 || s.Counts.DenyReasons[0].Count != 3 {
		t.Errorf("sales snapshot = %+v", s)
	}
}

func testKPIRange(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	l := kpiLog(t, be)
	for d := 0; d < 5; d++ {
		putKPIs(t, l, Snapshot(d, "", "", 10+d), Snapshot(d, store.DimPlatform, "linux", d), Snapshot(d, store.DimPlatform, "macos", 20+d))
	}
	q := store.KPISnapshotQuery{Since: kpiBase.AddDate(0, 0, 1).Add(time.Hour), Until: kpiBase.AddDate(0, 0, 3), Dimension: store.DimPlatform, Value: "linux"}
	if got, want := queryKPIs(t, l, q), "03-02 platform=linux 1;03-03 platform=linux 2;"; got != want {
		t.Errorf("linux 2..3 = %q, want %q", got, want)
	}
	q = store.KPISnapshotQuery{Since: kpiBase.AddDate(0, 0, 4), AllSeries: true}
	if got, want := queryKPIs(t, l, q), "03-05 = 14;03-05 platform=linux 4;03-05 platform=macos 24;"; got != want {
		t.Errorf("all of day 5 = %q, want %q", got, want)
	}
	if got := queryKPIs(t, l, store.KPISnapshotQuery{Dimension: store.DimPlatform, Value: "windows"}); got != "" {
		t.Errorf("windows = %q, want none", got)
	}
}

func testKPIRestart(t *testing.T, open Opener) {
	be := open(t)
	putKPIs(t, kpiLog(t, be), Snapshot(2, "", "", 7))
	be.Close()
	be = open(t)
	defer be.Close()
	if got, want := queryKPIs(t, kpiLog(t, be), store.KPISnapshotQuery{}), "03-03 = 7;"; got != want {
		t.Errorf("after restart = %q, want %q", got, want)
	}
}
