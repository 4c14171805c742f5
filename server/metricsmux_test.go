package server

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/portier/portier/config"
)

// get answers a GET: status and body.
func get(t *testing.T, c *http.Client, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// pprofIndexText is what pprof's index page says.
const pprofIndexText = "Types of profiles available"

// Profiles are off by default: the metrics listener serves /metrics and
// nothing else.
func TestPprofOffByDefault(t *testing.T) {
	_, _, maddr, _ := serveWithMetrics(t, "", nil)
	if code, body := get(t, http.DefaultClient, "http://"+maddr+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "portier_store_sequence") {
		t.Errorf("/metrics: %d", code)
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/"} {
		if code, body := get(t, http.DefaultClient, "http://"+maddr+p, ""); code != http.StatusNotFound || strings.Contains(body, pprofIndexText) {
			t.Errorf("metrics listener %s: %d, want 404", p, code)
		}
	}
}

// With metrics_pprof on, the metrics listener serves the profiles; the
// public listener never does, for the console's host or a route's.
func TestPprofOnMetricsListenerOnly(t *testing.T) {
	_, addr, maddr, _ := serveWithMetrics(t, "metrics_pprof: \"on\"\n", nil)
	if code, body := get(t, http.DefaultClient, "http://"+maddr+"/debug/pprof/", ""); code != http.StatusOK || !strings.Contains(body, pprofIndexText) {
		t.Errorf("metrics listener /debug/pprof/: %d", code)
	}
	if code, body := get(t, http.DefaultClient, "http://"+maddr+"/debug/pprof/goroutine?debug=1", ""); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile: %d", code)
	}
	if code, _ := get(t, http.DefaultClient, "http://"+maddr+"/metrics", ""); code != http.StatusOK {
		t.Errorf("/metrics: %d", code)
	}
	public := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // test server
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, host := range []string{"localhost:8443", "demo.localhost:8443", "unknown.example"} {
		for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1"} {
			code, body := get(t, public, "https://"+addr+p, host)
			if code == http.StatusOK || strings.Contains(body, pprofIndexText) || strings.Contains(body, "goroutine profile") {
				t.Errorf("public listener, host %s, %s: %d with a profile", host, p, code)
			}
		}
	}
}

// metrics_pprof comes from the file, PORTIER_METRICS_PPROF or
// --metrics-pprof; it is on or off, and on needs the metrics listener.
func TestPprofSetting(t *testing.T) {
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	cfg, err := config.Load("", env(nil), nil)
	if err != nil || cfg.MetricsPprof != "off" {
		t.Fatalf("default: %q %v", cfg.MetricsPprof, err)
	}
	if cfg, err = config.Load("", env(map[string]string{"PORTIER_METRICS_PPROF": "on"}), nil); err != nil || cfg.MetricsPprof != "on" {
		t.Fatalf("env on: %v", err)
	}
	if cfg, err = config.Load("", env(map[string]string{"PORTIER_METRICS_PPROF": "on"}), map[string]string{"metrics-pprof": "off"}); err != nil || cfg.MetricsPprof != "off" {
		t.Fatalf("the flag beats the environment: %v", err)
	}
	if _, err = config.Load("", env(nil), map[string]string{"metrics-pprof": "yes"}); err == nil || !strings.Contains(err.Error(), "metrics_pprof") {
		t.Errorf("metrics-pprof yes: %v", err)
	}
	if _, err = config.Load("", env(nil), map[string]string{"metrics-pprof": "on", "metrics-listen": "off"}); err == nil || !strings.Contains(err.Error(), "metrics_listen is off") {
		t.Errorf("pprof without a metrics listener: %v", err)
	}
}
