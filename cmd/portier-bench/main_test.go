package main

import (
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/server"
)

// TestPortierConfigCompiles keeps the benchmark's configuration valid as
// the configuration and policy language evolve.
func TestPortierConfigCompiles(t *testing.T) {
	src := portierConfig(t.TempDir(), "127.0.0.1:9")
	if n := strings.Count(src, "      - id: "); n != routeCount*rulesPerPolicy {
		t.Errorf("%d rules, want %d", n, routeCount*rulesPerPolicy)
	}
	cfg, err := config.Parse("portier-bench.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pols, err := server.CompilePolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) != routeCount {
		t.Errorf("%d policies, want %d", len(pols), routeCount)
	}
}

func TestRatios(t *testing.T) {
	r := func(rps, share float64) result {
		return result{requests: int(rps), elapsed: time.Second, cpuShare: share}
	}
	cases := []struct {
		name   string
		p, b   []result
		suffix string
	}{
		{"median of undisturbed rounds", []result{r(90, 0.95), r(50, 0.5), r(95, 0.97)}, []result{r(100, 0.96), r(100, 0.96), r(100, 0.95)}, "median of 2 undisturbed round(s) 0.93×: meets"},
		{"misses", []result{r(80, 0.95)}, []result{r(100, 0.95)}, "median of 1 undisturbed round(s) 0.80×: MISSES"},
		{"no verdict when disturbed", []result{r(120, 0.95)}, []result{r(100, 0.5)}, "inconclusive: no round in which both had ≥ 90% of the CPUs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb, bb := c.p[0], c.b[0]
			for i := range c.p {
				if c.p[i].rps() > pb.rps() {
					pb = c.p[i]
				}
				if c.b[i].rps() > bb.rps() {
					bb = c.b[i]
				}
			}
			if got := ratios(pb, bb, c.p, c.b, 0.9); !strings.HasSuffix(got, c.suffix) {
				t.Errorf("got %q, want it to end with %q", got, c.suffix)
			}
		})
	}
}
