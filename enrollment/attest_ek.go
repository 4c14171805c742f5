package enrollment

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/store"
)

// EKRoots are the TPM manufacturer certificate authorities the
// organization trusts: an endorsement key whose certificate chains to one
// of them is a key of a real TPM from that manufacturer.
type EKRoots struct {
	pool *x509.CertPool
	n    int
}

// ParseEKRoots reads PEM CA certificates (roots and, if the admin wishes,
// intermediates: every certificate in the file is a trust anchor). A file
// with no certificate, a block that is not a certificate, or a certificate
// that does not parse is an error naming the block.
func ParseEKRoots(pemText []byte) (*EKRoots, error) {
	r := &EKRoots{pool: x509.NewCertPool()}
	rest := pemText
	for i := 1; ; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, want CERTIFICATE", i, b.Type)
		}
		crt, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %v", i, err)
		}
		r.pool.AddCert(crt)
		r.n++
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("text after the last PEM certificate is not PEM")
	}
	if r.n == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return r, nil
}

// LoadEKRoots reads the tpm_ek_roots file; errors name the setting, the
// file and the problem.
func LoadEKRoots(path string) (*EKRoots, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tpm_ek_roots: %w", err)
	}
	r, err := ParseEKRoots(b)
	if err != nil {
		return nil, fmt.Errorf("tpm_ek_roots %s: %w", path, err)
	}
	return r, nil
}

// Len is the number of trusted certificates.
func (r *EKRoots) Len() int {
	if r == nil {
		return 0
	}
	return r.n
}

// OIDs of the TCG EK Credential Profile and X.509.
var (
	oidTCGKpEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	oidSubjectAltName     = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// ekVerdict is what an endorsement key earned.
type ekVerdict struct {
	source string // store.KeySourceTPM or store.KeySourceAgent
	reason string // in words, for the device history and the audit log
	issuer string
}

// judgeEK decides what a TPM's EK certificate is worth: store.KeySourceTPM
// when it chains to one of roots at now and is an EK certificate, else
// store.KeySourceAgent with the reason. crt is nil when the TPM sent none.
func judgeEK(crt *x509.Certificate, roots *EKRoots, now time.Time) ekVerdict {
	if crt == nil {
		return ekVerdict{source: store.KeySourceAgent, reason: "the TPM sent no endorsement key certificate"}
	}
	v := ekVerdict{source: store.KeySourceAgent, issuer: crt.Issuer.String()}
	if roots.Len() == 0 {
		v.reason = "no TPM manufacturer roots are configured (tpm_ek_roots)"
		return v
	}
	if err := verifyEKChain(crt, roots, now); err != nil {
		v.reason = "the endorsement key certificate is not trusted: " + err.Error()
		return v
	}
	v.source = store.KeySourceTPM
	v.reason = "the endorsement key certificate chains to a configured TPM manufacturer root"
	return v
}

// verifyEKChain checks an EK certificate against roots. EK certificates
// often have an empty subject and then, as the TCG profile requires, a
// critical subject alternative name holding only a directory name (the
// TPM's manufacturer, model and version), which Go's parser leaves
// unhandled: it is accepted here, as TCG verifiers and go-attestation's
// users do; any other unhandled critical extension still fails. Their
// extended key usage is the TCG EK one (2.23.133.8.1) or absent.
func verifyEKChain(crt *x509.Certificate, roots *EKRoots, now time.Time) error {
	if len(crt.ExtKeyUsage) > 0 {
		return errors.New("it has an extended key usage other than the TCG EK certificate one")
	}
	for _, u := range crt.UnknownExtKeyUsage {
		if !u.Equal(oidTCGKpEKCertificate) {
			return fmt.Errorf("it has the extended key usage %v, not the TCG EK certificate one", u)
		}
	}
	cp := *crt
	cp.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(crt.UnhandledCriticalExtensions),
		func(o asn1.ObjectIdentifier) bool { return o.Equal(oidSubjectAltName) })
	_, err := cp.Verify(x509.VerifyOptions{Roots: roots.pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// parseEKCert reads an EK certificate as TPMs store it (possibly with the
// TCG NV header or trailing bytes), as go-attestation does.
func parseEKCert(der []byte) (crt *x509.Certificate, err error) {
	err = safely(func() (err error) { crt, err = attest.ParseEKCertificate(der); return err })
	return crt, err
}

// ekSHA256 is how Portier names a TPM: the lower-case hex SHA-256 of its
// endorsement key's public key in PKIX DER (SubjectPublicKeyInfo), encoded
// again here so that an EK certificate and a bare public key of the same
// key give the same hash.
func ekSHA256(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}
