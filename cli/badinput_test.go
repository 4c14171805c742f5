package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	code := Run(context.Background(), args, envFrom(env), &out, &errb)
	return code, out.String(), errb.String()
}

func TestServeRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broken := write("broken.yaml", "listen: \":8443\"\nroutes:\n  - from: [\n")
	unknown := write("unknown.yaml", "external_url: https://localhost:8443\nlistne: \":1\"\n")
	notDir := write("plainfile", "x")
	corruptDir := filepath.Join(dir, "corrupt")
	if err := os.MkdirAll(corruptDir, 0o700); err != nil {
		t.Fatal(err)
	}
	write("corrupt/portier.db", strings.Repeat("garbage!", 4096))

	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"broken YAML", nil, []string{"serve", "--config", broken}, 2, broken + ":3"},
		{"unknown key", nil, []string{"serve", "--config", unknown}, 2, unknown + `:2: unknown key "listne"`},
		{"missing config", nil, []string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, 2, "cannot read config"},
		{"config from env", map[string]string{"PORTIER_CONFIG": unknown}, []string{"serve"}, 2, `unknown key "listne"`},
		{"unwritable data dir", nil, []string{"serve", "--data-dir", filepath.Join(notDir, "data"), "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, 1, "cannot create it"},
		{"corrupt store", nil, []string{"serve", "--data-dir", corruptDir, "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, 1, "is corrupt"},
		{"unreachable PostgreSQL", map[string]string{"PORTIER_STORE": "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "PORTIER_CA_KEY_PASSWORD": strings.Repeat("p", 32)},
			[]string{"serve", "--data-dir", filepath.Join(dir, "pg"), "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, 1, "127.0.0.1:1"},
		{"short bootstrap token", map[string]string{"PORTIER_BOOTSTRAP_TOKEN": "short"},
			[]string{"serve", "--data-dir", filepath.Join(dir, "boot"), "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, 1, "at least 32 characters"},
		{"unknown command", nil, []string{"serv"}, 2, `unknown command "serv"`},
		{"stray argument", nil, []string{"serve", "now"}, 2, `unexpected argument "now"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestSecondProcessOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	start(t, dir, nil)
	second := launch(t, dir, nil)
	if code := second.wait(); code != 1 || !strings.Contains(second.stderr.String(), "another portier process") {
		t.Errorf("second process exit %d:\n%s", code, second.stderr)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "portier ") || !strings.Contains(out, "go1.") {
		t.Errorf("version = %d %q", code, out)
	}
}

func TestServeRefusesMissingGeoIPDatabase(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "portier.yaml")
	os.WriteFile(cfg, []byte("geoip_database: "+filepath.Join(dir, "nope.mmdb")+"\n"), 0o600)
	code, _, stderr := run(t, nil, "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--metrics-listen", "off")
	if code != 1 || !strings.Contains(stderr, "geoip_database") || !strings.Contains(stderr, "nope.mmdb") {
		t.Errorf("missing GeoIP database: exit %d\n%s", code, stderr)
	}
}
