package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// indexActors and indexTargets are the values FillAuditVaried spreads
// over its events: ones that share a prefix, hold a NUL byte, or are too
// long to be an index key as they are; "" is an event without a target.
var (
	indexActors  = []string{"system", "token:t1", "a", "a\x00b", "ab", "user:" + strings.Repeat("x", 300), "user:" + strings.Repeat("x", 299) + "y"}
	indexTargets = []string{"", "d1", "d10", "d1\x00", "dev_" + strings.Repeat("z", 400), "d2", "d3"}
)

// FillAuditVaried commits n events (in commits of up to 50) whose actors
// and targets repeat at different rates and whose times mostly rise, one
// minute apart, but step back 90 minutes every 10th event, as a clock set
// back would.
func FillAuditVaried(t *testing.T, be store.Backend, n int) {
	t.Helper()
	actions := []string{"device.view", "device.lock", "policy.update", "token.create"}
	for i := 0; i < n; i += 50 {
		var muts []store.Mutation
		for j := i; j < min(i+50, n); j++ {
			at := auditBase.Add(time.Duration(j) * time.Minute)
			if j%10 == 9 {
				at = at.Add(-90 * time.Minute)
			}
			ev := store.NewAuditEvent(at, indexActors[j%len(indexActors)], actions[j%len(actions)], indexTargets[(j/3)%len(indexTargets)])
			muts = append(muts, mut(store.KindAudit, ev.ID, ev))
		}
		if _, err := be.Commit(context.Background(), muts); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
}

// AuditIndexQueries are queries whose answers depend on the indexes a
// backend keeps: each actor and target of FillAuditVaried, time windows
// narrow and wide, near the end of the log and far back, and their
// combinations.
func AuditIndexQueries() []store.AuditQuery {
	min := func(m int) time.Time { return auditBase.Add(time.Duration(m) * time.Minute) }
	var qs []store.AuditQuery
	for _, a := range indexActors {
		qs = append(qs, store.AuditQuery{Actor: a})
	}
	for _, tg := range indexTargets[1:] {
		qs = append(qs, store.AuditQuery{Target: tg})
	}
	return append(qs,
		store.AuditQuery{Actor: "nobody"},
		store.AuditQuery{Target: "d"},
		store.AuditQuery{Since: min(30), Until: min(60)},
		store.AuditQuery{Since: min(30), Until: min(31)},
		store.AuditQuery{Since: min(30).Add(time.Second), Until: min(31)},
		store.AuditQuery{Since: min(100)},
		store.AuditQuery{Until: min(20)},
		store.AuditQuery{Since: min(5), Until: min(250)},
		store.AuditQuery{Since: min(10000)},
		store.AuditQuery{Until: min(-1000)},
		store.AuditQuery{Actor: "token:t1", Since: min(40), Until: min(200)},
		store.AuditQuery{Actor: "a", Action: "device."},
		store.AuditQuery{Target: "d2", Since: min(0), Until: min(120)},
		store.AuditQuery{Target: "d1", Actor: "system"},
		store.AuditQuery{Actor: "ab", Action: "policy.update", Until: min(150)},
	)
}

// CheckAuditIndexes pages through each of AuditIndexQueries (pages of 7,
// newest and oldest first) and fails the test where the answer differs
// from the one computed from the whole log, read without a filter.
func CheckAuditIndexes(t *testing.T, al store.AuditLog) {
	t.Helper()
	all := readAll(t, al, store.AuditQuery{Ascending: true})
	if len(all) == 0 {
		t.Fatal("the audit log is empty")
	}
	for _, q := range AuditIndexQueries() {
		for _, asc := range []bool{false, true} {
			q.Ascending = asc
			var want []uint64
			for _, ev := range all {
				if q.Match(ev) {
					want = append(want, ev.Pos)
				}
			}
			if !asc {
				slices.Reverse(want)
			}
			got := pagePositions(t, al, q, 7)
			if !slices.Equal(got, want) {
				t.Errorf("%s: positions %v, want %v", describe(q), got, want)
			}
		}
	}
}

// pagePositions pages through q with pages of size and returns the
// positions in the order they came.
func pagePositions(t *testing.T, al store.AuditLog, q store.AuditQuery, size int) []uint64 {
	t.Helper()
	q.Limit = size
	var out []uint64
	for range 10000 {
		page, err := al.QueryAudit(context.Background(), q)
		if err != nil {
			t.Fatalf("QueryAudit(%s): %v", describe(q), err)
		}
		for _, ev := range page {
			if !q.Match(ev) {
				t.Errorf("%s: event %d does not match", describe(q), ev.Pos)
			}
			out = append(out, ev.Pos)
		}
		if len(page) < size {
			return out
		}
		q.After = page[len(page)-1].Pos
	}
	t.Fatalf("QueryAudit(%s) does not end", describe(q))
	return nil
}

func describe(q store.AuditQuery) string {
	var s []string
	if q.Actor != "" {
		s = append(s, fmt.Sprintf("actor=%.20q", q.Actor))
	}
	if q.Target != "" {
		s = append(s, fmt.Sprintf("target=%.20q", q.Target))
	}
	if q.Action != "" {
		s = append(s, "action="+q.Action)
	}
	if !q.Since.IsZero() {
		s = append(s, "since="+q.Since.Format(time.TimeOnly))
	}
	if !q.Until.IsZero() {
		s = append(s, "until="+q.Until.Format(time.TimeOnly))
	}
	return fmt.Sprintf("{%s ascending=%v}", strings.Join(s, " "), q.Ascending)
}

// testAuditIndexes: filtered and paged answers equal the ones computed
// from the whole log, after writing, after pruning, and after reopening.
func testAuditIndexes(t *testing.T, open Opener) {
	be := open(t)
	FillAuditVaried(t, be, 300)
	t.Run("written", func(t *testing.T) { CheckAuditIndexes(t, auditLog(t, be)) })
	n, err := auditLog(t, be).PruneAudit(context.Background(), auditBase.Add(70*time.Minute), 1000)
	if err != nil || n == 0 {
		t.Fatalf("PruneAudit = %d, %v; want some pruned", n, err)
	}
	t.Run("pruned", func(t *testing.T) { CheckAuditIndexes(t, auditLog(t, be)) })
	be.Close()
	be = open(t)
	defer be.Close()
	t.Run("reopened", func(t *testing.T) { CheckAuditIndexes(t, auditLog(t, be)) })
}
