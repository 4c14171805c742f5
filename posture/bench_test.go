package posture

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

const benchDevices = 5000

// benchEnv enrolls benchDevices devices, 80% corporate and 20% BYOD, under
// the default baseline plus a laptop policy.
func benchEnv(b *testing.B) *env {
	v := newEnv(b, `
compliance:
  - id: baseline
    platforms: [linux, macos, windows]
    checks:
      disk_encryption: required
      firewall: required
      min_os_version: {ubuntu: "22.04", macos: "14", windows: "10.0.19045"}
      max_checkin_age: 24h
  - id: laptops
    ownership: [corporate, cope]
    checks: {screen_lock_max_minutes: 10, max_pending_security_updates: 5, secure_boot: required}
`)
	ctx := context.Background()
	var ops []store.Op
	for i := range benchDevices {
		d := &store.Device{ID: devID(i), Platform: "linux", Ownership: store.OwnershipCorporate, State: store.DeviceActive, Serial: fmt.Sprintf("SN%08d", i)}
		if i%5 == 0 {
			d.Ownership, d.WorkProfile = store.OwnershipBYOD, true
		}
		ops = append(ops, store.Put(d))
		if len(ops) == 500 {
			if err := v.st.Write(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	return v
}

// BenchmarkIngest measures agent posture reports ingested and trust
// recomputed on the embedded store, from many concurrent devices: each
// report is filtered by its data profile, stored, evaluated and written
// with the device in one durable write.
func BenchmarkIngest(b *testing.B) {
	for _, tc := range []struct {
		name string
		json bool // include decoding the JSON body, as the agent API does
		apps int  // size of the app inventory in corporate reports
	}{
		{"security-report", false, 0},
		{"json-body", true, 0},
		{"json-body-150-apps", true, 150},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v := benchEnv(b)
			var apps []collect.App
			for i := range tc.apps {
				apps = append(apps, collect.App{Name: fmt.Sprintf("package-%d", i), Version: "1.2.3-4ubuntu1", Publisher: "Ubuntu Developers"})
			}
			over := []collect.Signal{sig(collect.AppsInstalled, apps)}
			if tc.apps == 0 {
				over[0].Value = nil
			}
			body, _ := json.Marshal(linuxReport(1, over...))
			prebuilt := linuxReport(1, over...) // Ingest never modifies a report
			var seq atomic.Uint64
			var next atomic.Int64
			v.clock.Set(t0)
			b.SetParallelism(64) // 64×GOMAXPROCS goroutines: the store groups their commits
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					id := devID(int(next.Add(1)) % benchDevices)
					var r Report
					if tc.json {
						var err error
						if r, err = ParseReport(body); err != nil {
							b.Error(err)
							return
						}
					} else {
						r = prebuilt
					}
					r.Seq = seq.Add(1)
					if err := v.e.Ingest(ctx, id, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
		})
	}
}

// BenchmarkEvaluate measures the pure evaluation alone.
func BenchmarkEvaluate(b *testing.B) {
	c := parseCfg(b, fullConfig)
	d := &store.Device{ID: "d", Platform: "linux", Ownership: store.OwnershipCorporate, State: store.DeviceActive, Groups: []string{"engineering"}, LastSeen: t0}
	r := linuxReport(1, sig(collect.AgentVersion, "1.4.0"), sig(SignalRooted, false), sig(collect.AntivirusRunning, true))
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Evaluate(d, r.Signals, nil, t0)
	}
}
