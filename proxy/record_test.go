package proxy

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/clocktest"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// fakeSink keeps what the recorder flushes.
type fakeSink struct {
	mu      sync.Mutex
	batches [][]*store.DecisionRecord
	err     error
}

func (s *fakeSink) AppendDecisions(_ context.Context, recs []*store.DecisionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.batches = append(s.batches, recs)
	return nil
}

func (s *fakeSink) all() []*store.DecisionRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*store.DecisionRecord
	for _, b := range s.batches {
		out = append(out, b...)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Hour.Before(out[j].Hour) || (out[i].Hour.Equal(out[j].Hour) && out[i].User < out[j].User)
	})
	return out
}

var recRoute = &route{from: "https://wiki.test", prefix: "/docs", policy: &policy.Policy{ID: "staff"}}

func recInput(clk *clocktest.Clock, email string) policy.Input {
	now := clk.Now()
	return policy.Input{Authenticated: true, UserID: "u_" + email, Email: email, Groups: []string{"staff"}, IdP: "corp",
		MFAAt: now.Add(-3 * time.Minute), SignedInAt: now.Add(-2 * time.Hour),
		Device: policy.Device{ID: "dev_1", Trust: store.TrustHigh, Ownership: store.OwnershipCorporate, Platform: "linux",
			Compliant: true, Managed: true, PassingChecks: []string{"disk_encrypted"}, LastSeen: now.Add(-time.Minute), Key: "hardware"},
		IP: netip.MustParseAddr("192.0.2.7"), Country: "FR", Now: now, Method: "GET", Path: "/docs/a/b/c/123"}
}

func newTestRecorder(t *testing.T, sink *fakeSink, max int) (*Recorder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r := NewRecorder(RecorderOptions{Sink: sink, Interval: time.Hour, MaxEntries: max, Registerer: reg})
	r.Start()
	t.Cleanup(r.Close)
	return r, reg
}

func TestRecorderHourBucketsAndCounts(t *testing.T) {
	sink := &fakeSink{}
	r, _ := newTestRecorder(t, sink, 100)
	clk := clocktest.At(time.Date(2026, 5, 4, 10, 5, 0, 0, time.UTC))
	allow := policy.Decision{Outcome: policy.Allow, Policy: "staff", Rules: []string{"staff/allow"}}
	// One session's requests: the same MFA and sign-in times.
	in := recInput(clk, "Ann@Example.com")
	for range 3 {
		in.Now, in.Device.LastSeen = clk.Now(), clk.Now().Add(-time.Minute) // the agent reports
		r.Record(recRoute, &in, &allow, nil)
		clk.Advance(10 * time.Minute)
	}
	// 10:35, then 11:05: a new hour is a new record, though the facts match.
	clk.Set(time.Date(2026, 5, 4, 11, 5, 0, 0, time.UTC))
	in.Now, in.Device.LastSeen = clk.Now(), clk.Now().Add(-time.Minute)
	r.Record(recRoute, &in, &allow, nil)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2 (one per hour)", len(got))
	}
	a := got[0]
	if a.Count != 3 || !a.Hour.Equal(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)) ||
		!a.First.Equal(time.Date(2026, 5, 4, 10, 5, 0, 0, time.UTC)) || !a.Last.Equal(time.Date(2026, 5, 4, 10, 25, 0, 0, time.UTC)) {
		t.Fatalf("10:00 record: count %d hour %v first %v last %v", a.Count, a.Hour, a.First, a.Last)
	}
	if got[1].Count != 1 {
		t.Fatalf("11:00 record: count %d", got[1].Count)
	}
	f := a.Facts
	if a.User != "ann@example.com" || a.Route != "https://wiki.test/docs" || a.Device != "dev_1" || a.Outcome != "allow" ||
		f.MFAAge != "5m0s" || f.SessionAge != "4h0m0s" || f.SeenAge != "1m0s" || f.Path != "/docs/a/b" || f.IP != "192.0.2.7" ||
		f.Trust != "high" || f.Key != "hardware" || len(f.Checks) != 1 {
		t.Fatalf("record facts: %+v %+v", a, f)
	}
	// Different facts in the same hour make another record.
	in = recInput(clk, "ann@example.com")
	in.Country = "DE"
	r.Record(recRoute, &in, &allow, nil)
	in = recInput(clk, "ann@example.com")
	deny := policy.Decision{Outcome: policy.Deny, Policy: "staff", Reasons: []policy.Reason{{Code: "country", Remediation: "Go home."}}}
	observed := policy.Decision{Outcome: policy.Deny, Policy: "strict", Rules: []string{"strict/deny"}}
	r.Record(recRoute, &in, &deny, &observed)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	got = sink.all()
	if len(got) != 4 {
		t.Fatalf("got %d records, want 4", len(got))
	}
	var denied *store.DecisionRecord
	for _, x := range got {
		if x.Outcome == "deny" {
			denied = x
		}
	}
	if denied == nil || denied.Reasons[0].Remediation != "Go home." || denied.ReportOnly == nil || denied.ReportOnly.Rules[0] != "strict/deny" {
		t.Fatalf("denied record: %+v", denied)
	}
}

