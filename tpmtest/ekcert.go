package tpmtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"
)

// EKCertIndexRSA is the NV index where a TPM keeps its RSA 2048 EK
// certificate (TCG EK Credential Profile, section 2.2.1.4), the one
// go-attestation's EKs reads.
const EKCertIndexRSA = 0x01c00002

// nvChunk bounds one TPM2_NV_Write: below every TPM's MAX_NV_BUFFER_SIZE.
const nvChunk = 512

// Manufacturer is a test TPM manufacturer's certificate authority: it
// signs EK certificates as a chip vendor does at the factory.
type Manufacturer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewManufacturer makes a self-signed manufacturer CA named name.
func NewManufacturer(t testing.TB, name string) *Manufacturer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Manufacturer{Cert: crt, Key: key}
}

// OIDs of the TCG EK Credential Profile.
var (
	oidTCGKpEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	oidTPMManufacturer    = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel           = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion         = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidSubjectAltName     = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// ProvisionEKCertificate does what a TPM vendor does at the factory: it
// reads the TPM's RSA endorsement key, has m sign an EK certificate for
// it shaped as real ones are (empty subject, a critical subject
// alternative name holding only the TPM's manufacturer, model and version
// as a directory name, the TCG EK extended key usage), and writes it into
// NV index EKCertIndexRSA, so that go-attestation's EKs returns it as the
// EK's Certificate. It returns the certificate.
func ProvisionEKCertificate(t testing.TB, tpm *TPM, m *Manufacturer) *x509.Certificate {
	t.Helper()
	pub := ekPublic(t, tpm)
	der := signEKCert(t, pub, m)
	c, err := tpm.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	attrs := tpm2.AttrOwnerWrite | tpm2.AttrOwnerRead | tpm2.AttrAuthRead | tpm2.AttrAuthWrite | tpm2.AttrNoDA
	if err := tpm2.NVDefineSpace(c, tpm2.HandleOwner, tpmutil.Handle(EKCertIndexRSA), "", "", nil, attrs, uint16(len(der))); err != nil {
		t.Fatalf("tpmtest: define the EK certificate's NV index: %v", err)
	}
	for off := 0; off < len(der); off += nvChunk {
		end := min(off+nvChunk, len(der))
		if err := tpm2.NVWrite(c, tpm2.HandleOwner, tpmutil.Handle(EKCertIndexRSA), "", der[off:end], uint16(off)); err != nil {
			t.Fatalf("tpmtest: write the EK certificate at offset %d: %v", off, err)
		}
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return crt
}

// ekPublic reads the TPM's RSA EK public key through go-attestation.
func ekPublic(t testing.TB, tpm *TPM) crypto.PublicKey {
	t.Helper()
	c, err := tpm.Open()
	if err != nil {
		t.Fatal(err)
	}
	at, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: c})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	defer at.Close()
	eks, err := at.EKs()
	if err != nil || len(eks) == 0 {
		t.Fatalf("tpmtest: read the endorsement key: %v (%d keys)", err, len(eks))
	}
	return eks[0].Public
}

// signEKCert makes an EK certificate for pub signed by m.
func signEKCert(t testing.TB, pub crypto.PublicKey, m *Manufacturer) []byte {
	t.Helper()
	dir, err := asn1.Marshal(pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: oidTPMManufacturer, Value: "id:53575450"}, // "SWTP"
		{Type: oidTPMModel, Value: "swtpm"},
		{Type: oidTPMVersion, Value: "id:00020000"},
	}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	// GeneralNames { [4] directoryName }: explicit tag, as Name is a CHOICE.
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dir}})
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidTCGKpEKCertificate},
		ExtraExtensions:       []pkix.Extension{{Id: oidSubjectAltName, Critical: true, Value: san}},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.Cert, pub, m.Key)
	if err != nil {
		t.Fatalf("tpmtest: sign the EK certificate: %v", err)
	}
	return der
}
