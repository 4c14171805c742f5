package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
	dto "github.com/prometheus/client_model/go"
)

// TestBrokenRuleKeepsLastGood: a rule record that does not compile (written
// past the API's validation, e.g. by hand or by a newer version) never
// takes the running rules down: the last good compile stays, and the
// error is counted.
func TestBrokenRuleKeepsLastGood(t *testing.T) {
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
	srv, err := Start(context.Background(), Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: time.Now, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
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
