package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	dto "github.com/prometheus/client_model/go"
)

// TestBrokenRuleKeepsLastGood: a rule record that does not compile (written
// past the API's validation, e.g. by hand or by a newer version) never
// takes the running rules down: the last good compile stays, and the
// error is counted.
func TestBrokenRuleKeepsLastGood(t *testing.T) {
	srv := startRulesServer(t)
	ask := func() string {
		sim, err := srv.sim.Load().Ask("https://wiki.example.test/", proxy.Query{Groups: "staff"}, time.Now())
		if err != nil {
			return err.Error()
		}
		return sim.Decision.Outcome.String()
	}
	if got := ask(); got != "allow" {
		t.Fatalf("seeded rules: staff gets %s", got)
	}
	cur, _ := srv.store.RuleOf(store.RulePolicy, "staff")
	broken := *cur
	broken.Version, broken.Text = cur.Version+1, "id: staff\nallow:\n  or:\n    - grop: {has: staff}\n"
	if err := srv.store.Write(context.Background(), store.Put(&broken)); err != nil {
		t.Fatal(err)
	}
	srv.refreshRules(context.Background())
	if got := ask(); got != "allow" {
		t.Errorf("after a broken record: staff gets %s, want the last good rules (allow)", got)
	}
	var m dto.Metric
	if err := srv.rulesErrs.Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetCounter().GetValue(); n != 1 {
		t.Errorf("portier_rules_compile_errors_total = %v, want 1", n)
	}
}

// TestDraftIsWhatIfOnly: a draft policy is never applied to traffic, and
// the what-if evaluates it by id for a route's request.
func TestDraftIsWhatIfOnly(t *testing.T) {
	srv := startRulesServer(t)
	_, err := srv.rules.Put(context.Background(), rules.Actor{Name: "user:sec@example.com"}, rules.Change{Type: store.RulePolicy, ID: "ops-only",
		Body: []byte("mode: draft\nallow:\n  or:\n    - group: {has: ops}\n")})
	if err != nil {
		t.Fatal(err)
	}
	sim := srv.sim.Load()
	live, err := sim.Ask("https://wiki.example.test/", proxy.Query{Groups: "staff"}, time.Now())
	if err != nil || live.Decision.Outcome.String() != "allow" || live.Decision.Policy != "staff" {
		t.Fatalf("the route's own decision = %+v %v, want staff's allow", live, err)
	}
	draft, err := sim.Ask("https://wiki.example.test/", proxy.Query{Groups: "staff", Policy: "ops-only"}, time.Now())
	if err != nil || draft.Decision.Outcome.String() != "deny" || draft.Decision.Policy != "ops-only" {
		t.Fatalf("what-if of the draft = %+v %v, want its deny", draft, err)
	}
	if _, err := sim.Ask("https://wiki.example.test/", proxy.Query{Policy: "nope"}, time.Now()); err == nil || !strings.Contains(err.Error(), "policy") {
		t.Errorf("what-if of an unknown policy: %v", err)
	}
}

// startRulesServer starts a server whose config seeds one route (wiki,
// policy staff: group staff).
func startRulesServer(t *testing.T) *Server { return startRulesServerAt(t, time.Now) }

// startRulesServerAt is startRulesServer on the given clock.
func startRulesServerAt(t *testing.T, clock func() time.Time) *Server {
	t.Helper()
	addr := freeAddr(t)
	yaml := fmt.Sprintf(`
external_url: https://localhost:8443
listen: %s
metrics_listen: "off"
data_dir: %s
routes:
  - id: wiki
    from: https://wiki.example.test
    to: http://127.0.0.1:9
    policy: staff
policies:
  - id: staff
    allow:
      or:
        - group: {has: staff}
`, addr, filepath.Join(t.TempDir(), "data"))
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	srv, err := Start(context.Background(), Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	return srv
}

// TestComplianceFollowsTheStore: the seeded baseline is in force; a
// compliance policy saved through the rules service is the posture
// engine's at once, and one written by another replica (a store record
// this server did not write) is applied at the next refresh, as the store
// watch does.
func TestComplianceFollowsTheStore(t *testing.T) {
	srv := startRulesServer(t)
	ids := func(ps []*posture.Policy) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	if got := ids(srv.posture.Config().Policies); !slices.Equal(got, []string{"baseline"}) {
		t.Fatalf("enforced at start = %v, want the seeded baseline", got)
	}
	ctx := context.Background()
	r, err := srv.rules.Put(ctx, rules.Actor{Name: "user:sec@example.com"}, rules.Change{Type: store.RuleCompliance, ID: "disks",
		Body: []byte("mode: report-only\nchecks: {disk_encryption: required}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(srv.posture.Config().ReportOnly); !slices.Equal(got, []string{"disks"}) {
		t.Fatalf("report-only after the write = %v, want disks", got)
	}
	other := *r
	other.Version, other.Author, other.Text = r.Version+1, "user:other-replica@example.com", "id: disks\nmode: enforce\nchecks: {disk_encryption: required}\n"
	if err := srv.store.Write(ctx, store.Put(&other)); err != nil {
		t.Fatal(err)
	}
	srv.refreshRules(ctx)
	if got := ids(srv.posture.Config().Policies); !slices.Equal(got, []string{"baseline", "disks"}) || len(srv.posture.Config().ReportOnly) != 0 {
		t.Errorf("enforced after the other replica's write = %v, want baseline and disks", got)
	}
	// A due scheduled promotion puts the policy in force on this server.
	if _, err := srv.rules.Put(ctx, rules.Actor{Name: "user:sec@example.com"}, rules.Change{Type: store.RuleCompliance, ID: "walls",
		Body: []byte("mode: report-only\nchecks: {firewall: required}\npromote_at: 2026-01-01T00:00:00Z\npromote_to: enforce\n")}); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.rules.Promote(ctx); n != 1 || err != nil {
		t.Fatalf("promotions = %d %v", n, err)
	}
	if got := ids(srv.posture.Config().Policies); !slices.Equal(got, []string{"baseline", "disks", "walls"}) {
		t.Errorf("enforced after the promotion = %v, want walls too", got)
	}
}
