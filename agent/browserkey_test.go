package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/tpmtest"
)

// recordStore is a browser store that remembers what it was given.
type recordStore struct {
	mu        sync.Mutex
	installed []*BrowserIdentity
	removed   []Placement
}

func (s *recordStore) Name() string { return "record" }

func (s *recordStore) Install(_ context.Context, id *BrowserIdentity) ([]Placement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installed = append(s.installed, id)
	return []Placement{{Store: "record", Path: "/record/" + id.Leaf.SerialNumber.String(), Serial: id.Leaf.SerialNumber.String()}}, nil
}

func (s *recordStore) Remove(_ context.Context, p Placement) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = append(s.removed, p)
	return nil
}

// TestTPMBrowserIdentityIsSeparate: when the device key is in the TPM,
// the browsers get a software key of their own (browser.key, 0600) with a
// browser certificate the server issued on the agent's mutual-TLS call,
// never the device key or certificate. It is asked for once, renewed for
// the same key two thirds into its life (the old one leaves the browsers),
// shown by status, and removed with its files on unenroll.
func TestTPMBrowserIdentityIsSeparate(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	_, dir, err := enrollTPM(t, s, KeyModeTPM, swtpmOpener(tpm), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := &recordStore{}
	a, err := Open(Options{StateDir: dir, Version: "test", Platform: PlatformLinux, TPM: swtpmOpener(tpm), Runner: &fakeRunner{},
		Collect: (&fakeCollect{}).collect, Clock: func() time.Time { return now },
		Browser: &BrowserOptions{Stores: []BrowserStore{rec}, Users: func() ([]LocalUser, error) {
			return []LocalUser{{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice"}}, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	if err := a.SyncBrowsers(ctx); err != nil {
		t.Fatal(err)
	}
	device := readLeaf(t, filepath.Join(dir, CertFile))
	if len(rec.installed) != 1 {
		t.Fatalf("%d installations, want 1", len(rec.installed))
	}
	id := rec.installed[0]
	bk, ok := id.Key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("the browsers got a %T, want a software ECDSA key", id.Key)
	}
	if bk.PublicKey.Equal(device.PublicKey) || id.Leaf.Equal(device) || !id.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(&bk.PublicKey) {
		t.Fatal("the browsers got the device key or certificate")
	}
	if ki := ca.KeyInfoFromCert(id.Leaf); ki.Purpose != ca.PurposeBrowser || ki.Hardware() || ki.Person != "" {
		t.Fatalf("browser certificate key info %+v", ki)
	}
	if devID, _ := ca.DeviceIDFromCert(id.Leaf); devID != a.DeviceID() {
		t.Fatalf("browser certificate for %q, want the device %q", devID, a.DeviceID())
	}
	fi, err := os.Stat(filepath.Join(dir, BrowserKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("browser.key: %v %v", err, fi)
	}
	b, _ := os.ReadFile(filepath.Join(dir, BrowserKeyFile))
	if blk, _ := pem.Decode(b); blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("browser.key:\n%s", b)
	} else if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil || !k.(*ecdsa.PrivateKey).Equal(bk) {
		t.Fatalf("browser.key is not the installed key: %v", err)
	}

	// Nothing changed: no new certificate, nothing installed again.
	if err := a.SyncBrowsers(ctx); err != nil {
		t.Fatal(err)
	}
	if s.browserCerts != 1 || len(rec.installed) != 1 {
		t.Fatalf("%d browser certificates, %d installations after a second sync, want 1 and 1", s.browserCerts, len(rec.installed))
	}

	// Two thirds into its life: renewed for the same key, reinstalled.
	first := id.Leaf
	now = renewPoint(first).Add(time.Minute)
	if err := a.SyncBrowsers(ctx); err != nil {
		t.Fatal(err)
	}
	if s.browserCerts != 2 || len(rec.installed) != 2 {
		t.Fatalf("%d browser certificates, %d installations after the renewal point, want 2 and 2", s.browserCerts, len(rec.installed))
	}
	second := rec.installed[1]
	if second.Leaf.SerialNumber.Cmp(first.SerialNumber) == 0 || !second.Key.(*ecdsa.PrivateKey).Equal(bk) {
		t.Fatal("the renewal did not give a new certificate for the same browser key")
	}
	if len(rec.removed) != 1 || rec.removed[0].Serial != first.SerialNumber.String() {
		t.Fatalf("removed %+v, want the first browser certificate", rec.removed)
	}
	for _, k := range s.clientKeys {
		if !k.Equal(device.PublicKey) {
			t.Fatal("a browser certificate was asked for with a certificate other than the TPM device certificate")
		}
	}

	st, err := ReadStatus(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.BrowserKey, "software (browser.key in the state directory") ||
		!strings.Contains(st.BrowserKey, "certificate serial "+second.Leaf.SerialNumber.String()+", valid until") {
		t.Fatalf("status browser key %q", st.BrowserKey)
	}

	if _, err := a.Unenroll(ctx, false); err != nil {
		t.Fatal(err)
	}
	if len(rec.removed) != 2 || rec.removed[1].Serial != second.Leaf.SerialNumber.String() {
		t.Fatalf("removed %+v, want the browser certificate removed on unenroll", rec.removed)
	}
	for _, f := range []string{BrowserKeyFile, BrowserCrtFile, KeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after unenroll: %v", f, err)
		}
	}
}

// TestTPMRefusesCertificatesForAnotherKey: a certificate the server sends
// for a key other than the TPM key (at enrollment) or the browser key (for
// the browsers) is refused and not kept.
func TestTPMRefusesCertificatesForAnotherKey(t *testing.T) {
	tpm := tpmtest.Start(t)
	s := newAttestServer(t)
	s.swapKey = true
	_, dir, err := enrollTPM(t, s, KeyModeTPM, swtpmOpener(tpm), nil)
	if err == nil || !strings.Contains(err.Error(), "not for this device's key") {
		t.Fatalf("enrollment with a certificate for another key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("device.key written after a refused certificate: %v", err)
	}

	s.swapKey = false
	_, dir, err = enrollTPM(t, s, KeyModeTPM, swtpmOpener(tpm), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordStore{}
	a, err := Open(Options{StateDir: dir, Version: "test", TPM: swtpmOpener(tpm), Collect: (&fakeCollect{}).collect,
		Browser: &BrowserOptions{Stores: []BrowserStore{rec}, Users: func() ([]LocalUser, error) { return nil, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s.swapKey = true
	if err := a.SyncBrowsers(context.Background()); err == nil || !strings.Contains(err.Error(), "not for this device's key") {
		t.Fatalf("browser certificate for another key: %v", err)
	}
	if len(rec.installed) != 0 {
		t.Fatal("an identity was installed with a certificate for another key")
	}
	if _, err := os.Stat(filepath.Join(dir, BrowserCrtFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("browser.crt written for another key: %v", err)
	}
}
