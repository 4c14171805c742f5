package enrollment

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// attested is a verified key attestation: what the certificate says about
// the key, the write that uses the challenge up, and what the device
// history and the audit log record.
type attested struct {
	key    ca.KeyInfo
	claim  store.Op
	detail map[string]string
	// ekSHA256 names the TPM that holds the key (see ekSHA256).
	ekSHA256 string
}

// equaler is what crypto public keys implement.
type equaler interface{ Equal(crypto.PublicKey) bool }

// verifyAttestation checks a KeyAttestation sent with a CSR whose public
// key is csrKey, by owner (codeOwner or deviceOwner). Every failure is a
// client error naming the field; nothing is downgraded.
func (s *Service) verifyAttestation(a *agentwire.KeyAttestation, owner string, csrKey crypto.PublicKey, by string, now time.Time) (*attested, error) {
	if a.Format != agentwire.FormatTPM2 {
		return nil, apperr.Field("attestation.format", "attestation.format must be %q", agentwire.FormatTPM2)
	}
	if err := checkCreation("attestation.key", a.Key, false); err != nil {
		return nil, err
	}
	if len(a.Activated) == 0 || len(a.Activated) > 64 {
		return nil, apperr.Field("attestation.activated", "attestation.activated must be the secret the TPM decrypted")
	}
	ch, ok := store.Find(s.st, func() (*store.AttestChallenge, bool) { return s.st.AttestChallenge(a.ChallengeID) })
	if !ok || ch.Owner != owner {
		return nil, apperr.Field("attestation.challenge_id", "attestation.challenge_id names no challenge given to this enrollment; ask for a new one")
	}
	if !now.Before(ch.ExpiresAt) {
		return nil, apperr.Field("attestation.challenge_id", "the attestation challenge expired at %s; ask for a new one", ch.ExpiresAt.Format(time.RFC3339))
	}
	if s.st.Claimed(attestClaimID(ch.ID)) {
		return nil, apperr.Field("attestation.challenge_id", "the attestation challenge was already used; ask for a new one")
	}
	sum := sha256.Sum256(a.Activated)
	if subtle.ConstantTimeCompare(sum[:], ch.SecretHash) != 1 {
		return nil, apperr.Field("attestation.activated", "attestation.activated is not the challenge's secret: the TPM that holds the endorsement key did not decrypt it for this attestation key")
	}
	ak, err := attest.ParseAKPublic(ch.AKPublic)
	if err != nil {
		return nil, apperr.Field("attestation.challenge_id", "the challenge's attestation key cannot be read; ask for a new challenge")
	}
	cp := attest.CertificationParameters{Public: a.Key.Public, CreateData: a.Key.CreateData,
		CreateAttestation: a.Key.CreateAttestation, CreateSignature: a.Key.CreateSignature}
	if err := safely(func() error { return cp.Verify(attest.VerifyOpts{Public: ak.Public, Hash: ak.Hash}) }); err != nil {
		return nil, apperr.Field("attestation.key", "the attestation key did not certify a TPM-bound key: %v", err)
	}
	var pub tpm2.Public
	err = safely(func() (err error) { pub, err = tpm2.DecodePublic(a.Key.Public); return err })
	if err != nil {
		return nil, apperr.Field("attestation.key.public", "attestation.key.public is not a TPM public area: %v", err)
	}
	// CertificationParameters.Verify checks these too; the key must never
	// leave the TPM, so they are checked here by name as well.
	const need = tpm2.FlagFixedTPM | tpm2.FlagFixedParent | tpm2.FlagSensitiveDataOrigin
	if pub.Attributes&need != need {
		return nil, apperr.Field("attestation.key", "the certified key can leave its TPM (fixedTPM, fixedParent and sensitiveDataOrigin are required)")
	}
	var certified crypto.PublicKey
	if err := safely(func() (err error) { certified, err = pub.Key(); return err }); err != nil {
		return nil, apperr.Field("attestation.key.public", "attestation.key.public holds no usable public key: %v", err)
	}
	if k, ok := csrKey.(equaler); !ok || !k.Equal(certified) {
		return nil, apperr.Field("attestation.key", "the TPM certified another key than the CSR's")
	}
	detail := map[string]string{"key_attestation": agentwire.FormatTPM2, "attestation_challenge": ch.ID, "ek_trust": ch.EKReason}
	if ch.EKIssuer != "" {
		detail["ek_issuer"] = ch.EKIssuer
	}
	if ch.EKSHA256 != "" {
		detail["tpm_ek_sha256"] = ch.EKSHA256
	}
	return &attested{
		key:      ca.KeyInfo{Protection: store.KeyHardware, Source: ch.EKSource, Purpose: ca.PurposeAgent},
		claim:    store.Create(&store.Claim{ID: attestClaimID(ch.ID), At: now.UTC(), By: by}),
		detail:   detail,
		ekSHA256: ch.EKSHA256,
	}, nil
}

// challengeUsed reports whether a challenge's claim exists, catching up
// with the shared store when it is not found here: after a write failed
// with store.ErrExists, it tells whether the challenge was the reason.
func (s *Service) challengeUsed(id string) bool {
	_, ok := store.Find(s.st, func() (bool, bool) { c := s.st.Claimed(attestClaimID(id)); return c, c })
	return ok
}
