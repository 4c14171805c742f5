package enrollment

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

const (
	// CodeKeep is how long an enrollment code or token stays listed after
	// it expires (as "expired", "used" or "revoked") before the sweep
	// deletes it with the claims of its uses.
	CodeKeep = 24 * time.Hour
	// codeSweepEvery is how often Run sweeps codes.
	codeSweepEvery = 5 * time.Minute
	// codeSweepBatch bounds the deletions of one write.
	codeSweepBatch = 256
)

// SweepCodes deletes the codes and tokens that expired more than CodeKeep
// ago, and the claims of their uses. Such a code can no longer be used
// (its record is gone, so its secret matches nothing), and nothing a user
// can create stays in the store forever. It returns how many codes it
// deleted. Replicas may sweep at the same time: a delete is idempotent.
func (s *Service) SweepCodes(ctx context.Context) (int, error) {
	now := s.clock()
	var ops []store.Op
	n := 0
	for _, c := range s.st.EnrollCodes() {
		if now.Before(c.ExpiresAt.Add(CodeKeep)) {
			continue
		}
		n++
		// The code first: once it is gone, its claims guard nothing.
		ops = append(ops, store.Delete(store.KindEnrollCode, c.ID))
		for _, cl := range s.st.ClaimsWithPrefix("enroll/" + c.ID + "/") {
			ops = append(ops, store.Delete(store.KindClaim, cl.ID))
		}
	}
	for len(ops) > 0 {
		k := min(len(ops), codeSweepBatch)
		if err := s.st.Write(ctx, ops[:k]...); err != nil {
			return n, fmt.Errorf("enrollment: sweep expired codes: %w", err)
		}
		ops = ops[k:]
	}
	return n, nil
}

// SweepAttestChallenges deletes the TPM attestation challenges that
// expired, with the claims of those that were used. An expired challenge
// can no longer be answered, and once its record is gone its id finds
// nothing, so the claim guards nothing either. It returns how many
// challenges it deleted; replicas may sweep at once.
func (s *Service) SweepAttestChallenges(ctx context.Context) (int, error) {
	now := s.clock()
	var ops []store.Op
	n := 0
	for _, ch := range s.st.AttestChallenges() {
		if now.Before(ch.ExpiresAt) {
			continue
		}
		n++
		ops = append(ops, store.Delete(store.KindAttestChallenge, ch.ID), store.Delete(store.KindClaim, attestClaimID(ch.ID)))
	}
	for len(ops) > 0 {
		k := min(len(ops), codeSweepBatch)
		if err := s.st.Write(ctx, ops[:k]...); err != nil {
			return n, fmt.Errorf("enrollment: sweep expired attestation challenges: %w", err)
		}
		ops = ops[k:]
	}
	return n, nil
}
