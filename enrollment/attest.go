package enrollment

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// TPM key attestation, server side. An agent whose key is in a TPM asks
// for a challenge (AttestChallenge), answers it in its enrollment or
// renewal (verifyAttestation, attest_verify.go), and the certificate then
// says the key is hardware-bound, verified (store.KeySourceTPM) when the
// TPM's endorsement key certificate chains to a configured manufacturer
// root, the agent's word (store.KeySourceAgent) otherwise.
const (
	// AttestChallengeTTL is how long a challenge may be answered.
	AttestChallengeTTL = 5 * time.Minute
	// maxOpenChallenges bounds the unexpired challenges of one code or
	// device; a bulk token gets maxOpenTokenChallenges.
	maxOpenChallenges      = 4
	maxOpenTokenChallenges = 50
	// Size bounds of the TPM structures in a request (a TPM2B_PUBLIC is
	// at most a few hundred bytes; EK certificates are 1 to 2 KB).
	maxEKCertSize  = 8 << 10
	maxTPMBlobSize = 2 << 10
)

// Owners of a challenge (store.AttestChallenge.Owner).
func codeOwner(codeID string) string     { return "code:" + codeID }
func deviceOwner(deviceID string) string { return "device:" + deviceID }

// attestClaimID is the claim that marks a challenge used.
func attestClaimID(challengeID string) string { return "attest/" + challengeID }

// ParseAttestChallengeRequest reads and checks the body of POST
// /api/v1/agent/attest/challenge. Errors are client errors naming the
// field.
func ParseAttestChallengeRequest(body []byte) (agentwire.AttestChallengeRequest, error) {
	var r agentwire.AttestChallengeRequest
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	switch {
	case len(r.EK.Certificate) == 0 && len(r.EK.Public) == 0:
		return r, apperr.Field("ek", "ek needs the endorsement key's certificate, or its public key when the TPM has no certificate")
	case len(r.EK.Certificate) > maxEKCertSize:
		return r, apperr.Field("ek.certificate", "ek.certificate is larger than %d bytes", maxEKCertSize)
	case len(r.EK.Public) > maxTPMBlobSize:
		return r, apperr.Field("ek.public", "ek.public is larger than %d bytes", maxTPMBlobSize)
	case len(r.Code) > 64:
		return r, apperr.Field("code", "code is not an enrollment code")
	}
	return r, checkCreation("ak", r.AK, true)
}

// checkCreation checks that the TPM structures of a key's creation are
// present and of a plausible size. A key certified by TPM2_Certify (not
// TPM2_CertifyCreation) has no creation data: withData says whether it is
// required.
func checkCreation(field string, c agentwire.TPMCreation, withData bool) error {
	for _, f := range []struct {
		name string
		v    []byte
	}{{"public", c.Public}, {"create_data", c.CreateData}, {"create_attestation", c.CreateAttestation}, {"create_signature", c.CreateSignature}} {
		if len(f.v) == 0 && (withData || f.name != "create_data") {
			return apperr.Field(field+"."+f.name, "%s.%s is required (the TPM structure, base64)", field, f.name)
		}
		if len(f.v) > maxTPMBlobSize {
			return apperr.Field(field+"."+f.name, "%s.%s is larger than %d bytes", field, f.name, maxTPMBlobSize)
		}
	}
	return nil
}

// AttestChallengeForCode issues a challenge for a first enrollment. body
// is the AttestChallengeRequest: its code is checked first (it must be
// usable; a challenge does not use it up), so a caller without a valid
// code learns nothing of the rest of the body's rules. remoteIP keys the
// same rate limits as enrollment.
func (s *Service) AttestChallengeForCode(ctx context.Context, body []byte, remoteIP string) (agentwire.AttestChallenge, error) {
	now := s.clock()
	if !s.badIP.ok(remoteIP, now) || !s.perIP.allow(remoteIP, now) {
		return agentwire.AttestChallenge{}, apperr.New(apperr.RateLimited, "too many enrollment attempts from this address; wait a minute and try again")
	}
	c, used, err := s.usableCode(PeekCode(body), now)
	if err != nil {
		s.badIP.allow(remoteIP, now)
		return agentwire.AttestChallenge{}, err
	}
	req, err := ParseAttestChallengeRequest(body)
	if err != nil {
		return agentwire.AttestChallenge{}, err
	}
	limit := maxOpenChallenges
	if c.MaxUses > 1 {
		limit = min(maxOpenTokenChallenges, max(maxOpenChallenges, c.MaxUses-used))
	}
	return s.attestChallenge(ctx, req, codeOwner(c.ID), limit, now)
}

