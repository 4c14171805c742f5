package ca_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// TestKeyInfo checks that a device certificate says what the caller
// decided about its key, that the stored record repeats it, that a renewal
// for the same key keeps it, and that a renewal for a new key says only
// what the caller decided for the new key.
func TestKeyInfo(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	attested := ca.KeyInfo{Protection: store.KeyHardware, Source: store.KeySourceTPM, Purpose: ca.PurposeAgent}
	_, csr := deviceCSR(t, "dev-1")
	chain, err := e.ca.IssueDevice(ctx, csr, "dev-1", attested)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.KeyInfoFromCert(chain[0]); got != attested || !got.Attested() {
		t.Errorf("issued certificate says %+v, want %+v", got, attested)
	}
	rec, _ := e.st.Certificate(chain[0].SerialNumber.String())
	if rec.KeyProtection != store.KeyHardware || rec.KeyProtectionSource != store.KeySourceTPM || rec.Purpose != ca.PurposeAgent {
		t.Errorf("stored record %+v does not repeat the certificate's key info", rec)
	}

	same, err := e.ca.Renew(ctx, chain[0], nil, ca.KeyInfo{Protection: store.KeySoftware})
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.KeyInfoFromCert(same[0]); got != attested {
		t.Errorf("renewal for the same key says %+v, want the key's %+v", got, attested)
	}

	_, csr2 := deviceCSR(t, "dev-1")
	claimed := ca.KeyInfo{Protection: store.KeySoftware, Source: store.KeySourceAgent, Purpose: ca.PurposeAgent}
	rekeyed, err := e.ca.Renew(ctx, same[0], csr2, claimed)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.KeyInfoFromCert(rekeyed[0]); got != claimed {
		t.Errorf("renewal for a new key says %+v, want %+v: the old key's attestation must not carry over", got, claimed)
	}

	browser := ca.KeyInfo{Protection: store.KeyHardware, Source: store.KeySourceAgent, Purpose: ca.PurposeBrowser, Person: `S-1-5-21-1-2-3-1001`}
	_, csr3 := deviceCSR(t, "dev-1")
	b, err := e.ca.IssueDevice(ctx, csr3, "dev-1", browser)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.KeyInfoFromCert(b[0]); got != browser || got.Attested() {
		t.Errorf("browser certificate says %+v, want %+v", got, browser)
	}
	if _, err := e.ca.IssueDevice(ctx, csr3, "dev-1", ca.KeyInfo{Protection: "quantum"}); err == nil {
		t.Error("an unknown protection was written into a certificate")
	}
}

// TestKeyInfoFromCertFailsToSoftware checks that a certificate without the
// extension, or with a value Portier does not write, reads as software.
func TestKeyInfoFromCertFailsToSoftware(t *testing.T) {
	none := &x509.Certificate{}
	if got := ca.KeyInfoFromCert(none); got.Hardware() || got.Purpose != ca.PurposeAgent {
		t.Errorf("no extension reads as %+v, want a software agent key", got)
	}
	for _, v := range [][]byte{{0x30, 0x03, 0x0c, 0x01, 'x'}, {0xff}, {}} {
		crt := &x509.Certificate{Extensions: []pkix.Extension{{Id: ca.OIDKeyInfo, Value: v}}}
		if got := ca.KeyInfoFromCert(crt); got.Hardware() || got.Attested() {
			t.Errorf("malformed value %x reads as %+v", v, got)
		}
	}
}

// FuzzKeyInfoFromCert: the extension of a presented certificate is read on
// the proxy's path; whatever it holds, reading it never panics and never
// says hardware unless it says exactly that.
func FuzzKeyInfoFromCert(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x10, 0x0c, 0x08, 'h', 'a', 'r', 'd', 'w', 'a', 'r', 'e', 0x0c, 0x00, 0x0c, 0x00, 0x0c, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		crt := &x509.Certificate{Extensions: []pkix.Extension{{Id: ca.OIDKeyInfo, Value: v}}}
		k := ca.KeyInfoFromCert(crt)
		if k.Protection != store.KeyHardware && k.Protection != store.KeySoftware {
			t.Fatalf("protection %q", k.Protection)
		}
	})
}
