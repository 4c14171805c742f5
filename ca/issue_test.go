package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/ca"
)

func TestIssueDevice(t *testing.T) {
	e := newEnv(t, func(o *ca.Options) { o.DeviceCertLifetime = 2 * time.Hour })
	e.clock.Advance(10 * time.Minute) // issuance follows the injected clock
	chain := e.issue(t, "dev-42")
	if len(chain) != 2 {
		t.Fatalf("chain has %d certificates, want leaf + intermediate", len(chain))
	}
	leaf := chain[0]
	if !chain[1].Equal(e.ca.Intermediate()) {
		t.Error("chain[1] is not the intermediate")
	}
	if _, err := leaf.Verify(e.verifyOpts()); err != nil {
		t.Fatalf("leaf does not verify to the root for client auth: %v", err)
	}
	if leaf.Subject.CommonName != "dev-42" || len(leaf.URIs) != 1 || leaf.URIs[0].String() != "urn:portier:device:dev-42" {
		t.Errorf("names: CN %q, URIs %v", leaf.Subject.CommonName, leaf.URIs)
	}
	if len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) > 0 {
		t.Errorf("unexpected SANs: %v %v %v", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || leaf.IsCA {
		t.Errorf("usage: EKU %v, IsCA %v", leaf.ExtKeyUsage, leaf.IsCA)
	}
	if got := leaf.NotAfter.Sub(e.clock.Now()); got != 2*time.Hour {
		t.Errorf("lifetime from the injected clock = %v, want 2h", got)
	}
	if nb := leaf.NotBefore; nb.After(e.clock.Now()) || e.clock.Now().Sub(nb) > 2*time.Minute {
		t.Errorf("NotBefore = %v, clock = %v", nb, e.clock.Now())
	}
	if len(leaf.CRLDistributionPoints) != 1 || leaf.CRLDistributionPoints[0] != ca.DefaultCRLURL {
		t.Errorf("CRL distribution points = %v", leaf.CRLDistributionPoints)
	}
	rec, ok := e.st.Certificate(leaf.SerialNumber.String())
	if !ok {
		t.Fatal("issued certificate is not in the store")
	}
	if rec.DeviceID != "dev-42" || string(rec.DER) != string(leaf.Raw) || !rec.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("stored record = %+v", rec)
	}
}

func TestIssueDeviceKeyTypes(t *testing.T) {
	e := newEnv(t, nil)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	r2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, key := range map[string]crypto.Signer{"P-256": p256(t), "P-384": p384, "Ed25519": ed, "RSA-2048": r2048} {
		t.Run(name, func(t *testing.T) {
			// An empty subject and no SANs is fine too: Portier names the device.
			if _, err := e.ca.IssueDevice(context.Background(), newCSR(t, key, nil), "dev-"+name, ca.KeyInfo{}); err != nil {
				t.Fatalf("IssueDevice: %v", err)
			}
		})
	}
}

func TestBadCSRsRefused(t *testing.T) {
	e := newEnv(t, nil)
	r1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	k := p256(t)
	otherURI, _ := url.Parse("urn:portier:device:someone-else")
	httpURI, _ := url.Parse("https://evil.example")
	tampered := newCSR(t, k, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "dev-1"}})
	tampered = tamper(t, tampered)

	tests := []struct {
		name string
		csr  *x509.CertificateRequest
		want string
	}{
		{"RSA 1024", newCSR(t, r1024, nil), "RSA key of 1024 bits"},
		{"P-224", newCSR(t, p224, nil), "unsupported elliptic curve P-224"},
		{"P-521", newCSR(t, p521, nil), "unsupported elliptic curve P-521"},
		{"tampered signature", tampered, "signature does not verify"},
		{"DNS SAN", newCSR(t, k, &x509.CertificateRequest{DNSNames: []string{"portier.example"}}), `unexpected DNS name "portier.example"`},
		{"IP SAN", newCSR(t, k, &x509.CertificateRequest{IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}), "unexpected IP address"},
		{"email SAN", newCSR(t, k, &x509.CertificateRequest{EmailAddresses: []string{"a@b.c"}}), "unexpected email"},
		{"other device URI", newCSR(t, k, &x509.CertificateRequest{URIs: []*url.URL{otherURI}}), "unexpected URI"},
		{"web URI", newCSR(t, k, &x509.CertificateRequest{URIs: []*url.URL{httpURI}}), "unexpected URI"},
		{"other CN", newCSR(t, k, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "admin"}}), `common name "admin"`},
		{"registeredID SAN", newCSR(t, k, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{registeredIDSAN(t)}}), "subject alternative name of type 8"},
		{"nil", nil, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ca.IssueDevice(context.Background(), tc.csr, "dev-1", ca.KeyInfo{})
			if !errors.Is(err, ca.ErrInvalidCSR) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("IssueDevice = %v, want ErrInvalidCSR mentioning %q", err, tc.want)
			}
		})
	}
	for _, id := range []string{"", "a b", "dev/1", "dév", strings.Repeat("x", 129)} {
		if _, err := e.ca.IssueDevice(context.Background(), newCSR(t, k, nil), id, ca.KeyInfo{}); !errors.Is(err, ca.ErrInvalidDeviceID) {
			t.Errorf("device id %q: err = %v, want ErrInvalidDeviceID", id, err)
		}
	}
	if n := countCerts(t, e); n != 0 {
		t.Errorf("%d certificates stored after refused requests", n)
	}
}

