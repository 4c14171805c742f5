package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

func TestSweepRemovesOldEventsAndKeepsChain(t *testing.T) {
	st := storetest.OpenBolt(t)
	ctx := context.Background()
	now := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	// Events from 500 days ago to today, one every 50 days.
	for i := range 11 {
		ev := store.NewAuditEvent(now.Add(-time.Duration(500-50*i)*24*time.Hour), "system", "test", fmt.Sprint(i))
		if err := st.Write(ctx, store.Put(ev)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name      string
		retention time.Duration
		removed   int
	}{
		{"forever", 0, 0},
		{"default", DefaultRetention, 2}, // 500 and 450 days old
		{"again", DefaultRetention, 0},
		{"shorter", 120 * 24 * time.Hour, 6}, // 400 … 150 days old
	}
	for _, tc := range cases {
		s := NewSweeper(Options{Log: st, Clock: func() time.Time { return now }, Retention: tc.retention})
		n, err := s.Sweep(ctx)
		if err != nil || n != tc.removed {
			t.Fatalf("%s: Sweep = %d, %v; want %d", tc.name, n, err, tc.removed)
		}
	}
	events := st.Audit()
	// 3 test events left (100, 50 and 0 days old) and the 2 prune events.
	if len(events) != 5 || events[0].Target != "8" || events[3].Action != "audit.prune" || events[3].Detail["count"] != "2" {
		t.Fatalf("left = %d events: %+v", len(events), events)
	}
	ch, err := st.AuditChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if events[4].Detail["anchor_seq"] != fmt.Sprint(ch.Anchor.Seq) || ch.Anchor.Hash != events[0].Prev {
		t.Errorf("anchor %+v does not precede the first event left %+v", ch.Anchor, events[0])
	}
	v := store.NewAuditVerifier(ch.Anchor)
	for _, ev := range events {
		if b := v.Add(ev); b != nil {
			t.Fatal(b)
		}
	}
	if b := v.End(ch.Head); b != nil {
		t.Fatal(b)
	}
}