// PeekCode returns the "code" member of a JSON body, read leniently ("" when
// there is none), to authenticate a request before its body is checked.
func PeekCode(body []byte) string {
	var v struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Code
}

// AttestChallengeForDevice issues a challenge to an authenticated device,
// for a renewal that moves it to a new TPM key.
func (s *Service) AttestChallengeForDevice(ctx context.Context, d *store.Device, req agentwire.AttestChallengeRequest) (agentwire.AttestChallenge, error) {
	if req.Code != "" {
		return agentwire.AttestChallenge{}, apperr.Field("code", "an enrolled device asks for a challenge with its certificate alone: send no code")
	}
	return s.attestChallenge(ctx, req, deviceOwner(d.ID), maxOpenChallenges, s.clock())
}

// attestChallenge checks the AK and the EK, makes the encrypted credential
// and records the challenge.
func (s *Service) attestChallenge(ctx context.Context, req agentwire.AttestChallengeRequest, owner string, limit int, now time.Time) (agentwire.AttestChallenge, error) {
	open := 0
	for _, ch := range s.st.AttestChallengesOf(owner) {
		if now.Before(ch.ExpiresAt) {
			open++
		}
	}
	if open >= limit {
		return agentwire.AttestChallenge{}, apperr.TooMany(AttestChallengeTTL,
			"%d attestation challenges are already open; answer one, or wait until they expire (%s)", open, AttestChallengeTTL)
	}
	var ekCert *x509.Certificate
	var ekPub any
	if len(req.EK.Certificate) > 0 {
		crt, err := parseEKCert(req.EK.Certificate)
		if err != nil {
			return agentwire.AttestChallenge{}, apperr.Field("ek.certificate", "ek.certificate is not an X.509 certificate: %v", err)
		}
		ekCert, ekPub = crt, crt.PublicKey
	} else {
		pub, err := x509.ParsePKIXPublicKey(req.EK.Public)
		if err != nil {
			return agentwire.AttestChallenge{}, apperr.Field("ek.public", "ek.public is not a PKIX public key: %v", err)
		}
		ekPub = pub
	}
	params := attest.ActivationParameters{EK: ekPub, AK: attest.AttestationParameters{
		Public: req.AK.Public, CreateData: req.AK.CreateData,
		CreateAttestation: req.AK.CreateAttestation, CreateSignature: req.AK.CreateSignature,
	}}
	if err := safely(params.CheckAKParameters); err != nil {
		return agentwire.AttestChallenge{}, apperr.Field("ak", "the attestation key is not a TPM-made, restricted, non-duplicable signing key: %v", err)
	}
	var secret []byte
	var cred *attest.EncryptedCredential
	err := safely(func() (err error) { secret, cred, err = params.Generate(); return err })
	if err != nil {
		return agentwire.AttestChallenge{}, apperr.Field("ek", "cannot encrypt a challenge to this endorsement key: %v", err)
	}
	ekSum, err := ekSHA256(ekPub)
	if err != nil {
		return agentwire.AttestChallenge{}, apperr.Field("ek", "the endorsement key cannot be encoded as a PKIX public key: %v", err)
	}
	verdict := judgeEK(ekCert, s.ekRoots, now)
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return agentwire.AttestChallenge{}, fmt.Errorf("enrollment: challenge id: %w", err)
	}
	sum := sha256.Sum256(secret)
	ch := &store.AttestChallenge{
		ID: "atc_" + hex.EncodeToString(id[:]), Owner: owner, SecretHash: sum[:], AKPublic: req.AK.Public,
		EKSource: verdict.source, EKReason: verdict.reason, EKIssuer: verdict.issuer, EKSHA256: ekSum,
		CreatedAt: now.UTC(), ExpiresAt: now.Add(AttestChallengeTTL).UTC(),
	}
	if err := s.st.Write(ctx, store.Create(ch)); err != nil {
		return agentwire.AttestChallenge{}, fmt.Errorf("enrollment: record attestation challenge: %w", err)
	}
	s.log.Info("enrollment: attestation challenge issued", "challenge", ch.ID, "owner", ownerForLog(owner), "ek_source", verdict.source)
	return agentwire.AttestChallenge{ID: ch.ID, Credential: cred.Credential, Secret: cred.Secret, ExpiresAt: ch.ExpiresAt}, nil
}

// ownerForLog shortens a code's id (a hash of the code) in logs.
func ownerForLog(owner string) string {
	if len(owner) > 17 {
		return owner[:17]
	}
	return owner
}

// safely runs a parser of TPM structures from the network, turning a panic
// of the library into an error: malformed input is the client's fault,
// never a crash or a 500.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed TPM structure (%v)", r)
		}
	}()
	return f()
}
