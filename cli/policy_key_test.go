package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const keyConfig = `
routes:
  - from: https://hr.localhost:8443
    to: http://127.0.0.1:9000
    policy: hr
policies:
  - id: hr
    allow:
      and:
        - device: {ownership: corporate, trust: {gte: high}, key: hardware}
`

// TestPolicyKeyProtection: lint knows the device key criterion, and the
// what-if answers for a hardware or software key.
func TestPolicyKeyProtection(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "8443", keyConfig)
	if code, out, errOut := run(t, nil, "policy", "lint", cfg); code != 0 || !strings.Contains(out, "ok (1 policies, 1 routes)") {
		t.Errorf("lint = %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(keyConfig, "key: hardware", "key: tpm", 1)), 0o600)
	if code, _, errOut := run(t, nil, "policy", "lint", bad); code != 2 || !strings.Contains(errOut, bad+":10:") || !strings.Contains(errOut, "hardware, attested or software") {
		t.Errorf("lint key: tpm = %d %q, want exit 2 naming line 10", code, errOut)
	}
	base := []string{"policy", "test", "--config", cfg, "--route", "https://hr.localhost:8443/", "--email", "a@example.com",
		"--device-trust", "high", "--ownership", "corporate"}
	for _, tc := range []struct {
		key  []string
		code int
		out  string
	}{
		{[]string{"--key-protection", "hardware"}, 0, "allow"},
		{[]string{"--key-protection", "software"}, 1, "kept in hardware"},
		{nil, 1, "kept in hardware"},
		{[]string{"--key-protection", "tpm"}, 2, "key_protection"},
	} {
		code, out, errOut := run(t, nil, append(base, tc.key...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.out) {
			t.Errorf("%v: exit %d, want %d containing %q\n%s%s", tc.key, code, tc.code, tc.out, out, errOut)
		}
	}
}
