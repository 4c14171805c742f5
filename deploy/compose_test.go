package deploy

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/portier/portier/config"
)

func readCompose(t *testing.T) map[string]any {
	t.Helper()
	m := readYAMLMap(t, "compose/compose.yaml")
	if _, ok := m["services"].(map[string]any); !ok {
		t.Fatal("compose.yaml has no services")
	}
	return m
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// portierServices are the compose services that run the Portier image.
func portierServices(compose map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, s := range compose["services"].(map[string]any) {
		svc := s.(map[string]any)
		if svc["image"] == "portier:local" {
			out[name] = svc
		}
	}
	return out
}

func TestComposeRunsTwoReplicasOnPostgreSQL(t *testing.T) {
	compose := readCompose(t)
	services := compose["services"].(map[string]any)
	replicas := portierServices(compose)
	if len(replicas) != 2 {
		t.Fatalf("Portier replicas = %d, want 2", len(replicas))
	}
	pg, _ := services["postgres"].(map[string]any)
	if img, _ := dig(pg, "image").(string); !strings.HasPrefix(img, "postgres:") {
		t.Fatalf("postgres service image = %v", dig(pg, "image"))
	}
	if dig(pg, "environment", "POSTGRES_PASSWORD_FILE") != "/run/secrets/postgres_password" || dig(pg, "environment", "POSTGRES_PASSWORD") != nil {
		t.Error("PostgreSQL's password must come from the postgres_password secret")
	}
	declared := compose["secrets"].(map[string]any)
	for name, svc := range replicas {
		args := strs(svc["command"])
		if v, _ := flagValue(args, "metrics-listen"); v != ":9464" {
			t.Errorf("%s: --metrics-listen = %q, want :9464 (the compose network)", name, v)
		}
		if v, _ := flagValue(args, "config"); v != "/run/secrets/portier_config" {
			t.Errorf("%s: --config = %q, want the portier_config secret (it holds the DSN)", name, v)
		}
		if svc["ports"] != nil {
			t.Errorf("%s publishes ports: only the load balancer may", name)
		}
		if svc["read_only"] != true {
			t.Errorf("%s: root filesystem not read-only", name)
		}
		if !slices.Contains(strs(dig(svc, "cap_drop")), "ALL") {
			t.Errorf("%s keeps Linux capabilities", name)
		}
		if dig(svc, "depends_on", "postgres", "condition") != "service_healthy" {
			t.Errorf("%s does not wait for PostgreSQL to be healthy", name)
		}
		for _, s := range strs(svc["secrets"]) {
			if declared[s] == nil {
				t.Errorf("%s uses undeclared secret %s", name, s)
			}
		}
		if !slices.Contains(strs(svc["secrets"]), "ca_key_password") {
			t.Errorf("%s lacks the ca_key_password secret", name)
		}
		env, _ := svc["environment"].(map[string]any)
		for k := range env {
			if k == "PORTIER_STORE" || k == "PORTIER_CA_KEY_PASSWORD" {
				t.Errorf("%s sets %s in plain environment; it belongs in a secret", name, k)
			}
		}
		vols := strs(svc["volumes"])
		if len(vols) != 1 || !strings.HasSuffix(vols[0], ":/var/lib/portier") {
			t.Errorf("%s volumes = %v, want its own data volume", name, vols)
		}
	}
	for name, s := range declared {
		if f, _ := dig(s, "file").(string); !strings.HasPrefix(f, "./secrets/") {
			t.Errorf("secret %s comes from %q, want a file under ./secrets/ (written by gen-secrets.sh, git-ignored)", name, f)
		}
	}
}

// The load balancer passes TLS through to every replica and checks each
// one's /readyz on Portier's external host.
func TestComposeLoadBalancerPassesTLSThrough(t *testing.T) {
	compose := readCompose(t)
	lb, _ := compose["services"].(map[string]any)["lb"].(map[string]any)
	if img, _ := dig(lb, "image").(string); !strings.HasPrefix(img, "haproxy:") {
		t.Fatalf("lb image = %v, want haproxy", dig(lb, "image"))
	}
	if !slices.Contains(strs(lb["ports"]), "127.0.0.1:8443:8443") {
		t.Errorf("lb ports = %v", lb["ports"])
	}
	cfgFile := ""
	for _, v := range strs(lb["volumes"]) {
		if strings.HasSuffix(v, ":/usr/local/etc/haproxy/haproxy.cfg:ro") {
			cfgFile = strings.SplitN(v, ":", 2)[0]
		}
	}
	if cfgFile == "" {
		t.Fatal("haproxy.cfg is not mounted")
	}
	b, err := os.ReadFile(filepath.Join("compose", cfgFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	lines := map[string]bool{}
	var servers []string
	for _, l := range strings.Split(cfg, "\n") {
		l = strings.Join(strings.Fields(strings.SplitN(l, "#", 2)[0]), " ")
		lines[l] = true
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "server" {
			servers = append(servers, f[1])
			if f[2] != f[1]+":8443" {
				t.Errorf("server %s points at %s, want %s:8443", f[1], f[2], f[1])
			}
		}
		if strings.HasPrefix(l, "bind ") && strings.Contains(l, " ssl") {
			t.Errorf("%q terminates TLS: Portier needs the client certificate", l)
		}
	}
	for _, want := range []string{"mode tcp", "balance roundrobin", "option httpchk", "http-check expect status 200"} {
		if !lines[want] {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*http-check send meth GET uri /readyz .*hdr Host "\$\{PORTIER_HOST\}"`).MatchString(cfg) {
		t.Error("the health check is not GET /readyz with Portier's host")
	}
	if !regexp.MustCompile(`(?m)^\s*default-server check check-ssl `).MatchString(cfg) {
		t.Error("replicas are not health-checked over TLS")
	}
	if dig(lb, "environment", "PORTIER_HOST") == nil {
		t.Error("the lb does not get PORTIER_HOST")
	}
	want := []string{}
	for name := range portierServices(compose) {
		want = append(want, name)
	}
	slices.Sort(want)
	slices.Sort(servers)
	if !slices.Equal(servers, want) {
		t.Errorf("haproxy servers = %v, want every replica %v", servers, want)
	}
}

// gen-secrets.sh writes secrets that fit together: Portier's DSN carries
// PostgreSQL's password and host, the config loads, and the folder is
// private.
func TestComposeGenSecrets(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine:", err)
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	cmd := exec.Command(sh, "compose/gen-secrets.sh", dir)
	cmd.Env = append(os.Environ(), "PORTIER_HOST=access.test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-secrets.sh: %v\n%s", err, out)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("secrets folder: %v %v, want mode 0700", fi.Mode(), err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pw, caPW := read("postgres_password"), read("ca_key_password")
	if len(caPW) < 32 || len(pw) < 20 || caPW == pw {
		t.Errorf("weak or shared secrets: %d and %d characters", len(pw), len(caPW))
	}
	cfg, err := config.Load(filepath.Join(dir, "portier.yaml"), func(string) string { return "" }, nil)
	if err != nil {
		t.Fatalf("Portier rejects the generated config: %v", err)
	}
	u, err := url.Parse(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.User.Password(); p != pw || u.Hostname() != "postgres" || u.User.Username() != "portier" {
		t.Errorf("DSN %s does not match the postgres service and its password", u.Redacted())
	}
	if cfg.ExternalURL != "https://access.test:8443" || cfg.CA.KeyPasswordFile != "/run/secrets/ca_key_password" {
		t.Errorf("external URL %q, key password file %q", cfg.ExternalURL, cfg.CA.KeyPasswordFile)
	}
	var compose map[string]any
	b, _ := os.ReadFile("compose/compose.yaml")
	_ = yaml.Unmarshal(b, &compose)
	if dig(compose, "secrets", "ca_key_password", "file") != "./secrets/ca_key_password" {
		t.Error("compose does not mount the generated ca_key_password")
	}
	// A second run must not replace the CA key password sealing the CA.
	if out, err := exec.Command(sh, "compose/gen-secrets.sh", dir).CombinedOutput(); err == nil {
		t.Errorf("gen-secrets.sh overwrote existing secrets: %s", out)
	}
	if read("ca_key_password") != caPW {
		t.Error("the CA key password changed")
	}
}
