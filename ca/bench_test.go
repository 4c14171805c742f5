package ca_test

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/ca"
)

// BenchmarkIssueDevice measures CSR → validated, signed certificate,
// durably stored in the embedded store. Requests run in parallel, as
// enrollments do, so the store can group their commits.
func BenchmarkIssueDevice(b *testing.B) {
	e := newEnv(b, nil)
	_, csr := deviceCSR(b, "bench-device")
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.ca.IssueDevice(ctx, csr, "bench-device", ca.KeyInfo{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
}

// BenchmarkIssueDeviceSerial is one enrollment at a time: every
// certificate waits for its own fsync.
func BenchmarkIssueDeviceSerial(b *testing.B) {
	e := newEnv(b, nil)
	_, csr := deviceCSR(b, "bench-device")
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := e.ca.IssueDevice(ctx, csr, "bench-device", ca.KeyInfo{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
}

// BenchmarkVerifyClient is the proxy's per-connection check.
func BenchmarkVerifyClient(b *testing.B) {
	e := newEnv(b, nil)
	chain := e.issue(b, "bench-device")
	now := e.clock.Now()
	for b.Loop() {
		if _, _, err := e.ca.VerifyClient(chain, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIsRevoked is the per-request revocation lookup.
func BenchmarkIsRevoked(b *testing.B) {
	e := newEnv(b, nil)
	serial := e.issue(b, "bench-device")[0].SerialNumber.String()
	for b.Loop() {
		if e.ca.IsRevoked(serial) {
			b.Fatal("revoked")
		}
	}
}
