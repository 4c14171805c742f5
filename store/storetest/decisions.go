package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// RunDecisions runs the decision log's cases against a backend: merging
// per hour, filters, cursor paging, pruning and the statistics.
func RunDecisions(t *testing.T, newOpener func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.DecisionLog)
	}{
		{"DecisionsMergePerHour", testDecisionsMerge},
		{"DecisionsFilters", testDecisionsFilters},
		{"DecisionsCursorPaging", testDecisionsPaging},
		{"DecisionsPrune", testDecisionsPrune},
		{"DecisionsStats", testDecisionsStats},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newOpener(t)(t)
			t.Cleanup(func() { be.Close() })
			dl, ok := be.(store.DecisionLog)
			if !ok {
				t.Fatalf("%T does not implement store.DecisionLog", be)
			}
			tc.fn(t, dl)
		})
	}
}

// decisionBase is the hour of the first test record.
var decisionBase = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// Decision is a test record: user u on device d reached route at hour h
// (from decisionBase) with outcome; deny records carry a reason.
func Decision(h int, user, device, route, outcome string) *store.DecisionRecord {
	at := decisionBase.Add(time.Duration(h)*time.Hour + 10*time.Minute)
	r := &store.DecisionRecord{First: at, Last: at.Add(time.Minute), Count: 1, Route: route, Policy: "staff",
		UserID: "u_" + user, User: user + "@example.com", Device: device, Outcome: outcome,
		Rules: []string{"staff/allow"}, Reasons: []store.DecisionReason{},
		Facts: store.DecisionFacts{Groups: []string{"staff"}, MFAAge: "1h0m0s", SessionAge: "4h0m0s", Trust: "high",
			Ownership: "corporate", Managed: true, Compliant: true, Checks: []string{}, SeenAge: "5m0s", IP: "192.0.2.7", Method: "GET", Path: "/"}}
	if outcome == "deny" {
		r.Rules = []string{"staff/deny-country"}
		r.Reasons = []store.DecisionReason{{Code: "country", Message: "Not from here.", Remediation: "Travel home.", Rule: "staff/deny-country"}}
	}
	store.RecordTimes(r)
	return r
}

func appendAll(t *testing.T, dl store.DecisionLog, recs ...*store.DecisionRecord) {
	t.Helper()
	if err := dl.AppendDecisions(context.Background(), recs); err != nil {
		t.Fatalf("AppendDecisions: %v", err)
	}
}

func scanAll(t *testing.T, dl store.DecisionLog, q store.DecisionQuery) []*store.DecisionRecord {
	t.Helper()
	var out []*store.DecisionRecord
	if err := dl.ScanDecisions(context.Background(), q, func(r *store.DecisionRecord) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("ScanDecisions: %v", err)
	}
	return out
}

func testDecisionsMerge(t *testing.T, dl store.DecisionLog) {
	a := Decision(0, "ann", "dev_a", "https://wiki.test", "allow")
	later := Decision(0, "ann", "dev_a", "https://wiki.test", "allow")
	later.First, later.Last, later.Count = a.First.Add(20*time.Minute), a.First.Add(30*time.Minute), 4
	// The same facts in the same batch, and again in a later batch (another
	// replica's flush): one record.
	appendAll(t, dl, a, Decision(0, "ann", "dev_a", "https://wiki.test", "allow"))
	appendAll(t, dl, later, Decision(1, "ann", "dev_a", "https://wiki.test", "allow"))
	got := scanAll(t, dl, store.DecisionQuery{})
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2 (one per hour)", len(got))
	}
	h0 := got[1]
	if !h0.Hour.Equal(decisionBase) || h0.Count != 6 || !h0.First.Equal(a.First) || !h0.Last.Equal(later.Last) {
		t.Fatalf("merged record: hour %v count %d first %v last %v; want %v 6 %v %v", h0.Hour, h0.Count, h0.First, h0.Last, decisionBase, a.First, later.Last)
	}
	if h0.User != "ann@example.com" || h0.Facts.Trust != "high" || h0.Facts.IP != "192.0.2.7" {
		t.Fatalf("record lost its facts: %+v", h0)
	}
	// Different facts are different records.
	b := Decision(0, "ann", "dev_a", "https://wiki.test", "allow")
	b.Facts.Country = "FR"
	appendAll(t, dl, b)
	if n := len(scanAll(t, dl, store.DecisionQuery{})); n != 3 {
		t.Fatalf("got %d records, want 3", n)
	}
}

