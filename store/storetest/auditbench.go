package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// AuditBenchStart is the time of the first event FillAudit writes; the
// events follow 30 seconds apart (1,000,000 of them span 347 days).
var AuditBenchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// auditBenchActions are the actions FillAudit cycles through.
var auditBenchActions = []string{"device.view", "device.action.lock", "policy.update", "token.create", "approval.requested"}

// AuditBenchEvent is the i-th event of the benchmark log: 1,000 actors
// (user:u000@example.com…), five actions in turn, 100,000 targets
// (dev_000000…, each the target of every 100,000th event), 30 s apart.
func AuditBenchEvent(i int) *store.AuditEvent {
	ev := store.NewAuditEvent(AuditBenchStart.Add(time.Duration(i)*30*time.Second),
		fmt.Sprintf("user:u%03d@example.com", i%1000), auditBenchActions[i%len(auditBenchActions)], fmt.Sprintf("dev_%06d", i%100000))
	ev.RemoteIP = "192.0.2.10"
	ev.Detail = map[string]string{"reason": "an ordinary audit event of the benchmark"}
	return ev
}

// FillAudit appends n benchmark events (AuditBenchEvent 0..n-1) to a
// backend's audit log through its Commit, in commits of 10,000, so the
// hash chain is the real one.
func FillAudit(tb testing.TB, be store.Backend, n int) {
	tb.Helper()
	for i := 0; i < n; i += 10000 {
		muts := make([]store.Mutation, 0, 10000)
		for j := i; j < min(i+10000, n); j++ {
			ev := AuditBenchEvent(j)
			v, err := store.Encode(ev)
			if err != nil {
				tb.Fatal(err)
			}
			muts = append(muts, store.Mutation{Kind: store.KindAudit, ID: ev.ID, Value: v})
		}
		if _, err := be.Commit(context.Background(), muts); err != nil {
			tb.Fatalf("fill the audit log at event %d: %v", i, err)
		}
	}
}

// AuditBenchQuery is one query of the audit benchmarks, as GET
// /api/v1/audit builds it (a page of 100, newest first).
type AuditBenchQuery struct {
	Name  string
	Query store.AuditQuery
}

// AuditBenchQueries are the audit log queries measured on a log of n
// FillAudit events: the first page, a page deep behind a cursor, and each
// filter of GET /api/v1/audit, with a time window both narrow and wide
// (the older half of the log) far from the cursor.
func AuditBenchQueries(n int) []AuditBenchQuery {
	day := AuditBenchStart.Add(time.Duration(n/2) * 30 * time.Second)
	return []AuditBenchQuery{
		{"first-page", store.AuditQuery{Limit: 100}},
		{"cursor-middle", store.AuditQuery{Limit: 100, After: uint64(n / 2)}},
		{"actor", store.AuditQuery{Limit: 100, Actor: "user:u042@example.com"}},
		{"action-prefix", store.AuditQuery{Limit: 100, Action: "policy."}},
		{"target-10-hits", store.AuditQuery{Limit: 100, Target: "dev_000042"}},
		{"one-day-mid-log", store.AuditQuery{Limit: 100, Since: day, Until: day.Add(24 * time.Hour)}},
		{"until-mid-log", store.AuditQuery{Limit: 100, Until: day}},
		{"actor+action+cursor", store.AuditQuery{Limit: 100, Actor: "user:u042@example.com", Action: "policy.update", After: uint64(n / 2)}},
	}
}
