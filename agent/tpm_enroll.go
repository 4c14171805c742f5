package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/agentwire"
)

// tpmKey is a device key made in the TPM at enrollment.
type tpmKey struct {
	signer *tpmSigner
	// file is device.key: the TPM's wrapped blob in TSS2 form.
	file []byte
	// att proves the key is in the TPM; nil when the server could not be
	// asked to check it, and attestErr then says why.
	att       *agentwire.KeyAttestation
	attestErr string
}

// challengeFunc asks the server for an attestation challenge for an AK
// (POST /api/v1/agent/attest/challenge).
type challengeFunc func(ctx context.Context, req agentwire.AttestChallengeRequest) (agentwire.AttestChallenge, error)

// clientChallenge asks through c: with the enrollment code when
// enrolling, with no code (the client certificate authenticates) after.
func clientChallenge(c *client, code string) challengeFunc {
	return func(ctx context.Context, req agentwire.AttestChallengeRequest) (agentwire.AttestChallenge, error) {
		req.Code = code
		var ch agentwire.AttestChallenge
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		err := c.call(cctx, http.MethodPost, "/api/v1/agent/attest/challenge", req, &ch)
		return ch, err
	}
}

// newTPMKey makes the device key in the TPM and proves it to the server
// (newAttestedTPMKey), asking for the challenge with the enrollment code
// when enrolling.
func newTPMKey(ctx context.Context, open TPMOpener, c *client, code string, log *slog.Logger) (*tpmKey, error) {
	return newAttestedTPMKey(ctx, open, clientChallenge(c, code), "device", log)
}

// newAttestedTPMKey makes a key in the TPM (what names it in errors: the
// device key, a browser key) and proves it to the server: it reads the
// endorsement key (EK), makes an attestation key (AK), asks the server
// for a challenge only that TPM can answer for that AK (ask), answers it
// (TPM2_ActivateCredential), then creates an ECDSA P-256 key that cannot
// leave the TPM, under the SRK, certified by the AK. A server that does
// not verify TPM keys (no challenge endpoint, or it refuses the
// challenge) leaves the key unattested, with the reason. The AK is
// flushed; the key stays loaded in the returned signer.
func newAttestedTPMKey(ctx context.Context, open TPMOpener, ask challengeFunc, what string, log *slog.Logger) (*tpmKey, error) {
	t, err := tpmCall(func() (*attest.TPM, error) { return openTPM(open) }, func(t *attest.TPM) { t.Close() })
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			t.Close()
		}
	}()
	type akState struct {
		ek agentwire.TPMEndorsement
		ak *attest.AK
		e  attest.EK
	}
	st, err := tpmCall(func() (*akState, error) {
		eks, err := t.EKs()
		if err != nil {
			return nil, fmt.Errorf("read the endorsement key: %w", err)
		}
		ek, err := chooseEK(eks)
		if err != nil {
			return nil, err
		}
		wire, err := endorsement(ek)
		if err != nil {
			return nil, err
		}
		ak, err := t.NewAK(nil)
		if err != nil {
			return nil, fmt.Errorf("create an attestation key: %w", err)
		}
		return &akState{ek: wire, ak: ak, e: ek}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	defer st.ak.Close(t)
	p := st.ak.AttestationParameters()
	ch, err := ask(ctx, agentwire.AttestChallengeRequest{EK: st.ek, AK: agentwire.TPMCreation{
		Public: p.Public, CreateData: p.CreateData, CreateAttestation: p.CreateAttestation, CreateSignature: p.CreateSignature}})
	var apiErr *APIError
	attestErr := ""
	switch {
	case err == nil:
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || apiErr.Status == http.StatusNotImplemented):
		attestErr = "the server does not verify TPM keys (it answered " + http.StatusText(apiErr.Status) + " to the attestation challenge)"
	case errors.As(err, &apiErr) && apiErr.Status/100 == 4:
		attestErr = "the server refused the attestation challenge: " + apiErr.Error()
	default:
		return nil, fmt.Errorf("agent: ask the server for a TPM attestation challenge: %w", err)
	}
	type made struct {
		key       *attest.Key
		activated []byte
	}
	m, err := tpmCall(func() (*made, error) {
		var activated []byte
		if attestErr == "" {
			var err error
			activated, err = st.ak.ActivateCredentialWithEK(t, attest.EncryptedCredential{Credential: ch.Credential, Secret: ch.Secret}, st.e)
			if err != nil {
				return nil, fmt.Errorf("answer the server's attestation challenge (TPM2_ActivateCredential): %w", err)
			}
		}
		k, err := t.NewKey(st.ak, &attest.KeyConfig{Algorithm: attest.ECDSA, Size: 256})
		if err != nil {
			return nil, fmt.Errorf("create the %s key in the TPM: %w", what, err)
		}
		return &made{key: k, activated: activated}, nil
	}, func(m *made) { m.key.Close() })
	if err != nil {
		return nil, err
	}
	pubArea, privArea, err := m.key.Blobs()
	if err != nil {
		m.key.Close()
		return nil, err
	}
	pub, isEC := m.key.Public().(*ecdsa.PublicKey)
	priv, err := m.key.Private(m.key.Public())
	if !isEC || err != nil {
		m.key.Close()
		return nil, fmt.Errorf("agent: the TPM key is not a usable ECDSA key: %v", err)
	}
	file, err := encodeTPMKeyFile(pubArea, privArea)
	if err != nil {
		m.key.Close()
		return nil, err
	}
	blob, err := loadableBlob(pubArea, privArea)
	if err != nil {
		m.key.Close()
		return nil, err
	}
	s := &tpmSigner{open: open, blob: blob, log: log}
	s.set(&tpmHandle{tpm: t, key: m.key, signer: priv.(crypto.Signer), pub: pub})
	ok = true
	out := &tpmKey{signer: s, file: file, attestErr: attestErr}
	if attestErr == "" {
		cp := m.key.CertificationParameters()
		out.att = &agentwire.KeyAttestation{Format: agentwire.FormatTPM2, ChallengeID: ch.ID, Activated: m.activated,
			Key: agentwire.TPMCreation{Public: cp.Public, CreateData: cp.CreateData, CreateAttestation: cp.CreateAttestation, CreateSignature: cp.CreateSignature}}
	}
	return out, nil
}

// chooseEK prefers an endorsement key with the manufacturer's certificate,
// which lets the server check the TPM is a real one.
func chooseEK(eks []attest.EK) (attest.EK, error) {
	if len(eks) == 0 {
		return attest.EK{}, errors.New("the TPM has no endorsement key")
	}
	for _, ek := range eks {
		if ek.Certificate != nil {
			return ek, nil
		}
	}
	return eks[0], nil
}

// endorsement is the EK as the wire carries it: its certificate, or its
// public key when it has none.
func endorsement(ek attest.EK) (agentwire.TPMEndorsement, error) {
	if ek.Certificate != nil {
		return agentwire.TPMEndorsement{Certificate: ek.Certificate.Raw}, nil
	}
	der, err := x509.MarshalPKIXPublicKey(ek.Public)
	if err != nil {
		return agentwire.TPMEndorsement{}, fmt.Errorf("encode the endorsement key: %w", err)
	}
	return agentwire.TPMEndorsement{Public: der}, nil
}