func ptr[T any](v T) *T { return &v }

func testDecisionsFilters(t *testing.T, dl store.DecisionLog) {
	ro := Decision(3, "cy", "dev_c", "https://wiki.test", "allow")
	ro.ReportOnly = &store.Observed{Policy: "strict", Outcome: "deny", Rules: []string{"strict/deny-byod"}, Reasons: []store.DecisionReason{{Code: "device.ownership"}}}
	noReasons := Decision(4, "dan", "dev_d", "https://wiki.test", "allow")
	noReasons.Reasons = nil
	noReasons.ReportOnly = &store.Observed{Policy: "strict", Outcome: "allow"}
	appendAll(t, dl,
		Decision(0, "ann", "dev_a", "https://wiki.test", "allow"),
		Decision(1, "bob", "dev_b", "https://wiki.test", "deny"),
		Decision(2, "ann", "dev_a", "https://git.test", "deny"),
		ro, noReasons)
	cases := []struct {
		name  string
		q     store.DecisionQuery
		users []string // expected, newest first
	}{
		{"all", store.DecisionQuery{}, []string{"dan", "cy", "ann", "bob", "ann"}},
		{"user by email", store.DecisionQuery{User: "ANN@example.com"}, []string{"ann", "ann"}},
		{"user by id", store.DecisionQuery{User: "u_bob"}, []string{"bob"}},
		{"device", store.DecisionQuery{Device: "dev_c"}, []string{"cy"}},
		{"route", store.DecisionQuery{Route: "https://git.test"}, []string{"ann"}},
		{"outcome", store.DecisionQuery{Outcome: "deny"}, []string{"ann", "bob"}},
		{"rule", store.DecisionQuery{Rule: "staff/allow"}, []string{"dan", "cy", "ann"}},
		{"since", store.DecisionQuery{Since: decisionBase.Add(90 * time.Minute)}, []string{"dan", "cy", "ann", "bob"}},
		{"until", store.DecisionQuery{Until: decisionBase.Add(2 * time.Hour)}, []string{"bob", "ann"}},
		{"window", store.DecisionQuery{Since: decisionBase.Add(time.Hour), Until: decisionBase.Add(2*time.Hour + time.Minute)}, []string{"ann", "bob"}},
		{"report-only would deny", store.DecisionQuery{ReportOnly: ptr(true), Outcome: "deny"}, []string{"cy"}},
		{"report-only rule", store.DecisionQuery{ReportOnly: ptr(true), Rule: "strict/deny-byod"}, []string{"cy"}},
		{"report-only outcome is not the enforced one", store.DecisionQuery{ReportOnly: ptr(true), Outcome: "allow"}, []string{"dan"}},
		{"not report-only", store.DecisionQuery{ReportOnly: ptr(false), Outcome: "allow"}, []string{"ann"}},
		{"reason", store.DecisionQuery{Reason: "country"}, []string{"ann", "bob"}},
		{"reason and route", store.DecisionQuery{Reason: "country", Route: "https://git.test"}, []string{"ann"}},
		{"report-only reason", store.DecisionQuery{ReportOnly: ptr(true), Reason: "device.ownership"}, []string{"cy"}},
		{"enforced reason is not the report-only one", store.DecisionQuery{Reason: "device.ownership"}, nil},
		{"nothing", store.DecisionQuery{User: "zed"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"scan", "query"} {
				var got []*store.DecisionRecord
				if how == "scan" {
					got = scanAll(t, dl, tc.q)
				} else {
					var err error
					if got, err = dl.QueryDecisions(context.Background(), tc.q); err != nil {
						t.Fatal(err)
					}
				}
				var users []string
				for _, r := range got {
					users = append(users, r.UserID[2:])
				}
				if fmt.Sprint(users) != fmt.Sprint(tc.users) {
					t.Fatalf("%s: got %v, want %v", how, users, tc.users)
				}
			}
		})
	}
}

