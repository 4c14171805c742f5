package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const whatIfConfig = `
config_policies: file
routes:
  - from: https://wiki.localhost:PORT
    to: http://127.0.0.1:9
    policy: staff
policies:
  - id: staff
    session_max_age: 8h
    allow:
      and:
        - group: {has: staff}
        - device: {trust: {gte: medium}}
    deny:
      or:
        - id: blocked-country
          country: {in: [KP]}
`

func writeConfig(t *testing.T, dir, port, body string) string {
	t.Helper()
	p := filepath.Join(dir, "portier.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "PORT", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyLint(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "8443", whatIfConfig)
	if code, out, errOut := run(t, nil, "policy", "lint", good); code != 0 || !strings.Contains(out, "ok (1 policies, 1 routes)") {
		t.Errorf("lint good = %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("routes:\n  - from: https://a.localhost\n    to: http://127.0.0.1:9\n    policy: nope\npolicies:\n  - id: x\n    allow:\n      and:\n        - grup: {has: staff}\n"), 0o600)
	code, _, errOut := run(t, nil, "policy", "lint", bad)
	if code != 2 || !strings.Contains(errOut, bad+":9:") {
		t.Errorf("lint bad = %d %q, want exit 2 naming line 9", code, errOut)
	}
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("policies:\n  - id: x\n    allow:\n      and:\n        - device: {check: disk_encryptd}\n"), 0o600)
	code, _, errOut = run(t, nil, "policy", "lint", typo)
	if code != 2 || !strings.Contains(errOut, typo+":5: unknown compliance check \"disk_encryptd\"") {
		t.Errorf("lint check typo = %d %q", code, errOut)
	}
	age := filepath.Join(dir, "age.yaml")
	os.WriteFile(age, []byte("policies:\n  - id: x\n    allow:\n      - group: staff\n        session_max_age: 8 hours\n"), 0o600)
	code, _, errOut = run(t, nil, "policy", "lint", age)
	if code != 2 || !strings.Contains(errOut, age+":5:") || !strings.Contains(errOut, "session_max_age: bad duration") {
		t.Errorf("lint bad session_max_age = %d %q, want exit 2 naming line 5", code, errOut)
	}
	comp := filepath.Join(dir, "compliance.yaml")
	os.WriteFile(comp, []byte("compliance:\n  - id: base\n    disk_encryption: sometimes\n"), 0o600)
	if code, _, errOut := run(t, nil, "policy", "lint", comp); code != 2 || !strings.Contains(errOut, comp+":3") {
		t.Errorf("lint bad compliance = %d %q, want exit 2 naming line 3", code, errOut)
	}
}

// TestWhatIfCLIAndAPIAgree asks the same question through `portier policy
// test` and POST /api/v1/policy/simulate of a server running that config.
func TestWhatIfCLIAndAPIAgree(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port, whatIfConfig)
	token := strings.Repeat("w", 40)
	in := launchOn(t, port, filepath.Join(dir, "data"), map[string]string{"PORTIER_BOOTSTRAP_TOKEN": token}, "--config", cfgPath)
	waitHealthy(t, in)
	route := "https://wiki.localhost:" + port + "/page"
	cases := []struct {
		args []string
		body string
		code int
	}{
		{[]string{"--groups", "staff", "--device-trust", "high", "--ownership", "corporate"}, `"groups":"staff","device_trust":"high","ownership":"corporate"`, 0},
		{[]string{"--groups", "staff", "--device-trust", "low"}, `"groups":"staff","device_trust":"low"`, 1},
		{[]string{"--groups", "staff", "--device-trust", "high", "--country", "KP"}, `"groups":"staff","device_trust":"high","country":"KP"`, 1},
		{[]string{"--groups", "sales"}, `"groups":"sales"`, 1},
		{[]string{"--groups", "staff", "--device-trust", "high", "--session-age", "7h"}, `"groups":"staff","device_trust":"high","session_age":"7h"`, 0},
		{[]string{"--groups", "staff", "--device-trust", "high", "--session-age", "9h"}, `"groups":"staff","device_trust":"high","session_age":"9h"`, 1},
	}
	for _, tc := range cases {
		args := append([]string{"policy", "test", "--config", cfgPath, "--route", route, "--json", "--email", "a@example.com", "--at", "2026-11-27T10:00:00Z"}, tc.args...)
		code, out, errOut := run(t, nil, args...)
		if code != tc.code {
			t.Errorf("%v: exit %d (%s), want %d", tc.args, code, errOut, tc.code)
		}
		var cli, api map[string]any
		if err := json.Unmarshal([]byte(out), &cli); err != nil {
			t.Fatalf("CLI JSON %q: %v", out, err)
		}
		resp, body := in.do("POST", "/api/v1/policy/simulate", token, `{"route":"`+route+`","email":"a@example.com","at":"2026-11-27T10:00:00Z",`+tc.body+`}`)
		if resp.StatusCode != 200 {
			t.Fatalf("API = %d %s", resp.StatusCode, body)
		}
		json.Unmarshal([]byte(body), &api)
		cj, _ := json.Marshal(cli)
		aj, _ := json.Marshal(api)
		if string(cj) != string(aj) {
			t.Errorf("%v:\nCLI %s\nAPI %s", tc.args, cj, aj)
		}
	}
	resp, body := in.do("POST", "/api/v1/policy/simulate", token, `{"route":"`+route+`","device_trust":"extreme"}`)
	if resp.StatusCode != 400 || !strings.Contains(body, `"field":"device_trust"`) {
		t.Errorf("bad trust = %d %s", resp.StatusCode, body)
	}
	resp, body = in.do("POST", "/api/v1/policy/simulate", token, `{"route":"`+route+`","session_age":"long"}`)
	if resp.StatusCode != 400 || !strings.Contains(body, `"field":"session_age"`) {
		t.Errorf("bad session_age = %d %s", resp.StatusCode, body)
	}
	if resp, _ := in.do("POST", "/api/v1/policy/simulate", "", `{}`); resp.StatusCode != 401 {
		t.Errorf("simulate without a token = %d", resp.StatusCode)
	}

	// SIGHUP: a new policy applies without a restart; a broken file changes nothing.
	writeConfig(t, dir, port, strings.Replace(whatIfConfig, "gte: medium", "gte: high", 1))
	sighup(t)
	ask := func() string {
		_, body := in.do("POST", "/api/v1/policy/simulate", token, `{"route":"`+route+`","groups":"staff","device_trust":"medium"}`)
		var r struct{ Decision struct{ Outcome string } }
		json.Unmarshal([]byte(body), &r)
		return r.Decision.Outcome
	}
	deadline := time.Now().Add(5 * time.Second)
	for ask() != "deny" {
		if time.Now().After(deadline) {
			t.Fatal("the reloaded policy did not apply")
		}
		time.Sleep(50 * time.Millisecond)
	}
	writeConfig(t, dir, port, "routes: [\n")
	sighup(t)
	time.Sleep(300 * time.Millisecond)
	if got := ask(); got != "deny" {
		t.Errorf("after a broken reload the decision is %q; the running config must stay", got)
	}
	if !strings.Contains(in.stderr.String(), "config reload failed") {
		t.Error("the failed reload was not logged")
	}
	// The good reload is audited, with the version it wrote; the policy's
	// history says who changed it.
	_, body = in.do("GET", "/api/v1/audit?action=config.reload", token, "")
	if strings.Count(body, `"action":"config.reload"`) != 1 || !strings.Contains(body, `"rules_written":"1"`) {
		t.Errorf("audit of the reloads = %s, want one config.reload that wrote 1 rule", body)
	}
	_, body = in.do("GET", "/api/v1/policies/staff/versions", token, "")
	if !strings.Contains(body, `"version":2`) || !strings.Contains(body, `"author":"config file"`) || !strings.Contains(body, "+    - device: {trust: {gte: high}}") {
		t.Errorf("versions after the reload = %s", body)
	}
}
