package enrollment

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/store"
)

// BenchmarkEnroll is server-side enrollment as a zero-touch rollout does
// it: many devices at once with one bulk token. Each op is a CSR checked
// (ECDSA P-256, proof of possession, names), a certificate signed and
// stored, the token's use claimed and the device, its history, its audit
// event written durably to the embedded store.
func BenchmarkEnroll(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	csrs := make([]string, 64)
	for i := range csrs {
		csrs[i] = csrPEM(b, p256(b), nil)
	}
	tok, err := e.svc.CreateToken(ctx, admin, TokenRequest{Name: "bench", MaxUses: b.N, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	now := e.clock.Now()
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	var i int64
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			n++
			req := agentwire.EnrollRequest{Code: tok.Code, CSR: csrs[(int(i)+n)%len(csrs)], Device: agentwire.DeviceInfo{Platform: "linux"}}
			if _, err := e.svc.enroll(ctx, req, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enrollments/s")
	b.StopTimer()
	if got := len(e.st.Devices()); got != b.N {
		b.Fatalf("%d devices stored, want %d", got, b.N)
	}
	if got := len(e.st.DeviceEvents(e.st.Devices()[0].ID)); got != 1 {
		b.Fatalf("history of %d entries", got)
	}
	_ = store.DeviceActive
}
