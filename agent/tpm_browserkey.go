package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"

	"github.com/portier/portier/agentwire"
)

// browserKeyTemplate is a person's browser key in the TPM: an ECDSA P-256
// signing key the TPM made (sensitiveDataOrigin) that cannot leave it
// (fixedTPM, fixedParent), usable with no password. Unlike the device key
// (go-attestation's template, which fixes the scheme to ECDSA-SHA256) it
// has no scheme of its own, the signer names it: tpm2-pkcs11 (1.9) links
// only keys without a scheme.
var browserKeyTemplate = tpm2.Public{
	Type:       tpm2.AlgECC,
	NameAlg:    tpm2.AlgSHA256,
	Attributes: tpm2.FlagSign | tpm2.FlagFixedTPM | tpm2.FlagFixedParent | tpm2.FlagSensitiveDataOrigin | tpm2.FlagUserWithAuth,
	ECCParameters: &tpm2.ECCParams{
		CurveID: tpm2.CurveNISTP256,
	},
}

// tpmBrowserKey is a browser key made in the TPM, with what the server
// needs to certify it.
type tpmBrowserKey struct {
	// file is the key as a TSS2 PRIVATE KEY under the SRK.
	file []byte
	pub  *ecdsa.PublicKey
	// csr is the key's certificate request (DER), signed in the TPM.
	csr []byte
	// att proves the key is in the TPM; nil when the server could not be
	// asked to check it, and attestErr then says why.
	att       *agentwire.KeyAttestation
	attestErr string
}

// newTPMBrowserKey makes a browser key in the TPM and proves it to the
// server exactly as the device key is proved (an akSession: EK, AK,
// challenge asked through ask, TPM2_ActivateCredential), the key created
// under the SRK with browserKeyTemplate and certified by the AK
// (TPM2_Certify), its certificate request signed in the TPM. The TPM is
// closed when it returns.
func newTPMBrowserKey(ctx context.Context, open TPMOpener, ask challengeFunc) (*tpmBrowserKey, error) {
	ses, err := newAKSession(ctx, open, ask)
	if err != nil {
		return nil, err
	}
	defer ses.t.Close()
	defer ses.closeAK()
	out, err := tpmCall(func() (*tpmBrowserKey, error) { return createBrowserKey(ses) }, nil)
	if err != nil {
		return nil, err
	}
	out.attestErr = ses.attestErr
	return out, nil
}

// createBrowserKey creates, certifies and uses the key in ses's TPM; the
// key is flushed when it returns (its file loads it again).
func createBrowserKey(ses *akSession) (*tpmBrowserKey, error) {
	priv, pubArea, _, _, _, err := tpm2.CreateKey(ses.ch, srkHandle, tpm2.PCRSelection{}, "", "", browserKeyTemplate)
	if err != nil {
		return nil, fmt.Errorf("create the browser key in the TPM: %w", err)
	}
	h, _, err := tpm2.Load(ses.ch, srkHandle, "", pubArea, priv)
	if err != nil {
		return nil, fmt.Errorf("load the browser key into the TPM: %w", err)
	}
	defer tpm2.FlushContext(ses.ch, h)
	cp, err := ses.ak.Certify(ses.t, h)
	if err != nil {
		return nil, fmt.Errorf("certify the browser key with the attestation key: %w", err)
	}
	tp, err := tpm2.DecodePublic(pubArea)
	if err != nil {
		return nil, err
	}
	k, err := tp.Key()
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the TPM made a %T browser key, not ECDSA P-256", k)
	}
	file, err := encodeTPMKeyFile(pubArea, priv)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, &handleSigner{rw: ses.ch, h: h, pub: pub})
	if err != nil {
		return nil, fmt.Errorf("sign the browser key's certificate request in the TPM: %w", err)
	}
	return &tpmBrowserKey{file: file, pub: pub, csr: csr, att: ses.attestation(cp)}, nil
}

// handleSigner signs SHA-256 digests with a loaded TPM key that has no
// scheme of its own (ECDSA-SHA256 is named at each signature).
type handleSigner struct {
	rw  io.ReadWriter
	h   tpmutil.Handle
	pub *ecdsa.PublicKey
}

// Public is the key's public key.
func (s *handleSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs a SHA-256 digest in the TPM (ASN.1 ECDSA signature).
func (s *handleSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, fmt.Errorf("the TPM browser key signs SHA-256 digests, not %v", opts.HashFunc())
	}
	sig, err := tpm2.Sign(s.rw, s.h, "", digest, nil, &tpm2.SigScheme{Alg: tpm2.AlgECDSA, Hash: tpm2.AlgSHA256})
	if err != nil {
		return nil, err
	}
	if sig.ECC == nil {
		return nil, errors.New("the TPM did not answer with an ECDSA signature")
	}
	return asn1.Marshal(struct{ R, S *big.Int }{sig.ECC.R, sig.ECC.S})
}
