//go:build linux

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
)

// nobodyUID is the uid of Debian's nobody, the test's person.
const nobodyUID = 65534

// tpm2PKCS11Module is where Debian's libtpm2-pkcs11-1 installs the module.
const tpm2PKCS11Module = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"

// requireTPMBrowserStack returns once the real chain can run: swtpm,
// tpm2-abrmd (the resource manager a real machine has in the kernel as
// /dev/tpmrm0), dbus-daemon, the tpm2-pkcs11 module and its tools, and
// OpenSC's pkcs11-tool. It skips without them and fails when
// PORTIER_TEST_REQUIRE_ALL=1.
func requireTPMBrowserStack(t *testing.T) {
	t.Helper()
	const msg = "the TPM browser-key test needs Debian's swtpm, tpm2-tools, tpm2-abrmd, libtss2-tcti-tabrmd0, dbus, libtpm2-pkcs11-1, libtpm2-pkcs11-tools and opensc"
	missing := ""
	for _, tool := range []string{"swtpm", "tpm2_getcap", "tpm2-abrmd", "dbus-daemon", "tpm2_ptool", "pkcs11-tool", "modutil"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing += " " + tool
		}
	}
	if _, err := os.Stat(tpm2PKCS11Module); err != nil {
		missing += " " + tpm2PKCS11Module
	}
	if missing == "" {
		return
	}
	if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
		t.Fatalf("%s (missing:%s), and PORTIER_TEST_REQUIRE_ALL=1 requires them", msg, missing)
	}
	t.Skipf("skipping: %s (missing:%s)", msg, missing)
}

// startTPMStack starts a fresh software TPM (its control port right after
// its command port, as the swtpm TCTI wants), a private D-Bus session bus
// and tpm2-abrmd on it, and returns the environment that points the TSS
// tools and the tpm2-pkcs11 module at that TPM.
func startTPMStack(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	start := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = &lockedBuffer{}, &lockedBuffer{}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	var port int
	for try := 0; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1)); err == nil {
			l2.Close()
			break
		}
		if try == 20 {
			t.Fatal("no two adjacent free ports for swtpm")
		}
	}
	os.MkdirAll(filepath.Join(dir, "tpm"), 0o700)
	start("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+filepath.Join(dir, "tpm"),
		"--server", "type=tcp,port="+strconv.Itoa(port)+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+strconv.Itoa(port+1)+",bindaddr=127.0.0.1",
		"--flags", "not-need-init,startup-clear")
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
	start("dbus-daemon", "--nofork", "--config-file="+conf)
	waitFor(t, "the D-Bus socket", func() error { _, err := os.Stat(filepath.Join(busDir, "bus")); return err })
	waitFor(t, "swtpm", func() error {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err
	})
	abrmd := exec.Command("tpm2-abrmd", "--session", "--allow-root", "--flush-all", "--tcti=swtpm:host=127.0.0.1,port="+strconv.Itoa(port))
	abrmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+bus)
	out := &lockedBuffer{}
	abrmd.Stdout, abrmd.Stderr = out, out
	if err := abrmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { abrmd.Process.Kill(); abrmd.Wait() })
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus, "TPM2TOOLS_TCTI=tabrmd:bus_type=session", "TPM2_PKCS11_TCTI=tabrmd:bus_type=session"}
	waitFor(t, "tpm2-abrmd", func() error {
		cmd := exec.Command("tpm2_getcap", "properties-fixed")
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s; abrmd: %s", err, b, out.String())
		}
		return nil
	})
	return env
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