// tamper flips a bit in the CSR's signature.
func tamper(t *testing.T, csr *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	der := append([]byte(nil), csr.Raw...)
	der[len(der)-3] ^= 0x01
	out, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("tampered CSR does not parse: %v", err)
	}
	return out
}

// registeredIDSAN is a SAN extension with a registeredID name, a type the
// standard library parses into nothing.
func registeredIDSAN(t *testing.T) pkix.Extension {
	t.Helper()
	oid, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 3, 4})
	// registeredID is [8] IMPLICIT OBJECT IDENTIFIER: retag the OID.
	gn := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 8, Bytes: oid[2:]}
	val, err := asn1.Marshal([]asn1.RawValue{gn})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: val}
}

func TestRenew(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	old := e.issue(t, "dev-7")[0]

	t.Run("same key", func(t *testing.T) {
		chain, err := e.ca.Renew(ctx, old, nil, ca.KeyInfo{})
		if err != nil {
			t.Fatal(err)
		}
		n := chain[0]
		if n.SerialNumber.Cmp(old.SerialNumber) == 0 {
			t.Error("renewal reused the serial")
		}
		if !samePub(n.PublicKey, old.PublicKey) {
			t.Error("renewal changed the key")
		}
		if id, ok := ca.DeviceIDFromCert(n); !ok || id != "dev-7" || n.Subject.CommonName != "dev-7" {
			t.Errorf("renewed names: %v %v", id, n.Subject)
		}
		if got, want := n.NotAfter.Sub(n.NotBefore), old.NotAfter.Sub(old.NotBefore); got != want {
			t.Errorf("renewed validity %v, original %v", got, want)
		}
		if _, err := n.Verify(e.verifyOpts()); err != nil {
			t.Errorf("renewed certificate does not verify: %v", err)
		}
		if rec, ok := e.st.Certificate(n.SerialNumber.String()); !ok || rec.DeviceID != "dev-7" {
			t.Errorf("renewed certificate not stored for the device: %+v", rec)
		}
	})
	t.Run("rekey", func(t *testing.T) {
		k, csr := deviceCSR(t, "dev-7")
		chain, err := e.ca.Renew(ctx, old, csr, ca.KeyInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if !samePub(chain[0].PublicKey, k.Public()) {
			t.Error("rekey did not take the new key")
		}
	})
	t.Run("rekey CSR for another device", func(t *testing.T) {
		_, csr := deviceCSR(t, "dev-8")
		if _, err := e.ca.Renew(ctx, old, csr, ca.KeyInfo{}); !errors.Is(err, ca.ErrInvalidCSR) {
			t.Errorf("Renew = %v, want ErrInvalidCSR", err)
		}
	})
	t.Run("certificate of another CA", func(t *testing.T) {
		foreign := newEnv(t, nil).issue(t, "dev-7")[0]
		if _, err := e.ca.Renew(ctx, foreign, nil, ca.KeyInfo{}); !errors.Is(err, ca.ErrUnknownCertificate) {
			t.Errorf("Renew = %v, want ErrUnknownCertificate", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		leaf := e.issue(t, "dev-9")[0]
		if err := e.ca.Revoke(ctx, leaf.SerialNumber.String(), ca.ReasonKeyCompromise, "lost"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ca.Renew(ctx, leaf, nil, ca.KeyInfo{}); !errors.Is(err, ca.ErrRevoked) {
			t.Errorf("Renew = %v, want ErrRevoked", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		leaf := e.issue(t, "dev-10")[0]
		e.clock.Advance(25 * time.Hour)
		defer e.clock.Advance(-25 * time.Hour)
		if _, err := e.ca.Renew(ctx, leaf, nil, ca.KeyInfo{}); !errors.Is(err, ca.ErrExpired) {
			t.Errorf("Renew = %v, want ErrExpired", err)
		}
	})
}

func samePub(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(eq)
	return ok && ea.Equal(b)
}
