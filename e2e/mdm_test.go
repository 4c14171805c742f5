package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/portier/portier/clocktest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/server"
	"github.com/portier/portier/store"
)

// TestEscalationLadderOverMutualTLS enrolls a real agent over mutual TLS,
// sends this machine's real Linux posture (whose root disk is not
// encrypted, so the baseline compliance policy fails), and moves the
// server's clock through the grace period and the escalation ladder,
// watching the device's step and trust through the API.
func TestEscalationLadderOverMutualTLS(t *testing.T) {
	clk := clocktest.New()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cfg, pols := loadConfig(t, "mdm.yaml", fmt.Sprintf(`
external_url: https://localhost:%[1]s
listen: 127.0.0.1:%[1]s
metrics_listen: "off"
data_dir: %[2]s
compliance:
  - id: laptops
    platforms: [linux]
    checks: {disk_encryption: required}
    grace: 72h
    escalation: {notify: 0s, lower_trust: 24h, block: 48h}
`, port, filepath.Join(t.TempDir(), "data")))
	srv, err := server.Start(context.Background(), server.Options{Config: cfg, Policies: pols,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clk.Now, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	const secret = "an-owner-token-for-the-escalation-test"
	if err := srv.Store().Write(ctx, store.Put(&store.Token{ID: "tok_owner", Role: "owner", SecretHash: identity.HashSecret(secret), CreatedAt: clk.Now()})); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: srv, port: port}
	c := w.browser(nil)
	api := func(method, path, body string, out any) int {
		req, _ := http.NewRequest(method, w.url("localhost", path), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	var code struct{ Code string }
	if st := api("POST", "/api/v1/enrollment/codes", `{"ownership":"corporate","user":"ada@example.com","ttl":"15m"}`, &code); st != 201 {
		t.Fatalf("create code = %d", st)
	}
	dir := t.TempDir()
	enrolled, err := agent.Enroll(ctx, agent.EnrollOptions{Server: w.url("localhost", ""), Code: code.Code, StateDir: dir,
		Fingerprint: srv.CA().Fingerprint(), Version: "1.0.0", Out: io.Discard})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	ag, err := agent.Open(agent.Options{StateDir: dir, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	if _, err := ag.SendPosture(ctx, false); err != nil {
		t.Fatalf("send real posture over mTLS: %v", err)
	}
	type view struct {
		Platform       string   `json:"platform"`
		Trust          string   `json:"trust"`
		Compliant      bool     `json:"compliant"`
		FailingChecks  []string `json:"failing_checks"`
		EscalationStep string   `json:"escalation_step"`
	}
	device := func() view {
		var v view
		if st := api("GET", "/api/v1/devices/"+enrolled.DeviceID, "", &v); st != 200 {
			t.Fatalf("get device = %d", st)
		}
		return v
	}
	v := device()
	if v.Compliant || !contains(v.FailingChecks, "disk_encrypted") {
		t.Fatalf("this machine's root disk is not encrypted, yet the device is %+v", v)
	}
	inGrace := v.Trust
	steps := []struct {
		at    time.Duration
		step  string
		trust string
	}{
		{72*time.Hour + time.Minute, "notify", inGrace},
		{96*time.Hour + time.Minute, "lower_trust", "low"},
		{120*time.Hour + time.Minute, "block", "untrusted"},
	}
	start := clk.Now()
	for _, s := range steps {
		clk.Advance(start.Add(s.at).Sub(clk.Now()))
		if err := srv.Posture().Tick(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		v := device()
		if v.EscalationStep != s.step || v.Trust != s.trust {
			t.Errorf("at +%v: step %q trust %q, want %q and %q", s.at, v.EscalationStep, v.Trust, s.step, s.trust)
		}
	}
}