// testCA is a real Portier CA on a throw-away store.
func testCA(t *testing.T) *ca.CA {
	t.Helper()
	dir := t.TempDir()
	be, err := boltstore.Open(filepath.Join(dir, "portier.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), be, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.New(context.Background(), ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: filepath.Join(dir, "ca")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); st.Close(); be.Close() })
	return c
}

// TestBrowserTPMKey runs the whole Linux chain with real parts: the agent's
// NSS store with TPM browser keys sets up, for a person, a tpm2-pkcs11
// token with an empty user PIN in ~/.tpm2_pkcs11, a P-256 key generated in
// the (software) TPM, a certificate request signed by that key, a browser
// certificate from a real Portier CA, the module registered in the
// person's NSS database; headless Chromium (HOME = that person's home, the
// agent's AutoSelectCertificateForUrls policy) then reaches a TLS server
// that requires a client certificate, WITHOUT any prompt, and the server
// sees the TPM key's certificate (purpose browser, hardware). The NSS
// database holds no private key of its own. Removal unloads the module and
// deletes the token, and Chromium then has no certificate to present.
func TestBrowserTPMKey(t *testing.T) {
	exe := requireChromium(t)
	requireNSSTools(t)
	requireRoot(t)
	requireTPMBrowserStack(t)
	env := startTPMStack(t)
	c := testCA(t)
	ctx := context.Background()
	const deviceID = "dev_tpmbrowser0123456789"

	// The agent's own (software) key and certificate: what NSS would get
	// without a TPM, and whose issuer the policy selects.
	agentKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, agentKey)
	csr, _ := x509.ParseCertificateRequest(csrDER)
	agentChain, err := c.IssueDevice(ctx, csr, deviceID, ca.KeyInfo{Protection: store.KeySoftware})
	if err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		leaf := r.TLS.PeerCertificates[0]
		ki := ca.KeyInfoFromCert(leaf)
		fmt.Fprintf(w, "serial=%s cn=%s purpose=%s protection=%s person=%s", leaf.SerialNumber, leaf.Subject.CommonName, ki.Purpose, ki.Protection, ki.Person)
	}))
	pool := x509.NewCertPool()
	for _, r := range c.Roots() {
		pool.AddCert(r)
	}
	pool.AddCert(c.Intermediate())
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	origin := strings.Replace(srv.URL, "127.0.0.1", "tpm.localhost", 1)

	// The person is another uid (nobody's, no account needed): every
	// command of the setup runs as that uid, as the root agent runs them
	// for a person, and every file it makes must be theirs.
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
	person := agent.LocalUser{Name: "nobody", UID: nobodyUID, GID: nobodyUID, Home: home}
	var issued []*x509.Certificate
	id := &agent.BrowserIdentity{DeviceID: deviceID, Key: agentKey, Leaf: agentChain[0], Intermediates: agentChain[1:],
		Users: []agent.LocalUser{person}, Origins: []string{origin},
		IssueBrowserCertificate: func(ctx context.Context, who string, csrPEM []byte) ([]*x509.Certificate, error) {
			csr, err := ca.ParseCSR(csrPEM)
			if err != nil {
				return nil, err
			}
			issued, err = c.IssueDevice(ctx, csr, deviceID, ca.KeyInfo{Protection: store.KeyHardware, Purpose: ca.PurposeBrowser, Person: who})
			return issued, err
		}}
	var logs lockedBuffer
	keys := &agent.TPMBrowserKeys{Module: tpm2PKCS11Module, Run: agent.PersonCommands, Env: env, Device: "-",
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	nss := &agent.NSSStore{Run: agent.PersonCommands, TPM: keys}
	ps, err := nss.Install(ctx, id)
	if err != nil || len(ps) != 1 {
		t.Fatalf("install: %v %+v\n%s", err, ps, logs.String())
	}
	if len(issued) == 0 || ps[0].Nickname != "portier:"+deviceID || ps[0].Serial != issued[0].SerialNumber.String() {
		t.Fatalf("the person got the software key, not a TPM key: %+v\nagent log:\n%s", ps[0], logs.String())
	}
	db := filepath.Join(home, ".pki", "nssdb")
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobodyUID {
			t.Errorf("%s belongs to uid %d, not the person's", p, st.Uid)
		}
		return nil
	})
	if fi, err := os.Stat(filepath.Join(home, ".tpm2_pkcs11")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the person's tpm2-pkcs11 store is not theirs alone: %v %v", fi, err)
	}
	if out, _ := exec.Command("certutil", "-K", "-d", "sql:"+db).CombinedOutput(); strings.Contains(string(out), deviceID) {
		t.Fatalf("the NSS database holds a private key of its own:\n%s", out)
	}
	policy := &agent.ChromePolicyStore{Dirs: []string{chromiumPolicyDir}}
	pps, err := policy.Install(ctx, id)
	t.Cleanup(func() {
		for _, p := range pps {
			policy.Remove(ctx, p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	want := fmt.Sprintf("serial=%s cn=%s purpose=browser protection=hardware person=nobody", issued[0].SerialNumber, deviceID)
	if got := chromiumFetch(t, exe, home, env, origin+"/"); !strings.Contains(got, want) {
		t.Fatalf("Chromium presented something else: page %q, want %q\nagent log:\n%s", got, want, logs.String())
	}

	if err := nss.Remove(ctx, ps[0]); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if out, _ := exec.Command("certutil", "-L", "-d", "sql:"+db, "-h", "all").CombinedOutput(); strings.Contains(string(out), "portier:") {
		t.Fatalf("NSS still lists the token's certificate after removal:\n%s", out)
	}
	if got := chromiumFetch(t, exe, home, env, origin+"/"); strings.Contains(got, "serial=") {
		t.Fatalf("after removal Chromium still presented a certificate: %q", got)
	}
}

// chromiumFetch opens u in a fresh headless Chromium run for the person
// (HOME = home, the TPM stack's environment) and returns the page's text,
// or the navigation error.
func chromiumFetch(t *testing.T, exe, home string, env []string, u string) string {
	t.Helper()
	out := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
		chromedp.Flag("host-resolver-rules", "MAP *.localhost 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Env(append([]string{"HOME=" + home}, env...)...),
		chromedp.CombinedOutput(out))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(allocCtx)
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Chromium hung on %s (a PIN prompt?)\n%s", u, tail(withoutDBus(out.String()), 3000))
		}
		return "navigation failed: " + err.Error()
	}
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "read failed: " + err.Error()
	}
	return body
}
