package rollout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// progressFleet stores a plan (pilot: group it; sales: department sales;
// rest: everyone) and a fleet: the pilot's two people have 2 expected
// devices, both enrolled, and 2 active devices, one compliant; sales has
// 4 expected devices, 3 enrolled, 3 active devices all compliant.
func progressFleet(t *testing.T) (*store.Store, *store.RolloutPlan) {
	t.Helper()
	st := storetest.OpenBolt(t)
	p := plan()
	p.Exit = store.ExitCriteria{MinEnrollment: 0.75, MinCompliance: 0.9, MaxTickets: 2, MaxWouldDeny: 1}
	if err := rollout.Validate(p); err != nil {
		t.Fatal(err)
	}
	ops := []store.Op{store.Put(p),
		store.Put(&store.User{ID: "u1", Email: "bob@example.com", Groups: []string{"it"}}),
		store.Put(&store.User{ID: "u2", Email: "zed@example.com"}),
		store.Put(&store.ExpectedDevice{ID: "E1", OwnerEmail: "ada@example.com", EnrolledAs: "d1"}),
		store.Put(&store.ExpectedDevice{ID: "E2", OwnerEmail: "bob@example.com", EnrolledAs: "d2"}),
		store.Put(&store.Device{ID: "d1", OwnerEmail: "ada@example.com", State: store.DeviceActive, Compliant: true}),
		store.Put(&store.Device{ID: "d2", OwnerEmail: "bob@example.com", State: store.DeviceActive}),
		store.Put(&store.Device{ID: "d9", OwnerEmail: "bob@example.com", State: store.DeviceRetired}), // not counted
	}
	for i, who := range []string{"carol", "dan", "erin", "fay"} {
		e := &store.ExpectedDevice{ID: fmt.Sprint("S", i), OwnerEmail: who + "@example.com", Department: "sales"}
		if i < 3 {
			e.EnrolledAs = fmt.Sprint("s", i)
			ops = append(ops, store.Put(&store.Device{ID: e.EnrolledAs, OwnerEmail: e.OwnerEmail, Department: "sales",
				State: store.DeviceActive, Compliant: true}))
		}
		ops = append(ops, store.Put(e))
	}
	if err := st.Write(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	return st, p
}

// decide appends report-only decisions of the plan's policy (and one of
// another policy, and one too old) to the decision log.
func decide(t *testing.T, st *store.Store, now time.Time) {
	t.Helper()
	dl, err := st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	rec := func(user, policy string, at time.Time, n uint64) *store.DecisionRecord {
		r := &store.DecisionRecord{First: at, Last: at, Count: n, Route: "wiki", Policy: "staff", User: user, Device: "d", Outcome: "allow",
			ReportOnly: &store.Observed{Policy: policy, Outcome: "deny"}}
		store.RecordTimes(r)
		return r
	}
	err = dl.AppendDecisions(context.Background(), []*store.DecisionRecord{
		rec("bob@example.com", "finance", now.Add(-time.Hour), 3),        // pilot: counts
		rec("bob@example.com", "other", now.Add(-time.Hour), 50),         // another policy
		rec("carol@example.com", "finance", now.Add(-8*24*time.Hour), 9), // too old
		rec("carol@example.com", "finance", now.Add(-2*time.Hour), 1),    // sales: counts
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestProgressPerWaveAndNoGoNamesTheFailingCriteria(t *testing.T) {
	st, p := progressFleet(t)
	now := day0.AddDate(0, 0, 1)
	decide(t, st, now)
	p.Waves[0].Tickets = 5
	got, err := rollout.ProgressOf(context.Background(), st, rollout.Build(st), p, now)
	if err != nil {
		t.Fatal(err)
	}
	pilot, sales, rest := got.Waves[0], got.Waves[1], got.Waves[2]
	if pilot.People != 2 || pilot.Expected != 2 || pilot.Enrolled != 2 || pilot.Devices != 2 || pilot.Compliant != 1 || pilot.WouldDeny != 3 {
		t.Errorf("pilot = %+v", pilot)
	}
	if sales.People != 4 || sales.Expected != 4 || sales.Enrolled != 3 || sales.Devices != 3 || sales.Compliant != 3 || sales.WouldDeny != 1 {
		t.Errorf("sales = %+v", sales)
	}
	if rest.People != 1 || rest.Expected != 0 || rest.Devices != 0 {
		t.Errorf("rest = %+v", rest)
	}
	if pilot.State != rollout.StateDue || sales.State != rollout.StateScheduled {
		t.Errorf("states %s, %s", pilot.State, sales.State)
	}
	// Nothing applied: the pilot is judged, and fails on compliance
	// (50 % < 90 %), tickets (5 > 2) and report-only denials (3 > 1).
	if got.Go || got.Judged != 0 || got.Next != 0 {
		t.Fatalf("go %v, judged %d, next %d", got.Go, got.Judged, got.Next)
	}
	want := "compliance 50 % < 90 %|open tickets 5 > 2|report-only denials (7 days) 3 > 1"
	if s := strings.Join(got.Failing, "|"); s != want {
		t.Errorf("failing = %q, want %q", s, want)
	}
	// Sales meets everything: once it is the last applied wave, go.
	if !sales.Met() {
		t.Errorf("sales criteria: %+v", sales.Criteria)
	}
	p.Waves[0].AppliedAt, p.Waves[1].AppliedAt = day0, now
	got, err = rollout.ProgressOf(context.Background(), st, rollout.Build(st), p, now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Go || got.Judged != 1 || got.Next != 2 || len(got.Failing) != 0 || got.Waves[1].State != rollout.StateApplied {
		t.Errorf("after sales: go %v judged %d next %d failing %v", got.Go, got.Judged, got.Next, got.Failing)
	}
	// A wave with no expected and no active device cannot be judged: no-go.
	if c := got.Waves[2].Criteria[0]; c.Met || c.Known || c.Text != "enrollment unknown (no expected devices)" {
		t.Errorf("rest enrollment = %+v", c)
	}
}

func TestProgressRatesRoundDownAtTheLimit(t *testing.T) {
	st, p := progressFleet(t)
	p.Exit.MinEnrollment = 0.76 // sales: 3 of 4 = 75 %
	p.Waves[0].AppliedAt, p.Waves[1].AppliedAt = day0, day0.AddDate(0, 0, 14)
	got, err := rollout.ProgressOf(context.Background(), st, rollout.Build(st), p, day0.AddDate(0, 0, 15))
	if err != nil {
		t.Fatal(err)
	}
	if got.Go || len(got.Failing) != 1 || got.Failing[0] != "enrollment 75 % < 76 %" {
		t.Errorf("go %v, failing %q", got.Go, got.Failing)
	}
}
