package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireNSSTools skips without Debian's libnss3-tools, and fails when
// PORTIER_TEST_REQUIRE_ALL=1.
func requireNSSTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			const msg = "this test needs Debian's libnss3-tools (certutil, pk12util)"
			if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
				t.Fatal(msg + ", and PORTIER_TEST_REQUIRE_ALL=1 requires it")
			}
			t.Skip("skipping: " + msg)
		}
	}
}

// testIdentity is a device identity from a throwaway CA: the same key
// with a certificate per serial, as renewals give.
type testIdentity struct {
	caKey *ecdsa.PrivateKey
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
}

func newTestIdentity(t *testing.T) *testIdentity {
	t.Helper()
	ti := &testIdentity{}
	ti.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ti.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Portier Intermediate CA", Organization: []string{"Test Org"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ti.caKey.PublicKey, ti.caKey)
	if err != nil {
		t.Fatal(err)
	}
	ti.ca, _ = x509.ParseCertificate(der)
	return ti
}

func (ti *testIdentity) issue(t *testing.T, serial int64, home string, origins ...string) *BrowserIdentity {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "dev_0123456789abcdef"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ti.ca, &ti.key.PublicKey, ti.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &BrowserIdentity{DeviceID: "dev_0123456789abcdef", Key: ti.key, Leaf: leaf, Intermediates: []*x509.Certificate{ti.ca},
		Users: []LocalUser{HomeUser(home)}, Origins: origins}
}

// nssCerts lists the serials of the certificates named nick in db.
func nssSerials(t *testing.T, db, nick string) []string {
	t.Helper()
	out, err := exec.Command("certutil", "-L", "-d", "sql:"+db, "-n", nick, "-a").CombinedOutput()
	if err != nil {
		return nil
	}
	var serials []string
	for rest := out; ; {
		blk, r := pemDecode(rest)
		if blk == nil {
			return serials
		}
		rest = r
		c, err := x509.ParseCertificate(blk)
		if err != nil {
			t.Fatal(err)
		}
		serials = append(serials, c.SerialNumber.String())
	}
}

// TestNSSStoreRealTools installs into a fresh ~/.pki/nssdb with the real
// certutil and pk12util, replaces the certificate as a renewal does, and
// removes everything.
func TestNSSStoreRealTools(t *testing.T) {
	requireNSSTools(t)
	ctx := context.Background()
	home := t.TempDir()
	db := filepath.Join(home, ".pki", "nssdb")
	s := &NSSStore{Run: ExecCommands}
	ti := newTestIdentity(t)
	first := ti.issue(t, 100, home)
	ps, err := s.Install(ctx, first)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if len(ps) != 1 || strings.Join(ps[0].CANicknames, ",") != "Portier Intermediate CA - Test Org" || ps[0].Path != db || ps[0].Nickname != "dev_0123456789abcdef - Test Org" || ps[0].Serial != "100" {
		t.Fatalf("placements = %+v", ps)
	}
	if got := nssSerials(t, db, "dev_0123456789abcdef - Test Org"); strings.Join(got, ",") != "100" {
		t.Fatalf("serials in the database = %v, want [100]", got)
	}
	// Renewal: the old placement is removed, the new certificate installed.
	if err := s.Remove(ctx, ps[0]); err != nil {
		t.Fatalf("remove: %v", err)
	}
	ps, err = s.Install(ctx, ti.issue(t, 101, home))
	if err != nil {
		t.Fatalf("install renewed: %v", err)
	}
	if got := nssSerials(t, db, "dev_0123456789abcdef - Test Org"); strings.Join(got, ",") != "101" {
		t.Fatalf("serials after renewal = %v, want only [101]", got)
	}
	if err := s.Remove(ctx, ps[0]); err != nil {
		t.Fatalf("remove: %v", err)
	}
	out, _ := exec.Command("certutil", "-L", "-d", "sql:"+db).CombinedOutput()
	keys, _ := exec.Command("certutil", "-K", "-d", "sql:"+db).CombinedOutput()
	if strings.Contains(string(out), "dev_") || strings.Contains(string(out), "Portier") || strings.Contains(string(keys), "dev_") {
		t.Fatalf("left in the database:\n%s\n%s", out, keys)
	}
}

func pemDecode(b []byte) ([]byte, []byte) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, nil
	}
	return blk.Bytes, rest
}
