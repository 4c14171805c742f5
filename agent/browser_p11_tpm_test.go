package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/tpmtest"
)

// tpmBrowserAgent is an agent enrolled against s with a software device
// key, whose TPM is tpm (the device key holds no TPM connection, so the
// single-connection software TPM is free for the browser key).
func tpmBrowserAgent(t *testing.T, s *attestServer, tpm *tpmtest.TPM) *Agent {
	t.Helper()
	_, dir, err := enrollTPM(t, s, KeyModeSoftware, swtpmOpener(tpm), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(Options{StateDir: dir, Version: "test", Platform: PlatformLinux, TPM: swtpmOpener(tpm), Runner: &fakeRunner{},
		Collect: (&fakeCollect{}).collect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// TestTPMBrowserKeyAttested makes a person's browser key with a real
// (software) TPM: the agent asks for a challenge over mutual TLS (no
// code), answers it, has the key certified by the AK, and the server
// (go-attestation's verifier steps) issues a browser certificate saying
// hardware, tpm_attested, for that person. The key file loads in that
// TPM and signs for the certificate's key; it is useless on another TPM.
func TestTPMBrowserKeyAttested(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	a := tpmBrowserAgent(t, s, tpm)
	key, err := a.tpmBrowserKeyMaker().New(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	if s.deviceChallenges != 1 || s.browserCerts != 1 {
		t.Fatalf("%d device challenges, %d browser certificates, want 1 and 1", s.deviceChallenges, s.browserCerts)
	}
	ki := ca.KeyInfoFromCert(key.Chain[0])
	if ki.Protection != store.KeyHardware || ki.Source != store.KeySourceTPM || ki.Purpose != ca.PurposeBrowser || ki.Person != "ann" ||
		key.Source != store.KeySourceTPM {
		t.Fatalf("browser certificate %+v (source %q), want attested hardware for ann", ki, key.Source)
	}
	if err := checkTPMBrowserKey(key); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(key.File)
	pubArea, privArea, err := decodeTPMKeyFile(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The key loads under this TPM's SRK and signs for the certificate's
	// key, the scheme named at the signature as tpm2-pkcs11 does.
	conn, err := tpm.Open()
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := tpm2.Load(conn, srkHandle, "", pubArea, privArea)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("portier"))
	sig, err := (&handleSigner{rw: conn, h: h, pub: key.Chain[0].PublicKey.(*ecdsa.PublicKey)}).Sign(rand.Reader, digest[:], crypto.SHA256)
	tpm2.FlushContext(conn, h)
	conn.Close()
	if err != nil || !ecdsa.VerifyASN1(key.Chain[0].PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("the key file does not sign for the certificate's key: %v", err)
	}
	// tpm2-pkcs11 links only keys without a scheme of their own.
	if tp, err := tpm2.DecodePublic(pubArea); err != nil || tp.ECCParameters.Sign != nil && tp.ECCParameters.Sign.Alg != tpm2.AlgNull {
		t.Fatalf("the browser key has a scheme: %+v %v", tp.ECCParameters, err)
	}
	other := tpmtest.Start(t)
	if _, err := loadTPMSigner(swtpmOpener(other), pubArea, privArea, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("the browser key file loaded in another TPM")
	}
}

// TestTPMBrowserKeyNotAttested: a server that does not verify TPM keys
// (no challenge endpoint) records the key as software; the key is still
// made (in the TPM), with the reason logged. A server that answers with a
// certificate for another key gets nothing installed.
func TestTPMBrowserKeyNotAttested(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	a := tpmBrowserAgent(t, s, tpm)
	var logs bytes.Buffer
	m := a.tpmBrowserKeyMaker()
	m.Log = slog.New(slog.NewTextHandler(&logs, nil))
	s.noAttest = true
	key, err := m.New(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	if ki := ca.KeyInfoFromCert(key.Chain[0]); ki.Protection != store.KeySoftware || ki.Attested() {
		t.Fatalf("unattested browser key recorded as %+v", ki)
	}
	if !strings.Contains(logs.String(), "not attested") || !strings.Contains(logs.String(), "does not verify TPM keys") {
		t.Errorf("the reason is not logged: %s", logs.String())
	}
	s.noAttest, s.swapKey = false, true
	if _, err := m.New(context.Background(), "ann"); err == nil {
		t.Fatal("a certificate for another key was accepted")
	}
}

// TestTPMBrowserKeyKept: installing again (after the device certificate
// is renewed, or a retry after another store failed) reuses the person's
// TPM key and certificate until the certificate's renewal point, so the
// server is not asked for one more each time; after it, a new key. A new
// enrollment (--force) deletes the kept keys with the agent's files.
func TestTPMBrowserKeyKept(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	a := tpmBrowserAgent(t, s, tpm)
	now := time.Now()
	m := a.tpmBrowserKeyMaker()
	m.Now = func() time.Time { return now }
	first, err := m.New(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.New(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	if s.browserCerts != 1 || !again.Chain[0].Equal(first.Chain[0]) || string(again.File) != string(first.File) {
		t.Fatalf("installing again asked for %d certificates, want the kept one", s.browserCerts)
	}
	if fi, err := os.Stat(filepath.Join(a.dir, TPMBrowserKeysFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept keys file: %v %v", fi, err)
	}
	if _, err := m.New(context.Background(), "bob"); err != nil || s.browserCerts != 2 {
		t.Fatalf("another person: %v, %d certificates", err, s.browserCerts)
	}
	leaf := first.Chain[0]
	now = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore)*2/3 + time.Minute)
	renewed, err := m.New(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	if s.browserCerts != 3 || renewed.Chain[0].Equal(first.Chain[0]) {
		t.Fatalf("past the renewal point: %d certificates, same certificate %v", s.browserCerts, renewed.Chain[0].Equal(first.Chain[0]))
	}
	if !slices.Contains(profileFiles[:], TPMBrowserKeysFile) {
		t.Fatal("the kept keys are not among the files a new enrollment or a selective wipe deletes")
	}
}
