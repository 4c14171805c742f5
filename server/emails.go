package server

import (
	"context"

	"github.com/portier/portier/store"
)

// claimEmails gives people written before e-mail addresses were claimed
// in the durable store their claims, once at start, and warns about the
// addresses two accounts share: sign-in by e-mail finds only one of them,
// so an administrator should delete or re-address the other.
func (s *Server) claimEmails(ctx context.Context) {
	dups, err := store.ClaimEmails(ctx, s.store)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("store: could not claim e-mail addresses of existing people; will try at the next start", "err", err)
		}
		return
	}
	for _, e := range dups {
		s.log.Warn("store: two people share an e-mail address; delete or re-address one of them", "email", e)
	}
}
