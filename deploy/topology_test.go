package deploy

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store/pgstore/pgtest"
)

// The compose topology run for real, without containers: the config
// gen-secrets.sh writes (its DSN pointed at a test schema, its key
// password file at the generated one), two replicas on one PostgreSQL
// database, and haproxy.cfg round-robin in front. Every connection through
// the balancer verifies against the one shared root, and connections land
// on both replicas (each presents its own listener certificate).
func TestComposeTopologyTwoReplicasBehindHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	dsn := pgtest.DSN(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine:", err)
	}
	const host = "portier.localhost"
	dir := filepath.Join(t.TempDir(), "secrets")
	if out, err := exec.Command(sh, "compose/gen-secrets.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen-secrets.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "portier.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := regexp.MustCompile(`(?m)^store: .*$`).ReplaceAllString(string(b), "store: "+dsn)
	conf = strings.ReplaceAll(conf, "/run/secrets/ca_key_password", filepath.Join(dir, "ca_key_password"))
	if conf == string(b) || !strings.Contains(conf, "external_url: https://"+host+":8443") {
		t.Fatalf("gen-secrets.sh's config changed shape:\n%s", b)
	}
	noEnv := func(string) string { return "" }
	var replicas []string
	var roots *x509.CertPool
	for range 2 {
		srv := startPortierEnv(t, conf, map[string]string{"listen": freeAddr(t), "metrics-listen": "off"}, noEnv)
		replicas = append(replicas, srv.Addr())
		if roots == nil {
			roots = x509.NewCertPool()
			roots.AddCert(srv.CA().Roots()[0])
		}
	}
	lbAddr := startHAProxy(t, bin, host, replicas[0], replicas[1])

	leaves := map[string]bool{}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host,
			VerifyConnection: func(cs tls.ConnectionState) error {
				leaves[cs.PeerCertificates[0].SerialNumber.String()] = true
				return nil
			}},
	}}
	for i := range 8 {
		req, _ := http.NewRequest("GET", "https://"+lbAddr+"/readyz", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d through the balancer: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: /readyz = %d", i, resp.StatusCode)
		}
	}
	if len(leaves) != 2 {
		t.Errorf("connections reached %d distinct replica certificates, want 2 (round robin over both)", len(leaves))
	}
}
