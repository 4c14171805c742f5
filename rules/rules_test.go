package rules_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, st *store.Store, clk *clock) *rules.Service {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte("external_url: https://localhost\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	return &rules.Service{Store: st, Base: func() *config.Config { return cfg }, Clock: clk.Now,
		Compile: func(c *config.Config) ([]*policy.Policy, error) { return policy.ParsePolicies(c.File, &c.Policies) }}
}

func put(t *testing.T, s *rules.Service, typ, id string, match *uint64, body string) *store.Rule {
	t.Helper()
	r, err := s.Put(context.Background(), rules.Actor{Name: "user:ada@example.com"}, rules.Change{Type: typ, ID: id, IfMatch: match, Body: []byte(body), File: "body"})
	if err != nil {
		t.Fatalf("Put %s %s: %v", typ, id, err)
	}
	return r
}

func v(n uint64) *uint64 { return &n }

func code(err error) apperr.Code {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestVersionsDiffAndRollback(t *testing.T) {
	st := storetest.OpenBolt(t)
	clk := &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s := newService(t, st, clk)
	ctx := context.Background()
	put(t, s, store.RulePolicy, "staff", nil, "allow:\n  or:\n    - group: {has: staff}\ncomment: first\n")
	r := put(t, s, store.RulePolicy, "staff", v(1), "allow:\n  or:\n    - group: {has: ops}\n")
	if r.Version != 2 {
		t.Fatalf("second version = %d", r.Version)
	}
	vs, next, err := s.Versions(ctx, store.RulePolicy, "staff", "", 1)
	if err != nil || len(vs) != 1 || vs[0].Version != 2 || next == "" {
		t.Fatalf("first page = %v %q %v", vs, next, err)
	}
	if !strings.Contains(vs[0].Diff, "-    - group: {has: staff}") || !strings.Contains(vs[0].Diff, "+    - group: {has: ops}") {
		t.Errorf("diff of version 2:\n%s", vs[0].Diff)
	}
	vs, next, _ = s.Versions(ctx, store.RulePolicy, "staff", next, 1)
	if len(vs) != 1 || vs[0].Version != 1 || vs[0].Comment != "first" {
		t.Errorf("second page = %+v", vs)
	}
	if _, err := s.Rollback(ctx, rules.Actor{Name: "user:ada@example.com"}, rules.Change{Type: store.RulePolicy, ID: "staff", IfMatch: v(1)}, 1); code(err) != apperr.Stale {
		t.Errorf("rollback with a stale If-Match: %v", err)
	}
	r, err = s.Rollback(ctx, rules.Actor{Name: "user:ada@example.com"}, rules.Change{Type: store.RulePolicy, ID: "staff", IfMatch: v(2)}, 1)
	if err != nil || r.Version != 3 || !strings.Contains(r.Text, "has: staff") {
		t.Fatalf("rollback = %+v %v", r, err)
	}
	var actions []string
	for _, ev := range st.Audit() {
		actions = append(actions, ev.Action+" "+ev.Target+" by "+ev.Actor)
	}
	want := "policy.create policy/staff by user:ada@example.com,policy.update policy/staff by user:ada@example.com,policy.rollback policy/staff by user:ada@example.com"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audit = %s\nwant %s", got, want)
	}
}

