package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/tpmtest"
)

// enrollTPM enrolls a fresh state dir against s with mode and open.
func enrollTPM(t *testing.T, s *attestServer, mode string, open TPMOpener, out *bytes.Buffer) (*Enrolled, string, error) {
	t.Helper()
	dir := t.TempDir()
	if out == nil {
		out = &bytes.Buffer{}
	}
	res, err := Enroll(context.Background(), EnrollOptions{Server: s.url, Code: "code-1", Fingerprint: s.ca.Fingerprint(), StateDir: dir,
		Version: "test", KeyMode: mode, TPM: open, Out: out,
		Info: func(context.Context) agentwire.DeviceInfo {
			return agentwire.DeviceInfo{Platform: "linux", Hostname: "tpm-host"}
		},
		Hardware: func(context.Context) string { return "TPM 2.0" }})
	return res, dir, err
}

func readLeaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseChain(b, filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// TestEnrollWithTPMKey: with a TPM, the device key is made in it and
// proved to the server; device.key is the TPM's wrapped blob (no software
// key in it), the certificate says the key is attested hardware, and
// signing goes through the TPM. After a restart the agent loads the key
// into the TPM again and renews over mutual TLS with it; the certificate
// keeps its key information. The same device.key on another TPM is
// useless.
func TestEnrollWithTPMKey(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	res, dir, err := enrollTPM(t, s, KeyModeTPM, swtpmOpener(tpm), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyProtection != agentwire.KeyHardware || res.KeyProtectionSource != store.KeySourceTPM || res.KeyNote != "" {
		t.Fatalf("enrolled with key %q from %q (%q), want attested hardware", res.KeyProtection, res.KeyProtectionSource, res.KeyNote)
	}
	keyPath := filepath.Join(dir, KeyFile)
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device.key: %v, mode %v", err, fi.Mode())
	}
	b, _ := os.ReadFile(keyPath)
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "TSS2 PRIVATE KEY" {
		t.Fatalf("device.key is not a TSS2 key:\n%s", b)
	}
	if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		t.Fatal("device.key parses as a software (PKCS #8) key")
	}
	leaf := readLeaf(t, filepath.Join(dir, CertFile))
	if ki := ca.KeyInfoFromCert(leaf); !ki.Attested() || ki.Purpose != ca.PurposeAgent && ki.Purpose != "" {
		t.Fatalf("certificate key info %+v, want attested hardware for the agent", ki)
	}
	st, err := loadState(dir)
	if err != nil || st.KeyProtection != agentwire.KeyHardware || st.KeyProtectionSource != store.KeySourceTPM {
		t.Fatalf("state %+v, %v", st, err)
	}

	a, err := Open(Options{StateDir: dir, Version: "test", Platform: PlatformLinux, TPM: swtpmOpener(tpm), Runner: &fakeRunner{},
		Collect: (&fakeCollect{}).collect})
	if err != nil {
		t.Fatal(err)
	}
	if a.tpm == nil {
		t.Fatal("the agent did not load the key into the TPM")
	}
	digest := sha256.Sum256([]byte("portier"))
	sig, err := a.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(leaf.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the TPM's signature does not verify with the certificate's key")
	}
	if err := a.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.Close()

	// Restart: a new agent from the state directory, renewing again.
	a, err = Open(Options{StateDir: dir, Version: "test", Platform: PlatformLinux, TPM: swtpmOpener(tpm), Runner: &fakeRunner{},
		Collect: (&fakeCollect{}).collect})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if s.renewals != 2 {
		t.Fatalf("%d renewals, want 2", s.renewals)
	}
	for _, k := range s.clientKeys {
		if !k.Equal(leaf.PublicKey) {
			t.Fatal("a renewal was authenticated with a key other than the TPM key")
		}
	}
	renewed := readLeaf(t, filepath.Join(dir, CertFile))
	if renewed.SerialNumber.Cmp(leaf.SerialNumber) == 0 || !ca.KeyInfoFromCert(renewed).Attested() {
		t.Fatalf("renewed certificate %s with %+v, want a new serial, still attested", renewed.SerialNumber, ca.KeyInfoFromCert(renewed))
	}

	// The file is worth nothing on another TPM: the key does not load.
	other := tpmtest.Start(t)
	if _, err := Open(Options{StateDir: dir, Version: "test", TPM: swtpmOpener(other), Collect: (&fakeCollect{}).collect}); err == nil ||
		!strings.Contains(err.Error(), "load the key into the TPM (is this the machine it was made on?)") {
		t.Fatalf("the device key loaded on another TPM: %v", err)
	}
	// Nor without a TPM.
	if _, err := Open(Options{StateDir: dir, Version: "test", TPM: noTPM, Collect: (&fakeCollect{}).collect}); err == nil ||
		!strings.Contains(err.Error(), "no TPM 2.0") {
		t.Fatalf("open without a TPM: %v", err)
	}

	stat, err := ReadStatus(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if stat.KeyProtection != agentwire.KeyHardware || stat.Key != "hardware (TPM 2.0, attested by the server)" {
		t.Fatalf("status key %q: %q", stat.KeyProtection, stat.Key)
	}
}

// TestEnrollKeyTPMWithoutTPMFails: --key tpm on a machine without a usable
// TPM refuses to enroll, says why, and writes nothing.
func TestEnrollKeyTPMWithoutTPMFails(t *testing.T) {
	s := newAttestServer(t)
	_, dir, err := enrollTPM(t, s, KeyModeTPM, noTPM, nil)
	if err == nil || !strings.Contains(err.Error(), "--key tpm") || !strings.Contains(err.Error(), "no TPM 2.0 on this machine") {
		t.Fatalf("enroll --key tpm without a TPM: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left after a refused enrollment: %v", ents)
	}
}

// TestEnrollKeyAutoFallsBackToSoftware: --key auto without a TPM enrolls
// with a software key, and both the enrollment output and the status say
// why.
func TestEnrollKeyAutoFallsBackToSoftware(t *testing.T) {
	s := newAttestServer(t)
	var out bytes.Buffer
	res, dir, err := enrollTPM(t, s, KeyModeAuto, noTPM, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyProtection != agentwire.KeySoftware || !strings.Contains(out.String(), "no usable TPM: no TPM 2.0 on this machine") {
		t.Fatalf("key %q, output:\n%s", res.KeyProtection, out.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("device.key:\n%s", b)
	}
	if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	if ki := ca.KeyInfoFromCert(readLeaf(t, filepath.Join(dir, CertFile))); ki.Hardware() {
		t.Fatalf("a software key was certified as %+v", ki)
	}
	st, err := ReadStatus(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := "software (device.key in the state directory); no usable TPM: no TPM 2.0 on this machine (/dev/tpmrm0 does not exist)"
	if st.Key != want || st.BrowserKey != "the device key itself (software, copied into the browser stores)" {
		t.Fatalf("status key %q, browser key %q", st.Key, st.BrowserKey)
	}
}

// TestEnrollKeySoftwareNeverOpensTheTPM: --key software is the software
// key as before, without touching the TPM.
func TestEnrollKeySoftwareNeverOpensTheTPM(t *testing.T) {
	s := newAttestServer(t)
	opened := false
	res, dir, err := enrollTPM(t, s, KeyModeSoftware, func() (attest.CommandChannelTPM20, error) { opened = true; return noTPM() }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if opened || res.KeyProtection != agentwire.KeySoftware || res.KeyNote != "" {
		t.Fatalf("opened the TPM %v, key %q (%q)", opened, res.KeyProtection, res.KeyNote)
	}
	if st, _ := ReadStatus(dir, time.Now()); st.Key != "software (device.key in the state directory)" {
		t.Fatalf("status key %q", st.Key)
	}
	if _, _, err := enrollTPM(t, s, "hsm", noTPM, nil); err == nil || !strings.Contains(err.Error(), "--key must be auto, tpm or software") {
		t.Fatalf("--key hsm: %v", err)
	}
}

// TestTPMKeyUnattestedByServer: a server that does not verify TPM keys
// still gets the key made in the TPM; the certificate is the agent's
// claim, and status says the server could not verify the TPM, and why.
func TestTPMKeyUnattestedByServer(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	s.noAttest = true
	var out bytes.Buffer
	res, dir, err := enrollTPM(t, s, KeyModeAuto, swtpmOpener(tpm), &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyProtection != agentwire.KeyHardware || res.KeyProtectionSource != store.KeySourceAgent {
		t.Fatalf("key %q from %q", res.KeyProtection, res.KeyProtectionSource)
	}
	if !strings.Contains(out.String(), "WARNING: the device key is in the TPM, but the server does not verify TPM keys") {
		t.Fatalf("output:\n%s", out.String())
	}
	st, err := ReadStatus(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := "hardware (TPM 2.0, the server could not verify the TPM: the server does not verify TPM keys (it answered Not Found to the attestation challenge))"; st.Key != want {
		t.Fatalf("status key %q, want %q", st.Key, want)
	}
}

// TestTPMFailureIsLoggedAndReopened: when the TPM connection breaks under
// the running agent, the signature fails with a log line saying so (no
// hang), and the next one opens the TPM again and loads the key.
func TestTPMFailureIsLoggedAndReopened(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	_, dir, err := enrollTPM(t, s, KeyModeTPM, swtpmOpener(tpm), nil)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*tpmtest.Conn
	open := func() (attest.CommandChannelTPM20, error) {
		c, err := tpm.Open()
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}
	var logs bytes.Buffer
	a, err := Open(Options{StateDir: dir, Version: "test", TPM: open, Collect: (&fakeCollect{}).collect,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	digest := sha256.Sum256([]byte("portier"))
	conns[0].Close() // the TPM goes away under the agent
	if _, err := a.key.Sign(rand.Reader, digest[:], crypto.SHA256); err == nil || !strings.Contains(err.Error(), "TPM signature") {
		t.Fatalf("signature through a broken TPM connection: %v", err)
	}
	if !strings.Contains(logs.String(), "the TPM could not sign with the device key; it is reopened for the next attempt") {
		t.Fatalf("no log line for the TPM failure:\n%s", logs.String())
	}
	sig, err := a.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 2 || !ecdsa.VerifyASN1(a.key.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("%d TPM connections, signature valid %v", len(conns), ecdsa.VerifyASN1(a.key.Public().(*ecdsa.PublicKey), digest[:], sig))
	}
}
