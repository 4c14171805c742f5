package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/portier/portier/proxy"
)

// registeredMetrics lists the metric names Portier's metrics listener can
// serve. The server's registry (server/metrics.go) is unexported, so:
//   - the Go and process collectors are built as the server builds them and
//     gathered;
//   - the proxy's metrics are registered with proxy.NewMetrics and described;
//   - the portier_ names of the server come from its sources
//     (Name: "portier_…").
//
// Plus "up", which Prometheus records for every scrape, and the error
// counter promhttp registers because the server's handler is given its
// registry (HandlerOpts.Registry).
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{"up": true, "promhttp_metric_handler_errors_total": true}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	proxy.NewMetrics(reg)
	proxy.NewRecorder(proxy.RecorderOptions{Registerer: reg}) // its counters; never started
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, suffix := range []string{"_sum", "_count", "_bucket"} {
			if mf.GetType() == 2 || mf.GetType() == 4 || mf.GetType() == 5 { // summary, histogram, gauge histogram
				names[mf.GetName()+suffix] = true
			}
		}
	}
	descs := make(chan *prometheus.Desc, 100)
	go func() { reg.Describe(descs); close(descs) }()
	fq := regexp.MustCompile(`fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)"`)
	for d := range descs {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	src, err := filepath.Glob("../*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`Name:\s*"(portier_[a-z0-9_]+)"`)
	// A histogram declared in the sources is also served as its _bucket,
	// _sum and _count series.
	histogram := regexp.MustCompile(`HistogramOpts\{\s*Name:\s*"(portier_[a-z0-9_]+)"`)
	for _, f := range src {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		for _, m := range histogram.FindAllStringSubmatch(string(b), -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+suffix] = true
			}
		}
	}
	for _, want := range []string{"portier_http_requests_total", "portier_store_sequence", "portier_decisions_total", "go_goroutines", "process_resident_memory_bytes"} {
		if !names[want] {
			t.Fatalf("the metric list lacks %s: the lookup is broken", want)
		}
	}
	return names
}

var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promNumbers  = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])[0-9][0-9a-zA-Z_.]*`) // numbers and durations (1h)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	e := promStrings.ReplaceAllString(expr, `""`)
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRanges.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	e = strings.ReplaceAll(e, "$__rate_interval", "")
	e = promNumbers.ReplaceAllString(e, "$1 ")
	var out []string
	for _, m := range promIdent.FindAllStringSubmatch(e, -1) {
		name := m[0]
		if m[1] != "" || promKeywords[strings.ToLower(name)] { // a function call or a keyword
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNamesOfPromQL(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="portier"} == 0`, []string{"up"}},
		{`sum by (instance) (rate(portier_http_requests_total{code=~"5.."}[5m])) / sum(rate(x_total[$__rate_interval]))`, []string{"portier_http_requests_total", "x_total"}},
		{`max by (job) (a) - on (job) group_right b > 0 and changes(c[10m]) == 0`, []string{"a", "b", "c"}},
		{`rate(d{l="and or"}[1d] offset 1h) > 0.05 * e2`, []string{"d", "e2"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// checkExpr fails when expr uses a metric Portier does not register.
func checkExpr(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: %q selects no metric", where, expr)
	}
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s uses %s, which Portier does not register", where, n)
		}
	}
}

// outcomeLabels checks portier_decisions_total outcome values against the
// names Portier writes.
var outcomeMatcher = regexp.MustCompile(`outcome=~?"([^"]*)"`)

func checkOutcomes(t *testing.T, where, expr string) {
	t.Helper()
	for _, m := range outcomeMatcher.FindAllStringSubmatch(expr, -1) {
		if !slices.Contains([]string{"deny", "allow", "step-up", "allow-restricted"}, m[1]) {
			t.Errorf("%s matches outcome %q, which Portier never writes", where, m[1])
		}
	}
}

func TestAlertRulesUseRegisteredMetrics(t *testing.T) {
	known := registeredMetrics(t)
	rules := readYAMLMap(t, "prometheus/portier-alerts.yml")
	seen := map[string]bool{}
	n := 0
	for _, g := range rules["groups"].([]any) {
		for _, r := range dig(g, "rules").([]any) {
			n++
			name, _ := dig(r, "alert").(string)
			expr, _ := dig(r, "expr").(string)
			if name == "" || expr == "" {
				t.Fatalf("rule %v lacks alert or expr", r)
			}
			if seen[name] {
				t.Errorf("alert %s defined twice", name)
			}
			seen[name] = true
			if sev := dig(r, "labels", "severity"); sev != "warning" && sev != "critical" {
				t.Errorf("%s: severity %v", name, sev)
			}
			if dig(r, "annotations", "summary") == nil || dig(r, "annotations", "description") == nil {
				t.Errorf("%s lacks a summary or description", name)
			}
			checkExpr(t, "alert "+name, expr, known)
			checkOutcomes(t, "alert "+name, expr)
		}
	}
	for _, want := range []string{"PortierInstanceDown", "PortierHighErrorRate", "PortierDenySpike", "PortierStoreSequenceStalled",
		"PortierReplicaBeyondStalenessBound", "PortierReplicaMissing", "PortierDatabaseUnreachable", "PortierDatabasePoolExhausted",
		"PortierActionQueueStuck", "PortierCertificateExpiresIn30Days", "PortierCertificateExpiresIn14Days", "PortierCertificateExpiresIn7Days"} {
		if !seen[want] {
			t.Errorf("alert %s is missing", want)
		}
	}
}

func TestGrafanaDashboardUsesRegisteredMetrics(t *testing.T) {
	known := registeredMetrics(t)
	b, err := os.ReadFile("grafana/portier.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID         int    `json:"id"`
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("portier.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no title, uid or panels")
	}
	var vars []string
	for _, v := range dash.Templating.List {
		vars = append(vars, v.Name)
	}
	sort.Strings(vars)
	if !slices.Equal(vars, []string{"datasource", "job"}) {
		t.Errorf("dashboard variables = %v, want datasource and job", vars)
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		where := "panel " + p.Title
		if ids[p.ID] {
			t.Errorf("%s: duplicate id %d", where, p.ID)
		}
		ids[p.ID] = true
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource %q, want the ${datasource} variable", where, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s has no query", where)
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, `job="$job"`) {
				t.Errorf("%s: %q ignores the job variable", where, q.Expr)
			}
			checkExpr(t, where, q.Expr, known)
			checkOutcomes(t, where, q.Expr)
			for _, n := range metricNames(q.Expr) {
				used[n] = true
			}
		}
	}
	for _, want := range []string{"portier_http_requests_total", "portier_decisions_total", "portier_store_sequence", "up",
		"portier_store_staleness_seconds", "portier_cluster_replicas", "portier_store_pool_acquired_connections",
		"portier_mdm_actions_stuck", "portier_http_request_duration_seconds_bucket", "portier_decision_duration_seconds_bucket"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// The alert rules fire on the scenarios they are for, and stay quiet on a
// healthy cluster (prometheus/portier-alerts.test.yml), checked with
// promtool: skips without it, fails with PORTIER_TEST_REQUIRE_ALL=1 (.ci/run
// installs Debian's prometheus package, which has promtool).
func TestAlertRulesFireOnTheirScenarios(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("promtool is not installed and PORTIER_TEST_REQUIRE_ALL=1")
		}
		t.Skip("promtool is not installed (apt-get install prometheus): the alert rules are not evaluated here")
	}
	for _, args := range [][]string{
		{"check", "rules", "portier-alerts.yml"},
		{"test", "rules", "portier-alerts.test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
