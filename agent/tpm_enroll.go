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
// (an akSession, then go-attestation's NewKey: an ECDSA P-256 key under
// the SRK, certified by the AK), asking for the challenge with the
// enrollment code when enrolling. The AK is flushed; the key stays
// loaded in the returned signer.
func newTPMKey(ctx context.Context, open TPMOpener, c *client, code string, log *slog.Logger) (*tpmKey, error) {
	ses, err := newAKSession(ctx, open, clientChallenge(c, code))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		ses.closeAK()
		if !ok {
			ses.t.Close()
		}
	}()
	k, err := tpmCall(func() (*attest.Key, error) {
		k, err := ses.t.NewKey(ses.ak, &attest.KeyConfig{Algorithm: attest.ECDSA, Size: 256})
		if err != nil {
			return nil, fmt.Errorf("create the device key in the TPM: %w", err)
		}
		return k, nil
	}, func(k *attest.Key) { k.Close() })
	if err != nil {
		return nil, err
	}
	pubArea, privArea, err := k.Blobs()
	if err != nil {
		k.Close()
		return nil, err
	}
	pub, isEC := k.Public().(*ecdsa.PublicKey)
	priv, err := k.Private(k.Public())
	if !isEC || err != nil {
		k.Close()
		return nil, fmt.Errorf("agent: the TPM key is not a usable ECDSA key: %v", err)
	}
	file, err := encodeTPMKeyFile(pubArea, privArea)
	if err != nil {
		k.Close()
		return nil, err
	}
	blob, err := loadableBlob(pubArea, privArea)
	if err != nil {
		k.Close()
		return nil, err
	}
	s := &tpmSigner{open: open, blob: blob, log: log}
	s.set(&tpmHandle{tpm: ses.t, key: k, signer: priv.(crypto.Signer), pub: pub})
	ok = true
	cp := k.CertificationParameters()
	return &tpmKey{signer: s, file: file, attestErr: ses.attestErr, att: ses.attestation(&cp)}, nil
}

// akSession is an open TPM with a fresh attestation key (AK) the server
// challenged: the TPM's endorsement key (EK) decrypted the server's
// secret for that AK, so what the AK certifies is in the TPM of that EK.
type akSession struct {
	t  *attest.TPM
	ch attest.CommandChannelTPM20 // t's channel, for go-tpm calls
	ak *attest.AK
	ek attest.EK // until the challenge is answered
	// challengeID and activated answer the server's challenge; attestErr
	// says why there is none (a server that does not verify TPM keys).
	challengeID string
	activated   []byte
	attestErr   string
}

// newAKSession opens the TPM, reads the EK, makes an AK, asks the server
// for a challenge only that TPM can answer for that AK (ask) and answers
// it (TPM2_ActivateCredential). A server that does not verify TPM keys
// (no challenge endpoint, or it refuses the challenge) leaves the session
// without an answer, and attestErr says why. The caller closes the AK
// (closeAK) and the TPM (t.Close).
func newAKSession(ctx context.Context, open TPMOpener, ask challengeFunc) (*akSession, error) {
	ses, err := tpmCall(func() (*akSession, error) { return openAKSession(open) }, func(s *akSession) { s.closeAK(); s.t.Close() })
	if err != nil {
		return nil, err
	}
	ek := ses.ek
	ses.ek = attest.EK{}
	p := ses.ak.AttestationParameters()
	wire, err := endorsement(ek)
	if err == nil {
		var ch agentwire.AttestChallenge
		ch, err = ask(ctx, agentwire.AttestChallengeRequest{EK: wire, AK: agentwire.TPMCreation{
			Public: p.Public, CreateData: p.CreateData, CreateAttestation: p.CreateAttestation, CreateSignature: p.CreateSignature}})
		var apiErr *APIError
		switch {
		case err == nil:
			ses.challengeID = ch.ID
			ses.activated, err = tpmCall(func() ([]byte, error) {
				b, err := ses.ak.ActivateCredentialWithEK(ses.t, attest.EncryptedCredential{Credential: ch.Credential, Secret: ch.Secret}, ek)
				if err != nil {
					return nil, fmt.Errorf("answer the server's attestation challenge (TPM2_ActivateCredential): %w", err)
				}
				return b, nil
			}, nil)
		case errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || apiErr.Status == http.StatusNotImplemented):
			ses.attestErr, err = "the server does not verify TPM keys (it answered "+http.StatusText(apiErr.Status)+" to the attestation challenge)", nil
		case errors.As(err, &apiErr) && apiErr.Status/100 == 4:
			ses.attestErr, err = "the server refused the attestation challenge: "+apiErr.Error(), nil
		default:
			err = fmt.Errorf("agent: ask the server for a TPM attestation challenge: %w", err)
		}
	}
	if err != nil {
		ses.closeAK()
		ses.t.Close()
		return nil, err
	}
	return ses, nil
}

// openAKSession opens the TPM, reads the EK and makes the AK.
func openAKSession(open TPMOpener) (*akSession, error) {
	t, ch, err := openTPMChannel(open)
	if err != nil {
		return nil, err
	}
	eks, err := t.EKs()
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("read the endorsement key: %w", err)
	}
	ek, err := chooseEK(eks)
	if err != nil {
		t.Close()
		return nil, err
	}
	ak, err := t.NewAK(nil)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("create an attestation key: %w", err)
	}
	return &akSession{t: t, ch: ch, ak: ak, ek: ek}, nil
}

// closeAK flushes the AK from the TPM.
func (s *akSession) closeAK() {
	if s.ak != nil {
		_ = s.ak.Close(s.t)
		s.ak = nil
	}
}

// attestation is what proves to the server that the key cp certifies is
// in this TPM; nil when the server was not asked.
func (s *akSession) attestation(cp *attest.CertificationParameters) *agentwire.KeyAttestation {
	if s.attestErr != "" || s.challengeID == "" {
		return nil
	}
	return &agentwire.KeyAttestation{Format: agentwire.FormatTPM2, ChallengeID: s.challengeID, Activated: s.activated,
		Key: agentwire.TPMCreation{Public: cp.Public, CreateData: cp.CreateData, CreateAttestation: cp.CreateAttestation, CreateSignature: cp.CreateSignature}}
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
