package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/agent"
)

const ownerSecret = "owner-secret-for-the-agent-end-to-end-tests"

// mdm is a running `portier serve` with an owner token, wipes enabled, and
// helpers to act as the admin and as an enrolled device.
type mdm struct {
	*instance
	fp string
}

func startMDM(t *testing.T) *mdm { return startMDMEnv(t, nil) }

// startMDMEnv is startMDM with more environment for portier serve.
func startMDMEnv(t *testing.T, env map[string]string) *mdm {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "portier.yaml")
	if err := os.WriteFile(cfg, []byte("enrollment:\n  wipe_enabled: true\n# one administrator here: the two-person path is tested in console/ and e2e/\napprovals:\n  disabled: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"PORTIER_BOOTSTRAP_TOKEN": ownerSecret}
	maps.Copy(all, env)
	in := start(t, filepath.Join(t.TempDir(), "data"), all, "--config", cfg)
	return &mdm{instance: in, fp: bannerFingerprint(in.stdout.String())}
}

// api calls the admin API as the owner and decodes the answer into out.
func (m *mdm) api(method, path, body string, out any, hdr ...string) int {
	m.t.Helper()
	req, _ := http.NewRequest(method, m.url(path), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ownerSecret)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := m.client.Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			m.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// newCode creates a one-time code.
func (m *mdm) newCode(ownership string) string {
	m.t.Helper()
	var c struct {
		Code, QRPNG, EnrollURL string
	}
	if code := m.api("POST", "/api/v1/enrollment/codes", `{"ownership":"`+ownership+`","user":"ada@example.com","ttl":"15m"}`, &c); code != 201 || c.Code == "" {
		m.t.Fatalf("create code: %d %+v", code, c)
	}
	return c.Code
}

// agentCLI runs `portier agent ...` through Run with the machine's real
// collectors, and (when runner is set) a fake command runner.
func agentCLI(t *testing.T, runner *recordRunner, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	deps := defaultAgentDeps()
	if runner != nil {
		deps.Runner = runner
	}
	code := runAgent(context.Background(), args, envFrom(nil), &out, &errb, deps)
	return code, out.String(), errb.String()
}

// enroll enrolls a state dir with a new code and returns the device id.
func (m *mdm) enroll(stateDir, ownership string, extra ...string) string {
	m.t.Helper()
	var out, errb syncBuffer
	// A software key unless the test says otherwise: the tests read
	// device.key, and must not use the TPM of the machine they run on.
	args := append([]string{"agent", "enroll", "--server", m.url(""), "--code", m.newCode(ownership), "--state-dir", stateDir, "--ca-fingerprint", m.fp, "--key", "software"}, extra...)
	if code := Run(context.Background(), args, envFrom(nil), &out, &errb); code != 0 {
		m.t.Fatalf("agent enroll exited %d:\n%s\n%s", code, out.String(), errb.String())
	}
	_, rest, _ := strings.Cut(out.String(), "Enrolled as device ")
	id, _, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(id, "dev_") {
		m.t.Fatalf("no device id in %q", out.String())
	}
	return id
}

// deviceClient is an mTLS client with the device's key and certificate,
// trusting only the pinned root, as the agent does.
func deviceClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, agent.CertFile), filepath.Join(dir, agent.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, agent.CAFile))
	roots.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// deviceCall sends a request with a device client.
func (m *mdm) deviceCall(c *http.Client, method, path string, body []byte) (int, string) {
	m.t.Helper()
	req, _ := http.NewRequest(method, m.url(path), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// recordRunner records action commands instead of running them, so the
// tests never lock or notify this machine's sessions.
type recordRunner struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, strings.Join(append([]string{name}, args...), " "))
	return nil, nil
}

func (r *recordRunner) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// deviceView is the part of GET /api/v1/devices/{id} the tests read.
type deviceView struct {
	ID            string   `json:"id"`
	State         string   `json:"state"`
	Trust         string   `json:"trust"`
	Compliant     bool     `json:"compliant"`
	Ownership     string   `json:"ownership"`
	OwnerEmail    string   `json:"owner_email"`
	WorkProfile   bool     `json:"work_profile"`
	FailingChecks []string `json:"failing_checks"`
	PassingChecks []string `json:"passing_checks"`
	Posture       *struct {
		ReportSeq uint64 `json:"report_seq"`
		Signals   []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"signals"`
	} `json:"posture"`
	Actions []struct {
		ID, Type, Status, Result string
	} `json:"actions"`
}

func (m *mdm) device(id string) deviceView {
	m.t.Helper()
	var d deviceView
	if code := m.api("GET", "/api/v1/devices/"+id, "", &d); code != 200 {
		m.t.Fatalf("get device %s: %d", id, code)
	}
	return d
}

func (d deviceView) signal(name string) (any, bool) {
	if d.Posture == nil {
		return nil, false
	}
	for _, s := range d.Posture.Signals {
		if s.Name == name {
			return s.Value, true
		}
	}
	return nil, false
}