func testDecisionsPaging(t *testing.T, dl store.DecisionLog) {
	var recs []*store.DecisionRecord
	for i := range 25 {
		recs = append(recs, Decision(i%5, fmt.Sprintf("u%02d", i), "dev", "https://wiki.test", "allow"))
	}
	appendAll(t, dl, recs[:10]...)
	appendAll(t, dl, recs[10:]...)
	all := scanAll(t, dl, store.DecisionQuery{})
	if len(all) != 25 {
		t.Fatalf("scan: %d records, want 25", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Hour.After(all[i-1].Hour) {
			t.Fatalf("record %d is newer than record %d: not newest first", i, i-1)
		}
	}
	q := store.DecisionQuery{Limit: 4}
	var paged []*store.DecisionRecord
	for range 20 {
		page, err := dl.QueryDecisions(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 4 {
			t.Fatalf("page of %d, limit 4", len(page))
		}
		paged = append(paged, page...)
		if len(page) < 4 {
			break
		}
		// The cursor survives its string form, as an API client holds it.
		c, err := store.ParseDecisionCursor(store.CursorOf(page[len(page)-1]).String())
		if err != nil {
			t.Fatal(err)
		}
		q.After = c
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d records, scanned %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].UserID != all[i].UserID || paged[i].Pos != all[i].Pos {
			t.Fatalf("page order differs from scan order at %d", i)
		}
	}
	// Filtered walks page too (by time, and by route and person, which
	// a backend may answer from an index).
	for _, tc := range []struct {
		q    store.DecisionQuery
		want int
	}{
		{store.DecisionQuery{Since: decisionBase.Add(3 * time.Hour)}, 10},
		{store.DecisionQuery{Route: "https://wiki.test", Until: decisionBase.Add(4 * time.Hour)}, 20},
		{store.DecisionQuery{Route: "https://wiki.test", Since: decisionBase.Add(time.Hour), Until: decisionBase.Add(3 * time.Hour)}, 10},
		{store.DecisionQuery{User: "u07@example.com"}, 1},
		{store.DecisionQuery{Device: "dev"}, 25},
	} {
		q := tc.q
		q.Limit = 2
		n, seen := 0, map[uint64]bool{}
		for range 30 {
			page, err := dl.QueryDecisions(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				if seen[r.Pos] || !tc.q.Match(r) {
					t.Fatalf("%+v: record %d twice or not matching", tc.q, r.Pos)
				}
				seen[r.Pos] = true
			}
			n += len(page)
			if len(page) < 2 {
				break
			}
			q.After = store.CursorOf(page[len(page)-1])
		}
		if n != tc.want {
			t.Fatalf("%+v: paged %d records, want %d", tc.q, n, tc.want)
		}
	}
}

func testDecisionsPrune(t *testing.T, dl store.DecisionLog) {
	ctx := context.Background()
	for h := range 6 {
		appendAll(t, dl, Decision(h, "ann", "dev", "https://wiki.test", "allow"), Decision(h, "bob", "dev", "https://wiki.test", "allow"))
	}
	n, err := dl.PruneDecisions(ctx, store.DecisionPrune{Before: decisionBase.Add(2 * time.Hour), Limit: 3})
	if err != nil || n != 3 {
		t.Fatalf("prune with limit 3: %d, %v", n, err)
	}
	n, err = dl.PruneDecisions(ctx, store.DecisionPrune{Before: decisionBase.Add(2 * time.Hour)})
	if err != nil || n != 1 {
		t.Fatalf("prune the rest of hours 0-1: %d, %v", n, err)
	}
	left := scanAll(t, dl, store.DecisionQuery{})
	if len(left) != 8 || !left[len(left)-1].Hour.Equal(decisionBase.Add(2*time.Hour)) {
		t.Fatalf("after prune: %d records, oldest %v", len(left), left[len(left)-1].Hour)
	}
	// max_rows keeps the newest.
	n, err = dl.PruneDecisions(ctx, store.DecisionPrune{MaxRows: 3})
	if err != nil || n != 5 {
		t.Fatalf("prune to 3 rows: %d, %v", n, err)
	}
	left = scanAll(t, dl, store.DecisionQuery{})
	if len(left) != 3 || !left[0].Hour.Equal(decisionBase.Add(5*time.Hour)) {
		t.Fatalf("after max_rows: %d records", len(left))
	}
	// The merge index was pruned with the records: the same facts again
	// make a new record, not an update of a removed one.
	appendAll(t, dl, Decision(0, "ann", "dev", "https://wiki.test", "allow"))
	if got := scanAll(t, dl, store.DecisionQuery{User: "u_ann", Until: decisionBase.Add(time.Hour)}); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("re-added record: %v", got)
	}
	if n, err := dl.PruneDecisions(ctx, store.DecisionPrune{MaxRows: 4}); err != nil || n != 0 {
		t.Fatalf("prune under max_rows: %d, %v", n, err)
	}
}

