package store

import "time"

// KindClaim is the kind of single-use markers.
const KindClaim Kind = "claim"

// Claim marks a one-time secret (set-up link, enrollment code) as used.
// Writing it with Create is what makes the secret single-use, even when
// several processes race: only one Create succeeds.
type Claim struct {
	ID string    `json:"id"` // "<purpose>/<secret hash>"
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
}

func (*Claim) Kind() Kind    { return KindClaim }
func (r *Claim) Key() string { return r.ID }

// Claimed reports whether a one-time secret was used.
func (s *Store) Claimed(id string) bool {
	_, ok := first[Claim](s.Txn(), KindClaim, "id", id)
	return ok
}

// ClaimsWithPrefix returns the claims whose id starts with prefix (the uses
// of one enrollment code, for example), so sweeps can delete them.
func (s *Store) ClaimsWithPrefix(prefix string) []*Claim {
	return all[Claim](s.Txn(), KindClaim, "id_prefix", prefix)
}
