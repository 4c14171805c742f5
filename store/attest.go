package store

import "time"

// KindAttestChallenge is the kind of open TPM key-attestation challenges.
const KindAttestChallenge Kind = "attest_challenge"

// AttestChallenge is a credential-activation challenge the server sent to
// a TPM (package enrollment, attest.go). It is kept in the store, not in a
// replica's memory, so the enrollment or renewal that answers it may reach
// any replica. It holds no usable secret: SecretHash is the SHA-256 of the
// secret only that TPM can decrypt. It is single-use (a Claim
// "attest/<id>" written with the enrollment or renewal that answers it)
// and expires; the enrollment sweep deletes it and its claim.
type AttestChallenge struct {
	ID string `json:"id"`
	// Owner is whom the challenge was given to: "code:<code id>" for a
	// first enrollment, "device:<device id>" for a renewal.
	Owner      string `json:"owner"`
	SecretHash []byte `json:"secret_hash"`
	// AKPublic is the attestation key's TPM2B_PUBLIC contents: the key
	// that must certify the device key.
	AKPublic []byte `json:"ak_public"`
	// EKSource is what the endorsement key earned (KeySourceTPM when its
	// certificate chains to a configured manufacturer root, KeySourceAgent
	// otherwise), and EKReason why, in words, for the device's history.
	EKSource string `json:"ek_source"`
	EKReason string `json:"ek_reason,omitempty"`
	// EKIssuer is the EK certificate's issuer, when there was one.
	EKIssuer string `json:"ek_issuer,omitempty"`
	// EKSHA256 is the lower-case hex SHA-256 of the endorsement key's
	// public key in PKIX DER: which TPM answers the challenge.
	EKSHA256  string    `json:"ek_sha256,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (*AttestChallenge) Kind() Kind    { return KindAttestChallenge }
func (r *AttestChallenge) Key() string { return r.ID }

// AttestChallenge returns a challenge by id.
func (s *Store) AttestChallenge(id string) (*AttestChallenge, bool) {
	return first[AttestChallenge](s.Txn(), KindAttestChallenge, "id", id)
}

// AttestChallengesOf returns the challenges given to owner (see
// AttestChallenge.Owner), expired ones included.
func (s *Store) AttestChallengesOf(owner string) []*AttestChallenge {
	return all[AttestChallenge](s.Txn(), KindAttestChallenge, "owner", owner)
}

// AttestChallenges returns every challenge, for the sweep.
func (s *Store) AttestChallenges() []*AttestChallenge {
	return all[AttestChallenge](s.Txn(), KindAttestChallenge, "id")
}