func testDecisionsStats(t *testing.T, dl store.DecisionLog) {
	ro := Decision(0, "cy", "dev_c", "https://wiki.test", "allow")
	ro.ReportOnly = &store.Observed{Policy: "strict", Outcome: "deny", Rules: []string{"strict/deny-byod"},
		Reasons: []store.DecisionReason{{Code: "device.ownership", Message: "Personal device."}}}
	ro.Count = 3
	deny := Decision(1, "bob", "dev_b", "https://wiki.test", "deny")
	deny.Count = 5
	appendAll(t, dl, Decision(0, "ann", "dev_a", "https://wiki.test", "allow"), deny, ro,
		Decision(26, "ann", "dev_a", "https://wiki.test", "deny"))
	st, err := store.ComputeDecisionStats(context.Background(), dl, store.DecisionQuery{Route: "https://wiki.test"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 10 || st.Denied != 6 {
		t.Fatalf("requests %d denied %d, want 10 and 6", st.Requests, st.Denied)
	}
	if len(st.DenyReasons) != 1 || st.DenyReasons[0].Code != "country" || st.DenyReasons[0].Count != 6 || st.DenyReasons[0].Users != 2 {
		t.Fatalf("deny reasons: %+v", st.DenyReasons)
	}
	var allow *store.RuleHits
	for i := range st.Rules {
		if st.Rules[i].Rule == "staff/allow" {
			allow = &st.Rules[i]
		}
	}
	if allow == nil || allow.Total != 4 || len(allow.Buckets) != 1 || !allow.Buckets[0].At.Equal(decisionBase.Truncate(24*time.Hour)) {
		t.Fatalf("staff/allow hits: %+v", allow)
	}
	if len(st.WouldDeny) != 1 || st.WouldDeny[0].Rule != "strict/deny-byod" || st.WouldDeny[0].Count != 3 ||
		fmt.Sprint(st.WouldDeny[0].Users) != "[cy@example.com]" || fmt.Sprint(st.WouldDeny[0].Devices) != "[dev_c]" {
		t.Fatalf("would deny: %+v", st.WouldDeny)
	}
	w := st.WouldDeny[0]
	if w.UserCount != 1 || w.DeviceCount != 1 || len(w.People) != 1 || w.People[0].Count != 3 ||
		fmt.Sprint(w.People[0].Devices) != "[dev_c]" || len(w.Reasons) != 1 || w.Reasons[0].Code != "device.ownership" ||
		w.Reasons[0].Count != 3 || w.Reasons[0].Users != 1 {
		t.Fatalf("would deny people and reasons: %+v", w)
	}
}