func TestPreconditionsAndValidation(t *testing.T) {
	st := storetest.OpenBolt(t)
	s := newService(t, st, &clock{now: time.Now()})
	ctx := context.Background()
	a := rules.Actor{Name: "token:t"}
	put(t, s, store.RulePolicy, "staff", nil, "allow: {or: [{group: {has: staff}}]}\n")
	_, err := s.Put(ctx, a, rules.Change{Type: store.RulePolicy, ID: "staff", Body: []byte("allow: {}\n")})
	if code(err) != apperr.PreconditionMissing {
		t.Errorf("write without If-Match: %v", err)
	}
	_, err = s.Put(ctx, a, rules.Change{Type: store.RulePolicy, ID: "other", File: "body", Body: []byte("id: other\nallow:\n  or:\n    - time: {weekdays: [funday]}\n")})
	var ae *apperr.Error
	if code(err) != apperr.Unprocessable || !errors.As(err, &ae) || ae.Field != "body" || ae.Line != 4 || !strings.Contains(ae.Msg, "body:4") {
		t.Errorf("invalid policy: %v", err)
	}
	_, err = s.Put(ctx, a, rules.Change{Type: store.RulePolicy, ID: "staff", IfMatch: v(1), File: "body", Body: []byte("id: staf\nallow: {}\n")})
	if code(err) != apperr.Unprocessable || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("an id other than the path's: %v", err)
	}
	_, err = s.Put(ctx, a, rules.Change{Type: store.RuleRoute, ID: "wiki", File: "body", Body: []byte("from: https://wiki.example.com\nto: http://127.0.0.1:9\npolicy: nobody\n")})
	if code(err) != apperr.Unprocessable || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("a route naming a missing policy: %v", err)
	}
	put(t, s, store.RulePolicy, "draft", nil, "mode: draft\nallow: {or: [{group: {has: staff}}]}\n")
	_, err = s.Put(ctx, a, rules.Change{Type: store.RuleRoute, ID: "wiki", File: "body", Body: []byte("from: https://wiki.example.com\nto: http://127.0.0.1:9\npolicy: draft\n")})
	if code(err) != apperr.Unprocessable || !strings.Contains(err.Error(), "draft") {
		t.Errorf("a route naming a draft policy: %v", err)
	}
	put(t, s, store.RuleRoute, "wiki", nil, "from: https://wiki.example.com\nto: http://127.0.0.1:9\npolicy: staff\n")
	_, err = s.Delete(ctx, a, rules.Change{Type: store.RulePolicy, ID: "staff", IfMatch: v(1)})
	if code(err) != apperr.Conflict || !strings.Contains(err.Error(), `route "wiki"`) {
		t.Errorf("deleting a policy in use: %v", err)
	}
}

// TestScheduledPromotion: a due promotion is applied once, by "schedule",
// however many replicas run the loop.
func TestScheduledPromotion(t *testing.T) {
	st := storetest.OpenBolt(t)
	clk := &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	replicas := []*rules.Service{newService(t, st, clk), newService(t, st, clk), newService(t, st, clk)}
	put(t, replicas[0], store.RulePolicy, "staff", nil,
		"mode: report-only\nallow: {or: [{group: {has: staff}}]}\npromote_at: 2026-12-02T09:00:00Z\npromote_to: enforce\n")
	if n, err := replicas[0].Promote(ctx); n != 0 || err != nil {
		t.Fatalf("promotion before its time: %d %v", n, err)
	}
	clk.Add(24 * time.Hour)
	var wg sync.WaitGroup
	counts := make([]int, len(replicas))
	for i, s := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.Promote(ctx)
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	if total := counts[0] + counts[1] + counts[2]; total != 1 {
		t.Fatalf("promotions applied = %v, want exactly one", counts)
	}
	r, _ := st.RuleOf(store.RulePolicy, "staff")
	d, err := rules.DocOf(r)
	if err != nil || d.Mode != rules.ModeEnforce || r.Author != rules.ScheduleAuthor || !r.PromoteAt.IsZero() || r.Version != 2 {
		t.Fatalf("after the promotion: %+v %v", r, err)
	}
	evs := st.Audit()
	if last := evs[len(evs)-1]; last.Action != "policy.promote" || last.Actor != rules.ScheduleAuthor {
		t.Errorf("last audit event = %s by %s", last.Action, last.Actor)
	}
}

func TestDiff(t *testing.T) {
	if d := rules.Diff("a\nb\n", "a\nb\n", "x", "y"); d != "" {
		t.Errorf("equal texts: %q", d)
	}
	got := rules.Diff("a\nb\nc\n", "a\nB\nc\nd\n", "v1", "v2")
	want := "--- v1\n+++ v2\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
	if got != want {
		t.Errorf("diff =\n%s\nwant\n%s", got, want)
	}
}
