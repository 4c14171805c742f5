package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store/pgstore/pgtest"
)

// doH is in.do with request headers (name, value pairs).
func (in *instance) doH(method, path, token, body string, hdr ...string) (*http.Response, string) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.url(path), strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

// outcome asks in's what-if (compiled with its proxy) for route.
func (in *instance) outcome(token, route, groups string) string {
	_, body := in.doH("POST", "/api/v1/policy/simulate", token, `{"route":"`+route+`","groups":"`+groups+`"}`)
	var r struct{ Decision struct{ Outcome string } }
	_ = json.Unmarshal([]byte(body), &r)
	return r.Decision.Outcome
}

// within polls cond until it holds or d has passed since from.
func within(t *testing.T, from time.Time, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Since(from) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s after %v", what, time.Since(from).Round(time.Millisecond))
}

// tlsHosts connects to in's listener as a browser opening host would, and
// returns the names its certificate covers; it fails the test when the
// certificate does not verify for host against Portier's root.
func tlsHosts(t *testing.T, in *instance, host string) []string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(in.rootPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+in.port,
		&tls.Config{RootCAs: pool, ServerName: host})
	if err != nil {
		t.Fatalf("TLS to %s on :%s: %v", host, in.port, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].DNSNames
}

// proxyStatus is the status of GET / on host through in's listener, as a
// browser without a session sees it (redirects not followed).
func proxyStatus(t *testing.T, in *instance, host string) int {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(in.rootPEM)
	c := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+in.port)
			},
		},
	}
	resp, err := c.Get("https://" + host + ":" + in.port + "/")
	if err != nil {
		t.Fatalf("GET https://%s:%s/: %v", host, in.port, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRulesTwoReplicasOnPostgres: a policy saved through one replica is
// enforced by the other within 1 s, a route created through the API is
// served over TLS at once by both, and two writers holding the same ETag
// get one success and one 412.
func TestRulesTwoReplicasOnPostgres(t *testing.T) {
	env := pgEnv(t, pgtest.DSN(t))
	tok := env["PORTIER_BOOTSTRAP_TOKEN"]
	a := start(t, t.TempDir(), env)
	b := start(t, t.TempDir(), env)

	host := "wiki.example.test"
	route := "https://" + host + ":" + b.port + "/"
	if resp, body := a.doH("PUT", "/api/v1/policies/staff", tok, "allow:\n  or:\n    - group: {has: staff}\ncomment: first\n"); resp.StatusCode != 201 {
		t.Fatalf("create the policy on A = %d %s", resp.StatusCode, body)
	}
	resp, body := a.doH("PUT", "/api/v1/routes/wiki", tok, "from: https://"+host+":"+b.port+"\nto: http://127.0.0.1:9\npolicy: staff\n")
	if resp.StatusCode != 201 {
		t.Fatalf("create the route on A = %d %s", resp.StatusCode, body)
	}
	written := time.Now()
	within(t, written, time.Second, "B allows staff on the route made on A", func() bool { return b.outcome(tok, route, "staff") == "allow" })
	within(t, written, time.Second, "B's certificate covers the new route host", func() bool {
		return slices.Contains(tlsHosts(t, b, "localhost"), host)
	})
	tlsHosts(t, b, host) // verifies for the new host
	// B's proxy serves the route: a request without a session is refused
	// as unauthenticated, where an unknown host would get 404.
	within(t, written, time.Second, "B's proxy guards the new route", func() bool {
		return proxyStatus(t, b, host) == http.StatusUnauthorized
	})

	// A route on A's own port: A serves it over TLS as soon as the PUT returns.
	resp, body = a.doH("PUT", "/api/v1/routes/wiki-a", tok, "from: https://wiki-a.example.test:"+a.port+"\nto: http://127.0.0.1:9\npolicy: staff\n")
	if resp.StatusCode != 201 {
		t.Fatalf("create a second route on A = %d %s", resp.StatusCode, body)
	}
	tlsHosts(t, a, "wiki-a.example.test")

	// An edit on A is enforced by B within 1 s.
	resp, body = a.doH("PUT", "/api/v1/policies/staff", tok, "allow:\n  or:\n    - group: {has: ops}\n", "If-Match", `"1"`)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"2"` {
		t.Fatalf("edit on A = %d %s %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	written = time.Now()
	within(t, written, time.Second, "B denies staff after the edit on A", func() bool { return b.outcome(tok, route, "staff") == "deny" })

	// Two writers, one on each replica, both holding version 2.
	within(t, written, 5*time.Second, "B serves version 2", func() bool {
		resp, _ := b.doH("GET", "/api/v1/policies/staff", tok, "")
		return resp.Header.Get("ETag") == `"2"`
	})
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i, in := range []*instance{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := in.doH("PUT", "/api/v1/policies/staff", tok, "allow:\n  or:\n    - group: {has: writer"+string(rune('a'+i))+"}\n", "If-Match", `"2"`)
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	slices.Sort(codes)
	if codes[0] != 200 || codes[1] != 412 {
		t.Fatalf("two PUTs with the same If-Match = %v, want one 200 and one 412", codes)
	}
	resp, body = b.doH("GET", "/api/v1/policies/staff/versions", tok, "")
	if resp.StatusCode != 200 || strings.Count(body, `"version":`) != 3 {
		t.Errorf("versions after three writes = %d %s", resp.StatusCode, body)
	}
}

// TestPolicyApplyExportRoundTrip: apply pushes a file's routes, policies
// and compliance policies (a scheduled promotion included), export prints
// them back, and applying the export changes nothing. Rules the file
// lacks are listed and kept, and deleted (audited) only with --prune.
func TestPolicyApplyExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tok := strings.Repeat("g", 40)
	in := start(t, filepath.Join(dir, "data"), map[string]string{"PORTIER_BOOTSTRAP_TOKEN": tok})
	ca := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(ca, in.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PORTIER_TOKEN": tok, "PORTIER_SERVER": "https://localhost:" + in.port, "PORTIER_CA_FILE": ca}
	file := filepath.Join(dir, "rules.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`routes:
  - id: wiki
    from: https://wiki.example.test:` + in.port + `
    to: http://127.0.0.1:9
    policy: staff
policies:
  - id: staff
    mode: report-only
    promote_at: 2030-01-31T09:00:00Z
    promote_to: enforce
    allow:
      or:
        - group: {has: staff}
compliance:
  - id: disks
    mode: report-only
    checks: {disk_encryption: required}
`)
	code, out, errOut := run(t, env, "policy", "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "policy staff: created (version 1)") || !strings.Contains(out, "route wiki: created (version 1)") ||
		!strings.Contains(out, "compliance disks: created (version 1)") {
		t.Fatalf("apply = %d\n%s\n%s", code, out, errOut)
	}
	code, exported, errOut := run(t, env, "policy", "export")
	if code != 0 || !strings.Contains(exported, "mode: report-only") || !strings.Contains(exported, "id: wiki") ||
		!strings.Contains(exported, "promote_at: 2030-01-31T09:00:00Z") || !strings.Contains(exported, "promote_to: enforce") ||
		!strings.Contains(exported, "id: disks") || !strings.Contains(exported, "id: baseline") {
		t.Fatalf("export = %d\n%s\n%s", code, exported, errOut)
	}
	write(exported)
	code, out, errOut = run(t, env, "policy", "apply", "-f", file)
	if code != 0 || strings.Count(out, "unchanged") != 4 { // staff, wiki, the seeded baseline, disks
		t.Fatalf("applying the export = %d\n%s\n%s", code, out, errOut)
	}
	if code, again, _ := run(t, env, "policy", "export"); code != 0 || again != exported {
		t.Errorf("a second export differs:\n%s\nvs\n%s", again, exported)
	}
	write(strings.Replace(exported, "has: staff", "has: ops", 1))
	code, out, errOut = run(t, env, "policy", "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "policy staff: updated (version 1 → 2)") || !strings.Contains(out, "route wiki: unchanged") {
		t.Fatalf("apply of a change = %d\n%s\n%s", code, out, errOut)
	}
	// A changed promotion date is a change.
	code, out, errOut = run(t, env, "policy", "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "policy staff: unchanged (version 2)") {
		t.Fatalf("apply again = %d\n%s\n%s", code, out, errOut)
	}
	write(strings.Replace(strings.Replace(exported, "has: staff", "has: ops", 1), "2030-01-31", "2030-02-28", 1))
	code, out, errOut = run(t, env, "policy", "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "policy staff: updated (version 2 → 3)") {
		t.Fatalf("apply of a new promotion date = %d\n%s\n%s", code, out, errOut)
	}
	if resp, body := in.doH("GET", "/api/v1/policies/staff", tok, ""); !strings.Contains(body, `"promote_at":"2030-02-28T09:00:00Z"`) {
		t.Errorf("the promotion was not applied: %d %s", resp.StatusCode, body)
	}

	// Rules the file lacks: listed and kept; deleted with --prune.
	if resp, body := in.doH("PUT", "/api/v1/policies/extra", tok, "allow:\n  or:\n    - group: {has: x}\n"); resp.StatusCode != 201 {
		t.Fatalf("PUT extra = %d %s", resp.StatusCode, body)
	}
	if resp, body := in.doH("PUT", "/api/v1/routes/extra", tok, "from: https://extra.example.test:"+in.port+"\nto: http://127.0.0.1:9\npolicy: extra\n"); resp.StatusCode != 201 {
		t.Fatalf("PUT extra route = %d %s", resp.StatusCode, body)
	}
	code, out, errOut = run(t, env, "policy", "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "route extra: not in the file, kept (version 1; --prune deletes it)") ||
		!strings.Contains(out, "policy extra: not in the file, kept") {
		t.Fatalf("apply without --prune = %d\n%s\n%s", code, out, errOut)
	}
	if resp, _ := in.doH("GET", "/api/v1/routes/extra", tok, ""); resp.StatusCode != 200 {
		t.Fatalf("apply without --prune deleted the route: %d", resp.StatusCode)
	}
	code, out, errOut = run(t, env, "policy", "apply", "--prune", "-f", file)
	if code != 0 || !strings.Contains(out, "route extra: deleted (was version 1)\npolicy extra: deleted (was version 1)") || !strings.Contains(out, "policy staff: unchanged") {
		t.Fatalf("apply --prune = %d\n%s\n%s", code, out, errOut)
	}
	for _, p := range []string{"/api/v1/routes/extra", "/api/v1/policies/extra"} {
		if resp, _ := in.doH("GET", p, tok, ""); resp.StatusCode != 404 {
			t.Errorf("after --prune GET %s = %d", p, resp.StatusCode)
		}
	}
	if _, body := in.doH("GET", "/api/v1/audit?action=route.delete", tok, ""); !strings.Contains(body, `"target":"route/extra"`) || !strings.Contains(body, "pruned by portier policy apply --prune") {
		t.Errorf("the prune is not audited: %s", body)
	}
	if resp, _ := in.doH("GET", "/api/v1/policies/staff", tok, ""); resp.StatusCode != 200 {
		t.Errorf("--prune deleted a rule of the file: %d", resp.StatusCode)
	}
	write("routes: []\n")
	if code, _, errOut = run(t, env, "policy", "apply", "--prune", "-f", file); code != ExitUsage || !strings.Contains(errOut, "refusing") {
		t.Errorf("--prune of an empty file = %d %s", code, errOut)
	}

	write("policies:\n  - id: broken\n    allow:\n      or:\n        - grop: {has: x}\n")
	code, _, errOut = run(t, env, "policy", "apply", "-f", file)
	if code == 0 || !strings.Contains(errOut, "grop") {
		t.Errorf("apply of a broken policy = %d %s, want a failure naming the field", code, errOut)
	}
	if code, _, _ := run(t, map[string]string{"PORTIER_SERVER": env["PORTIER_SERVER"]}, "policy", "export"); code != ExitUsage {
		t.Errorf("export without PORTIER_TOKEN = %d, want %d", code, ExitUsage)
	}
}

// TestConfigRulesSeedThenRefuse: the config file's routes and policies
// seed the store; a restart with different ones is refused naming
// file:line, unless config_policies: file keeps the file authoritative.
func TestConfigRulesSeedThenRefuse(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	data := filepath.Join(dir, "data")
	tok := strings.Repeat("s", 40)
	env := map[string]string{"PORTIER_BOOTSTRAP_TOKEN": tok}
	cfgPath := writeConfig(t, dir, port, whatIfConfig[len("\nconfig_policies: file"):])
	in := launchOn(t, port, data, env, "--config", cfgPath)
	waitHealthy(t, in)
	resp, body := in.doH("GET", "/api/v1/policies/staff", tok, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"author":"config file"`) {
		t.Fatalf("seeded policy = %d %s", resp.StatusCode, body)
	}
	if in.stop() != 0 {
		t.Fatal("stop failed")
	}
	changed := strings.Replace(whatIfConfig[len("\nconfig_policies: file"):], "gte: medium", "gte: high", 1)
	writeConfig(t, dir, port, changed)
	code, _, errOut := run(t, env, "serve", "--config", cfgPath, "--data-dir", data, "--listen", "127.0.0.1:"+port,
		"--external-url", "https://localhost:"+port, "--metrics-listen", "127.0.0.1:"+freePort(t))
	if code == 0 || !strings.Contains(errOut, cfgPath+":") || !strings.Contains(errOut, `policy "staff" differs from the store's version 1`) {
		t.Fatalf("restart with changed policies = %d %s, want a refusal naming the file and line", code, errOut)
	}
	in = launchOn(t, port, data, env, "--config", cfgPath, "--config-policies", "file")
	waitHealthy(t, in)
	resp, body = in.doH("GET", "/api/v1/policies/staff", tok, "")
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"2"` || !strings.Contains(body, "gte: high") {
		t.Fatalf("with config_policies: file the file's policy is version 2: %d %s", resp.StatusCode, body)
	}
	resp, body = in.doH("PUT", "/api/v1/policies/staff", tok, "allow: {or: [{group: {has: x}}]}\n", "If-Match", `"2"`)
	if resp.StatusCode != 409 || !strings.Contains(body, "config_policies: file") {
		t.Errorf("API write while the file is authoritative = %d %s, want 409 naming the setting", resp.StatusCode, body)
	}
	resp, body = in.doH("GET", "/api/v1/audit?action=policy.*", tok, "")
	if !strings.Contains(body, `"action":"policy.update"`) || !strings.Contains(body, `"actor":"config file"`) {
		t.Errorf("the file's change is not audited: %s", body)
	}
}
