package deploy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/server"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChartServer runs Portier with the config, flags and environment the
// chart renders, on loopback ports and the embedded store instead of the
// pod's ports and PostgreSQL.
func startChartServer(t *testing.T, ms []manifest) (*server.Server, map[string]any) {
	t.Helper()
	c := container(t, ms)
	args := argList(c)
	flags := map[string]string{}
	for i := 1; i+1 < len(args); i += 2 {
		flags[strings.TrimPrefix(args[i], "--")] = args[i+1]
	}
	delete(flags, "config")
	flags["listen"], flags["metrics-listen"] = freeAddr(t), freeAddr(t)
	return startPortier(t, dig(one(t, ms, "ConfigMap"), "data", "portier.yaml").(string), flags), c
}

// startPortier runs Portier with the given config file contents and flags
// (its data dir in a temporary folder) until the test ends.
func startPortier(t *testing.T, yamlConfig string, flags map[string]string) *server.Server {
	t.Helper()
	return startPortierEnv(t, yamlConfig, flags, func(string) string { return "" })
}

// startPortierEnv is startPortier with an environment.
func startPortierEnv(t *testing.T, yamlConfig string, flags map[string]string, env func(string) string) *server.Server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "portier.yaml")
	if err := os.WriteFile(file, []byte(yamlConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	flags["data-dir"] = filepath.Join(t.TempDir(), "data")
	cfg, err := config.Load(file, env, flags)
	if err != nil {
		t.Fatal(err)
	}
	pols, err := server.CompilePolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(context.Background(), server.Options{Config: cfg, Policies: pols, Log: log, Clock: time.Now, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv
}

// probe sends an HTTPS GET as kubelet and HAProxy do: to the address, no
// SNI, certificate not verified, with the given Host header.
func probe(t *testing.T, addr, path, host string) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as kubelet's HTTPS probes
	}}
	req, err := http.NewRequest("GET", "https://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("probe %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The chart's probes, sent to a Portier running the chart's config, get
// 200; the same request without the chart's Host header gets 404, which
// is why the chart (and haproxy.cfg) send it.
func TestHelmProbesAgainstARunningServer(t *testing.T) {
	srv, c := startChartServer(t, renderChart(t, map[string]any{"externalURL": "https://access.example.com"}))
	for _, p := range []string{"livenessProbe", "readinessProbe"} {
		g := dig(c, p, "httpGet")
		path := dig(g, "path").(string)
		host := dig(g, "httpHeaders", 0, "value").(string)
		if code := probe(t, srv.Addr(), path, host); code != http.StatusOK {
			t.Errorf("%s GET %s Host %s = %d, want 200", p, path, host, code)
		}
		if code := probe(t, srv.Addr(), path, ""); code != http.StatusNotFound {
			t.Errorf("%s without the Host header = %d, want 404", p, code)
		}
	}
	// Every metric the running server serves is in the list the alert and
	// dashboard tests check against.
	known := registeredMetrics(t)
	resp, err := http.Get("http://" + srv.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]
		served[name] = true
		if !known[name] {
			t.Errorf("the server serves %s, which the metric list lacks", name)
		}
	}
	for _, want := range []string{"portier_http_requests_total", "portier_store_sequence", "go_goroutines"} {
		if !served[want] {
			t.Errorf("the server does not serve %s", want)
		}
	}
}
