package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portier/portier/cli"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// chromiumPolicyDir is where Debian's Chromium reads managed policies.
const chromiumPolicyDir = "/etc/chromium/policies/managed"

// managedConfig protects an app for managed devices of trust medium or
// more; the linux compliance policy keeps this machine at medium or high
// (an unencrypted root disk is non-compliant within grace: medium).
const managedConfig = `
routes:
  - {from: "https://app.localhost:{{port}}", to: "{{upstream}}", policy: managed}
policies:
  - id: managed
    allow:
      and:
        - domain: example.com
        - device: {trust: {gte: medium}}
compliance:
  - id: laptops
    platforms: [linux]
    checks: {disk_encryption: required}
    grace: 72h
`

// requireNSSTools returns once certutil and pk12util are installed; it
// skips without them and fails when PORTIER_TEST_REQUIRE_ALL=1.
func requireNSSTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			const msg = "the device-identity browser test needs Debian's libnss3-tools (certutil, pk12util)"
			if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
				t.Fatal(msg + ", and PORTIER_TEST_REQUIRE_ALL=1 requires it")
			}
			t.Skip("skipping: " + msg)
		}
	}
}

// requireRoot skips unless the test may write Chromium's managed policy
// directory (root); it fails when PORTIER_TEST_REQUIRE_ALL=1.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		const msg = "the device-identity browser test writes a managed policy into " + chromiumPolicyDir + " and must run as root"
		if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(msg + ", and PORTIER_TEST_REQUIRE_ALL=1 requires it")
		}
		t.Skip("skipping: " + msg)
	}
}

// portierCLI runs the portier command line in-process.
func portierCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := cli.Run(context.Background(), args, func(string) string { return "" }, &out, &out)
	return code, out.String()
}

// nssList is `certutil -L` of the NSS database under home.
func nssList(t *testing.T, home string) string {
	t.Helper()
	out, err := exec.Command("certutil", "-L", "-d", "sql:"+filepath.Join(home, ".pki", "nssdb")).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L: %v\n%s", err, out)
	}
	return string(out)
}

