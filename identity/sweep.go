package identity

import (
	"context"
	"strings"
	"time"

	"github.com/portier/portier/store"
)

// Sweeping.
const (
	// claimKeep is how long single-use markers of sign-in records are kept:
	// longer than any flow, hand-off or refresh window they protect.
	claimKeep = time.Hour
	// sweepBatch bounds the deletions of one write.
	sweepBatch = 256
)

// sweptClaims are the Claim prefixes whose records this package may delete
// once they are old: the secrets they mark are gone by then.
var sweptClaims = [...]string{claimPrefix, "refresh/", "handoff/"}

// inviteClaimPrefix names the Claim that makes an invite (a set-up link)
// single-use.
const inviteClaimPrefix = "invite/"

// sweep deletes what has expired: sign-in flows, hand-offs, old claims of
// those, invites (set-up links) past their expiry with their claims, and
// sessions past their absolute or idle lifetime (a console
// session with its route sessions; a route session whose console session is
// gone).
func (s *Service) sweep(ctx context.Context) {
	now := s.now()
	var ops []store.Op
	for _, f := range scan[store.AuthFlow](s.st, store.KindAuthFlow) {
		if !now.Before(f.ExpiresAt) {
			ops = append(ops, store.Delete(store.KindAuthFlow, f.ID))
		}
	}
	for _, h := range scan[store.Handoff](s.st, store.KindHandoff) {
		if !now.Before(h.ExpiresAt) {
			ops = append(ops, store.Delete(store.KindHandoff, h.ID))
		}
	}
	gone := map[string]bool{} // invites deleted by this sweep
	for _, inv := range scan[store.Invite](s.st, store.KindInvite) {
		if !now.Before(inv.ExpiresAt) {
			ops = append(ops, store.Delete(store.KindInvite, inv.ID))
			gone[inv.ID] = true
		}
	}
	for _, c := range scan[store.Claim](s.st, store.KindClaim) {
		if now.Sub(c.At) > claimKeep && swept(c.ID) {
			ops = append(ops, store.Delete(store.KindClaim, c.ID))
		}
		// An invite's claim goes with the invite: once the invite is
		// gone its secret matches nothing.
		if id, ok := strings.CutPrefix(c.ID, inviteClaimPrefix); ok {
			if _, live := s.st.Invite(id); gone[id] || !live {
				ops = append(ops, store.Delete(store.KindClaim, c.ID))
			}
		}
	}
	for _, sess := range scan[store.Session](s.st, store.KindSession) {
		if sess.ParentID == "" {
			if !familyLive(s.st, sess, now) {
				ops = append(ops, store.Delete(store.KindSession, sess.ID))
			}
			continue
		}
		parent, ok := s.st.Session(sess.ParentID)
		if !ok || !familyLive(s.st, parent, now) {
			ops = append(ops, store.Delete(store.KindSession, sess.ID))
		}
	}
	for len(ops) > 0 && ctx.Err() == nil {
		n := min(len(ops), sweepBatch)
		if err := s.st.Write(ctx, ops[:n]...); err != nil {
			s.log.Warn("identity: sweeping expired sign-in records failed", "err", err)
			return
		}
		ops = ops[n:]
	}
}

func swept(id string) bool {
	for _, p := range sweptClaims {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}
