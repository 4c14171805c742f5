//go:build linux

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
	"github.com/portier/portier/tpmtest"
)

// nobodyUID is the uid of Debian's nobody, the test's person.
const nobodyUID = 65534

// tpm2PKCS11Module is where Debian's libtpm2-pkcs11-1 installs the module.
const tpm2PKCS11Module = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"

// tctiSwtpm is the TSS's swtpm TCTI (Debian's libtss2-tcti-swtpm0), which
// tpm2-abrmd uses to reach swtpm.
const tctiSwtpm = "/usr/lib/x86_64-linux-gnu/libtss2-tcti-swtpm.so.0"

// requireTPMBrowserStack returns once the real chain can run: swtpm,
// tpm2-abrmd (the resource manager a real machine has in the kernel as
// /dev/tpmrm0), dbus-daemon, the tpm2-pkcs11 module and its tools, and
// NSS's modutil and certutil. It skips without them and fails when
// PORTIER_TEST_REQUIRE_ALL=1.
func requireTPMBrowserStack(t *testing.T) {
	t.Helper()
	const msg = "the TPM browser-key test needs Debian's swtpm, tpm2-tools, tpm2-abrmd, libtss2-tcti-tabrmd0, libtss2-tcti-swtpm0, dbus-daemon, libtpm2-pkcs11-1, libtpm2-pkcs11-tools and libnss3-tools"
	missing := ""
	for _, tool := range []string{"swtpm", "tpm2_getcap", "tpm2-abrmd", "dbus-daemon", "tpm2_ptool", "modutil", "certutil"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing += " " + tool
		}
	}
	for _, lib := range []string{tpm2PKCS11Module, tctiSwtpm} {
		if _, err := os.Stat(lib); err != nil {
			missing += " " + lib
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
		t.Fatalf("%s (missing:%s), and PORTIER_TEST_REQUIRE_ALL=1 requires them", msg, missing)
	}
	t.Skipf("skipping: %s (missing:%s)", msg, missing)
}

// tpmStack is one software TPM used in turn, as a real machine's TPM is
// used at once through /dev/tpmrm0: first by the agent's Go code (its
// Open, a direct connection to swtpm, which serves one connection at a
// time), then by the person's TSS tools and Chromium's tpm2-pkcs11
// module through tpm2-abrmd (the resource manager a real machine has in
// the kernel), started at the first tool and holding swtpm from then on.
type tpmStack struct {
	t   *testing.T
	tpm *tpmtest.TPM
	// env points the TSS tools and the tpm2-pkcs11 module at tpm2-abrmd.
	env []string
	bus string

	mu    sync.Mutex
	abrmd bool // started: the agent's Go code cannot reach swtpm any more
}