// TestBrowserDeviceCertificate is the whole story with a real headless
// Chromium and no prompt: the agent enrolls the machine for a person
// (their home), installs the device identity in their NSS database and
// the AutoSelectCertificateForUrls policy, and Chromium reaches an app
// that needs a managed device of trust medium; after an administrator
// revokes the device the next navigation is denied; after unenroll the
// identity is gone from the NSS database and the policy file is removed.
func TestBrowserDeviceCertificate(t *testing.T) {
	exe := requireChromium(t)
	requireNSSTools(t)
	requireRoot(t)
	s := startSite(t, managedConfig)
	s.addUser("ann@example.com", "correct horse battery", "staff")
	const secret = "an-owner-token-for-the-device-browser-test"
	if err := s.srv.Store().Write(context.Background(), store.Put(&store.Token{ID: "tok_owner", Role: "owner",
		SecretHash: identity.HashSecret(secret), CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: s.srv, port: s.port}
	api := func(method, path, body string, out any) int {
		t.Helper()
		return w.api(w.browser(nil), secret, method, path, body, out)
	}
	var code struct{ Code string }
	if st := api("POST", "/api/v1/enrollment/codes", `{"ownership":"corporate","user":"ann@example.com","ttl":"15m"}`, &code); st != 201 {
		t.Fatalf("create code = %d", st)
	}

	home := t.TempDir() // the person's home: Chromium runs with HOME set to it
	stateDir := filepath.Join(t.TempDir(), "agent")
	browserArgs := []string{"--state-dir", stateDir, "--user-home", home, "--browser-policy-dirs", chromiumPolicyDir}
	rc, out := portierCLI(t, append([]string{"agent", "enroll", "--server", s.console(), "--code", code.Code,
		"--ca-fingerprint", s.srv.CA().Fingerprint()}, browserArgs...)...)
	if rc != 0 || strings.Contains(out, "warning") {
		t.Fatalf("agent enroll exited %d:\n%s", rc, out)
	}
	_, rest, _ := strings.Cut(out, "Enrolled as device ")
	deviceID, _, _ := strings.Cut(rest, " ")
	policyFile := filepath.Join(chromiumPolicyDir, "portier-"+deviceID+".json")
	t.Cleanup(func() { os.Remove(policyFile) }) // also when the test fails half-way
	if !strings.HasPrefix(deviceID, "dev_") {
		t.Fatalf("no device id in the enroll output:\n%s", out)
	}
	if rc, out := portierCLI(t, append([]string{"agent", "run", "--once"}, browserArgs...)...); rc != 0 {
		t.Fatalf("agent run --once exited %d:\n%s", rc, out)
	}
	var dev struct{ Trust string }
	if st := api("GET", "/api/v1/devices/"+deviceID, "", &dev); st != 200 || (dev.Trust != "medium" && dev.Trust != "high") {
		t.Fatalf("device %s: status %d, trust %q; want medium or high after its posture report", deviceID, st, dev.Trust)
	}

	// What the agent installed: the certificate and key in the person's
	// NSS database, the policy for Portier's hosts only.
	if l := nssList(t, home); !strings.Contains(l, deviceID) {
		t.Fatalf("the device certificate is not in %s/.pki/nssdb:\n%s", home, l)
	}
	pol, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatalf("the Chromium policy was not written: %v", err)
	}
	var doc struct{ AutoSelectCertificateForUrls []string }
	if err := json.Unmarshal(pol, &doc); err != nil {
		t.Fatalf("policy %s: %v\n%s", policyFile, err, pol)
	}
	wantPatterns := map[string]bool{s.url("app.localhost", ""): false, s.console(): false}
	for _, rule := range doc.AutoSelectCertificateForUrls {
		var r struct {
			Pattern string
			Filter  struct{ ISSUER map[string]string }
		}
		if err := json.Unmarshal([]byte(rule), &r); err != nil {
			t.Fatalf("policy rule %q: %v", rule, err)
		}
		if _, ok := wantPatterns[r.Pattern]; !ok {
			t.Errorf("policy names %q, which is not one of Portier's hosts", r.Pattern)
		}
		wantPatterns[r.Pattern] = true
		if r.Filter.ISSUER["CN"] != "Portier Intermediate CA" {
			t.Errorf("policy rule %q does not select by Portier's issuer", rule)
		}
	}
	for p, seen := range wantPatterns {
		if !seen {
			t.Errorf("policy has no rule for %s:\n%s", p, pol)
		}
	}
	if rc, out := portierCLI(t, "agent", "status", "--state-dir", stateDir); rc != 0 || !strings.Contains(out, filepath.Join(home, ".pki", "nssdb")) || !strings.Contains(out, policyFile) {
		t.Errorf("agent status (exit %d) does not show where the identity is:\n%s", rc, out)
	}

	// Chromium, as the person: it presents the device certificate by
	// itself (a prompt would hang headless Chromium).
	b := s.newTab(exe, chromedp.Env("HOME="+home))
	b.open(s.url("app.localhost", "/reports"))
	b.signIn("ann@example.com", "correct horse battery")
	b.waitAt(s.url("app.localhost", "/reports"))
	b.wantText("h1", "hello from upstream")
	if who := b.text("#who"); who != "ann@example.com" {
		b.fatalf("the upstream saw %q", who)
	}

	// An administrator revokes the device: the next navigation is denied.
	if st := api("POST", "/api/v1/devices/"+deviceID+"/actions", `{"type":"revoke","params":{"reason":"lost laptop"}}`, nil); st/100 != 2 {
		t.Fatalf("revoke = %d", st)
	}
	hits := s.hits.Load()
	b.open(s.url("app.localhost", "/reports?after=revoke"))
	b.wantText("h1", "Access denied")
	if n := s.hits.Load(); n != hits {
		b.fatalf("the upstream answered %d requests after the revocation", n-hits)
	}

	// Unenroll: the identity leaves the NSS database, the policy goes.
	rc, out = portierCLI(t, append([]string{"agent", "unenroll"}, browserArgs...)...)
	if rc != 0 {
		t.Fatalf("agent unenroll exited %d:\n%s", rc, out)
	}
	if l := nssList(t, home); strings.Contains(l, deviceID) || strings.Contains(l, "Portier") {
		t.Errorf("after unenroll the NSS database still holds Portier's certificates:\n%s", l)
	}
	if keys, _ := exec.Command("certutil", "-K", "-d", "sql:"+filepath.Join(home, ".pki", "nssdb")).CombinedOutput(); strings.Contains(string(keys), deviceID) {
		t.Errorf("after unenroll the NSS database still holds the device key:\n%s", keys)
	}
	if _, err := os.Stat(policyFile); !os.IsNotExist(err) {
		t.Errorf("after unenroll the policy file %s is still there (%v)", policyFile, err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "device.key")); !os.IsNotExist(err) {
		t.Errorf("after unenroll the agent's key is still there (%v)", err)
	}
}