func TestRecorderBoundedMemory(t *testing.T) {
	sink := &fakeSink{}
	r, reg := newTestRecorder(t, sink, 3)
	clk := clocktest.At(time.Date(2026, 5, 4, 10, 5, 0, 0, time.UTC))
	allow := policy.Decision{Outcome: policy.Allow}
	ins := map[string]policy.Input{}
	for _, u := range []string{"a", "b", "c", "d", "e", "a"} {
		if _, ok := ins[u]; !ok {
			ins[u] = recInput(clk, u+"@example.com")
		}
		in := ins[u]
		r.Record(recRoute, &in, &allow, nil)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := sink.all(); len(got) != 3 {
		t.Fatalf("got %d records, want the cap of 3", len(got))
	}
	if n := counterValue(r.overflow); n != 2 {
		t.Fatalf("overflow counter %v, want 2", n)
	}
	if !registered(t, reg, "portier_decision_records_overflow_total") {
		t.Fatal("overflow metric not registered")
	}
	// After a flush there is room again.
	in := recInput(clk, "f@example.com")
	r.Record(recRoute, &in, &allow, nil)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := sink.all(); len(got) != 4 {
		t.Fatalf("after flush: %d records, want 4", len(got))
	}
}

func TestRecorderFlushesOnClose(t *testing.T) {
	sink := &fakeSink{}
	r := NewRecorder(RecorderOptions{Sink: sink, Interval: time.Hour})
	r.Start()
	clk := clocktest.At(time.Date(2026, 5, 4, 10, 5, 0, 0, time.UTC))
	in := recInput(clk, "ann@example.com")
	r.Record(recRoute, &in, &policy.Decision{Outcome: policy.Allow}, nil)
	r.Close()
	if got := sink.all(); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("after Close: %d records", len(got))
	}
	r.Close() // twice is harmless
}

func TestRecorderFailedFlushIsCounted(t *testing.T) {
	sink := &fakeSink{err: errors.New("disk full")}
	r, _ := newTestRecorder(t, sink, 10)
	in := recInput(clocktest.New(), "ann@example.com")
	r.Record(recRoute, &in, &policy.Decision{Outcome: policy.Allow}, nil)
	if err := r.Flush(); err == nil {
		t.Fatal("Flush succeeded with a failing store")
	}
	if n := counterValue(r.failed); n != 1 {
		t.Fatalf("failed counter %v, want 1", n)
	}
}

// A recorded decision replays to the same outcome through the policy.
func TestReplayInputRoundTrip(t *testing.T) {
	pols, err := policy.Parse("t.yaml", []byte(`
policies:
  - id: staff
    allow:
      and:
        - group: {has: staff}
        - mfa: {max_age: 10m}
        - device: {trust: {gte: high}, key: hardware, check: disk_encrypted}
        - country: {in: [FR]}
`))
	if err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{}
	r, _ := newTestRecorder(t, sink, 10)
	in := recInput(clocktest.New(), "ann@example.com")
	dec := pols[0].Evaluate(&in)
	if dec.Outcome != policy.Allow {
		t.Fatalf("live decision %v", dec.Explain())
	}
	r.Record(recRoute, &in, &dec, nil)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	rec := sink.all()[0]
	replay := ReplayInput(rec)
	if got := pols[0].Evaluate(&replay); got.Outcome != policy.Allow {
		t.Fatalf("replayed decision: %s", got.Explain())
	}
	// The MFA bucket (5m) replays as 5 minutes old: a 4-minute rule denies.
	strict, _ := policy.Parse("t.yaml", []byte("policies:\n  - id: s\n    allow:\n      mfa: {max_age: 4m}\n"))
	if got := strict[0].Evaluate(&replay); got.Outcome.Allowed() {
		t.Fatalf("a 4m MFA rule allowed a 5m bucket: %s", got.Explain())
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func registered(t *testing.T, reg *prometheus.Registry, name string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}

// BenchmarkRecord is the hot path's part of recording: handing a decision
// to the recorder, with the aggregator folding it in on another goroutine.
func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(RecorderOptions{Sink: &fakeSink{}, Interval: time.Hour})
	r.Start()
	defer r.Close()
	in := recInput(clocktest.New(), "ann@example.com")
	dec := policy.Decision{Outcome: policy.Allow, Rules: []string{"staff/allow"}}
	b.ReportAllocs()
	for b.Loop() {
		r.Record(recRoute, &in, &dec, nil)
	}
}

// BenchmarkAggregate is the aggregator's work per repeated decision.
func BenchmarkAggregate(b *testing.B) {
	agg := newAggregator(100)
	ev := recordEvent{from: "https://wiki.test", policy: "staff", in: recInput(clocktest.New(), "ann@example.com"),
		dec: policy.Decision{Outcome: policy.Allow, Rules: []string{"staff/allow"}}}
	b.ReportAllocs()
	for b.Loop() {
		agg.add(&ev)
	}
}