// startTPMStack starts a fresh software TPM whose EK certificate m
// signed, and a private D-Bus session bus for tpm2-abrmd.
func startTPMStack(t *testing.T, m *tpmtest.Manufacturer) *tpmStack {
	t.Helper()
	tpm := tpmtest.Start(t)
	tpmtest.ProvisionEKCertificate(t, tpm, m)
	// The bus lets the person's uid reach tpm2-abrmd, as /dev/tpmrm0 lets
	// the tss group reach the kernel's resource manager.
	busDir, err := os.MkdirTemp("", "portier-tpmbus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(busDir) })
	os.Chmod(busDir, 0o755)
	conf := filepath.Join(busDir, "bus.conf")
	bus := "unix:path=" + filepath.Join(busDir, "bus")
	os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>`+bus+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o644)
	startProcess(t, exec.Command("dbus-daemon", "--nofork", "--config-file="+conf))
	waitFor(t, "the D-Bus socket", func() error { _, err := os.Stat(filepath.Join(busDir, "bus")); return err })
	return &tpmStack{t: t, tpm: tpm, bus: bus,
		env: []string{"DBUS_SESSION_BUS_ADDRESS=" + bus, "TPM2TOOLS_TCTI=tabrmd:bus_type=session", "TPM2_PKCS11_TCTI=tabrmd:bus_type=session"}}
}

// startProcess starts cmd, killed at the end of the test.
func startProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if cmd.Stdout == nil {
		cmd.Stdout, cmd.Stderr = &lockedBuffer{}, &lockedBuffer{}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// open is the agent's TPM (agent.TPMOpener): swtpm directly, until
// tpm2-abrmd holds it.
func (s *tpmStack) open() (attest.CommandChannelTPM20, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abrmd {
		return nil, errors.New("tpm2-abrmd holds the software TPM now")
	}
	return s.tpm.Open()
}

// run runs the person's commands (agent.PersonCommands), starting
// tpm2-abrmd in front of swtpm before the first TSS tool.
func (s *tpmStack) run(ctx context.Context, c agent.Command) ([]byte, error) {
	if strings.Contains(c.String(), "tpm2_ptool") {
		s.startABRMD()
	}
	out, err := agent.PersonCommands(ctx, c)
	if err != nil && strings.Contains(c.String(), "tpm2_ptool") {
		// The agent's log shortens the tool's output; the test shows all.
		s.t.Logf("%s: %v\n%s", strings.Fields(c.String())[len(s.env)+1:3+len(s.env)], err, out)
	}
	return out, err
}

func (s *tpmStack) startABRMD() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abrmd {
		return
	}
	s.abrmd = true
	abrmd := exec.Command("tpm2-abrmd", "--session", "--allow-root", "--flush-all", "--tcti="+s.tpm.TCTI)
	abrmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+s.bus)
	out := &lockedBuffer{}
	abrmd.Stdout, abrmd.Stderr = out, out
	startProcess(s.t, abrmd)
	waitFor(s.t, "tpm2-abrmd", func() error {
		cmd := exec.Command("tpm2_getcap", "properties-fixed")
		cmd.Env = append(os.Environ(), s.env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s; abrmd: %s", err, b, out.String())
		}
		return nil
	})
}

// certutil runs certutil for the person whose home is home, with the TPM
// stack's environment (the module in the database finds the person's
// store and reaches the TPM through it), and returns its output.
func (s *tpmStack) certutil(home string, args ...string) string {
	cmd := exec.Command("certutil", args...)
	cmd.Env = append(append(os.Environ(), "HOME="+home), s.env...)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// waitFor retries check until it passes (a service starting up), failing
// the test after 20 s.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Fatalf("%s did not start: %v", what, err)
}

// attestedConfig protects an app for requests whose certificate's key
// Portier verified in a TPM (key: attested), another for any enrolled
// device, and trusts the test TPM vendor's EK certificates.
const attestedConfig = `
tpm_ek_roots: {{ekroots}}
routes:
  - {from: "https://app.localhost:{{port}}", to: "{{upstream}}", policy: attested}
  - {from: "https://managed.localhost:{{port}}", to: "{{upstream}}", policy: managed}
policies:
  - id: attested
    allow:
      and:
        - domain: example.com
        - device: {key: attested}
  - id: managed
    allow:
      and:
        - domain: example.com
        - device: {managed: true}
`

// personHome makes a home directory for the person (nobody's uid, no
// account needed): every command of the setup runs as that uid, as the
// root agent runs them for a person, and every file it makes must be
// theirs.
func personHome(t *testing.T, name string) agent.LocalUser {
	t.Helper()
	home, err := os.MkdirTemp("", "portier-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, nobodyUID, nobodyUID); err != nil {
		t.Fatal(err)
	}
	return agent.LocalUser{Name: name, UID: nobodyUID, GID: nobodyUID, Home: home}
}

// TestBrowserTPMKey runs the whole Linux chain with real parts: a real
// Portier trusting the test TPM vendor (tpm_ek_roots), an agent enrolled
// over its API whose browser sync makes, for a person, a key in the
// (software) TPM, proves it to Portier (a challenge over mutual TLS,
// TPM2_ActivateCredential, the key certified by the AK), gets a browser
// certificate saying hardware, tpm_attested, and hands it to a
// tpm2-pkcs11 token with an empty user PIN in ~/.tpm2_pkcs11, the module
// registered in the person's NSS database. Headless Chromium (HOME = that
// person's home, the agent's AutoSelectCertificateForUrls policy) then
// reaches a route whose policy says `device: {key: attested}`, WITHOUT
// any prompt. A browser holding only the software key of the same device
// is denied by the same route. Removal unloads the module and deletes
// the token.
func TestBrowserTPMKey(t *testing.T) {
	exe := requireChromium(t)
	requireNSSTools(t)
	requireRoot(t)
	requireTPMBrowserStack(t)
	ctx := context.Background()
	vendor := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	stack := startTPMStack(t, vendor)
	roots := filepath.Join(t.TempDir(), "ek-roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vendor.Cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSite(t, strings.ReplaceAll(attestedConfig, "{{ekroots}}", roots))
	s.addUser("ann@example.com", "correct horse battery", "staff")
	const secret = "an-owner-token-for-the-tpm-browser-test"
	if err := s.srv.Store().Write(ctx, store.Put(&store.Token{ID: "tok_owner", Role: "owner",
		SecretHash: identity.HashSecret(secret), CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: s.srv, port: s.port}
	var code struct{ Code string }
	if st := w.api(w.browser(nil), secret, "POST", "/api/v1/enrollment/codes", `{"ownership":"corporate","user":"ann@example.com","ttl":"15m"}`, &code); st != 201 {
		t.Fatalf("create code = %d", st)
	}

	// The agent's own key is a software key: the software TPM serves one
	// connection at a time, and a TPM device key would hold it.
	stateDir := filepath.Join(t.TempDir(), "agent")
	enrolled, err := agent.Enroll(ctx, agent.EnrollOptions{Server: s.console(), Code: code.Code, Fingerprint: s.srv.CA().Fingerprint(),
		StateDir: stateDir, Version: "1.0.0", KeyMode: agent.KeyModeSoftware, TPM: stack.open, Out: io.Discard,
		Info: func(context.Context) agentwire.DeviceInfo {
			return agentwire.DeviceInfo{Platform: "linux", Hostname: "tpm-laptop"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	deviceID := enrolled.DeviceID
	policyFile := filepath.Join(chromiumPolicyDir, "portier-"+deviceID+".json")
	t.Cleanup(func() { os.Remove(policyFile) }) // also when the test fails half-way

	person := personHome(t, "nobody")
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	keys := &agent.TPMBrowserKeys{Module: tpm2PKCS11Module, Run: stack.run, Env: stack.env, Device: "-", Log: log}
	nss := &agent.NSSStore{Run: stack.run, TPM: keys}
	ag, err := agent.Open(agent.Options{StateDir: stateDir, Version: "1.0.0", Platform: agent.PlatformLinux, TPM: stack.open,
		Runner: &lockRunner{}, Collect: perfectPosture, Log: log,
		Browser: &agent.BrowserOptions{Stores: []agent.BrowserStore{nss, &agent.ChromePolicyStore{Dirs: []string{chromiumPolicyDir}}},
			Users: func() ([]agent.LocalUser, error) { return []agent.LocalUser{person}, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ag.Close)
	if err := ag.SyncBrowsers(ctx); err != nil {
		t.Fatalf("browser sync: %v\nagent log:\n%s", err, logs.String())
	}

	// What Portier issued: a browser certificate for the person whose key
	// it verified in the TPM, with a trusted EK.
	var browserCert *store.Certificate
	for _, c := range s.srv.Store().CertificatesOf(deviceID) {
		if c.Purpose == ca.PurposeBrowser {
			browserCert = c
		}
	}
	if browserCert == nil || browserCert.KeyProtection != store.KeyHardware || browserCert.KeyProtectionSource != store.KeySourceTPM ||
		browserCert.Person != "nobody" {
		t.Fatalf("browser certificate %+v, want hardware, tpm_attested, for nobody\nagent log:\n%s", browserCert, logs.String())
	}
	db := filepath.Join(person.Home, ".pki", "nssdb")
	if out := stack.certutil(person.Home, "-L", "-d", "sql:"+db, "-h", "all"); !strings.Contains(out, "portier:"+deviceID) {
		t.Fatalf("NSS does not list the token's certificate:\n%s\nagent log:\n%s", out, logs.String())
	}
	filepath.WalkDir(person.Home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobodyUID {
			t.Errorf("%s belongs to uid %d, not the person's", p, st.Uid)
		}
		return nil
	})
	if fi, err := os.Stat(filepath.Join(person.Home, ".tpm2_pkcs11")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the person's tpm2-pkcs11 store is not theirs alone: %v %v", fi, err)
	}
	if out, _ := exec.Command("certutil", "-K", "-d", "sql:"+db).CombinedOutput(); strings.Contains(string(out), deviceID) {
		t.Fatalf("the NSS database holds a private key of its own:\n%s", out)
	}

	// Chromium, as the person, with the TPM key: allowed, no prompt (a
	// prompt would hang headless Chromium).
	b := s.newTab(exe, chromedp.Env(append([]string{"HOME=" + person.Home}, stack.env...)...))
	b.open(s.url("app.localhost", "/reports"))
	b.signIn("ann@example.com", "correct horse battery")
	b.waitAt(s.url("app.localhost", "/reports"))
	b.wantText("h1", "hello from upstream")

	// Another person's browser with only the device's software key (the
	// NSS database without a TPM): the same route denies it.
	other := personHome(t, "nobody")
	sw := &agent.NSSStore{Run: agent.PersonCommands}
	id := softwareIdentity(t, stateDir, deviceID, other, s.console(), s.url("app.localhost", ""))
	sps, err := sw.Install(ctx, id)
	if err != nil || len(sps) != 1 {
		t.Fatalf("software install: %v %+v", err, sps)
	}
	b2 := s.newTab(exe, chromedp.Env("HOME="+other.Home))
	// It does present the device's certificate: a route for any enrolled
	// device lets it through.
	b2.open(s.url("managed.localhost", "/"))
	b2.signIn("ann@example.com", "correct horse battery")
	b2.waitAt(s.url("managed.localhost", "/"))
	b2.wantText("h1", "hello from upstream")
	hits := s.hits.Load()
	b2.open(s.url("app.localhost", "/reports"))
	b2.wantText("h1", "Access denied")
	if n := s.hits.Load(); n != hits {
		b2.fatalf("the upstream answered %d requests for the software key", n-hits)
	}

	// Removal: the module is unloaded and the token deleted.
	ps := browserPlacements(t, stateDir)
	for _, p := range ps {
		if p.Store == agent.StoreNSS {
			if err := nss.Remove(ctx, p); err != nil {
				t.Fatalf("remove: %v", err)
			}
		}
	}
	if out := stack.certutil(person.Home, "-L", "-d", "sql:"+db, "-h", "all"); strings.Contains(out, "portier:") {
		t.Fatalf("NSS still lists the token's certificate after removal:\n%s", out)
	}
}

// softwareIdentity is the agent's software device identity (device.key,
// device.crt of stateDir) for u's browsers.
func softwareIdentity(t *testing.T, stateDir, deviceID string, u agent.LocalUser, origins ...string) *agent.BrowserIdentity {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join(stateDir, agent.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		t.Fatal("device.key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	crtPEM, err := os.ReadFile(filepath.Join(stateDir, agent.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	for rest := crtPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	return &agent.BrowserIdentity{DeviceID: deviceID, Key: key, Leaf: chain[0], Intermediates: chain[1:],
		Users: []agent.LocalUser{u}, Origins: origins}
}

// browserPlacements reads the agent's browser.json.
func browserPlacements(t *testing.T, stateDir string) []agent.Placement {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, agent.BrowserFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ Placements []agent.Placement }
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Placements
}
