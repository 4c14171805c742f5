package server

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/kpi"
	"github.com/portier/portier/store"
)

// TestKPIWaveDimensionFollowsThePlans: the snapshot counts a device and
// an expected device in the wave of their owner, one series per plan
// ("plan/wave"), so the dashboard's wave filter has data.
func TestKPIWaveDimensionFollowsThePlans(t *testing.T) {
	srv := startRulesServer(t)
	ctx := context.Background()
	day := time.Now().Add(time.Hour)
	plans := []*store.RolloutPlan{
		{ID: "mdm", Name: "MDM", Waves: []store.RolloutWave{
			{Name: "pilot", People: []string{"ada@example.com"}, Start: day},
			{Name: "rest", Everyone: true, Start: day.AddDate(0, 0, 7)}}},
		{ID: "vpn", Name: "VPN exit", Waves: []store.RolloutWave{{Name: "sales", Departments: []string{"sales"}, Start: day}}},
	}
	ops := []store.Op{
		store.Put(&store.Device{ID: "d1", OwnerEmail: "ada@example.com", Department: "sales", State: store.DeviceActive, Compliant: true}),
		store.Put(&store.ExpectedDevice{ID: "E1", OwnerEmail: "ada@example.com", Department: "sales", EnrolledAs: "d1"}),
		store.Put(&store.Device{ID: "d2", OwnerEmail: "bob@example.com", State: store.DeviceActive}),
	}
	for _, p := range plans {
		ops = append(ops, store.Put(p))
	}
	if err := srv.store.Write(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.TakeKPISnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := srv.store.KPISnapshots()
	if err != nil {
		t.Fatal(err)
	}
	for wave, want := range map[string][2]int{"mdm/pilot": {1, 1}, "vpn/sales": {1, 1}, "mdm/rest": {1, 0}} {
		b, err := kpi.Load(ctx, l, kpi.Query{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour),
			Series: kpi.Series{Dimension: store.DimWave, Value: wave}})
		if err != nil || b.Latest == nil {
			t.Fatalf("%s: %+v, %v", wave, b, err)
		}
		if c := b.Latest.Counts; c.Devices != want[0] || c.Expected != want[1] {
			t.Errorf("%s: %d devices, %d expected; want %v", wave, c.Devices, c.Expected, want)
		}
	}
}
