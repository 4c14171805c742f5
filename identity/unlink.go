package identity

import (
	"context"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// Unlink removes an identity-provider account linked to the user of a
// console session (by link id, as Links lists it), so that provider's
// account no longer signs in to it; audited as identity.unlinked. The
// session must be Fresh. An account without a password keeps at least one
// link: it would have no way left to sign in.
func (s *Service) Unlink(ctx context.Context, sess *store.Session, id string, c ClientInfo) error {
	if !s.Fresh(sess) {
		return errNotFresh()
	}
	var link *store.IdentityLink
	links := s.st.LinksOf(sess.UserID)
	for _, l := range links {
		if l.ID == id {
			link = l
		}
	}
	if link == nil {
		return apperr.New(apperr.NotFound, "There is no such linked account on your Portier account.")
	}
	u, ok := s.st.User(sess.UserID)
	if !ok || !userActive(u) {
		return errDisabled()
	}
	if u.PasswordHash == "" && len(links) == 1 {
		return apperr.New(apperr.Conflict, "This is your only way to sign in to Portier, so it cannot be removed.")
	}
	err := s.st.Write(ctx, store.Delete(store.KindIdentityLink, link.ID),
		store.Delete(store.KindClaim, issuerClaim(link.UserID, link.Issuer)),
		s.audit("user:"+u.Email, "identity.unlinked", u.ID, c.IP, map[string]string{"idp": link.Provider,
			"issuer": link.Issuer, "subject": truncate(link.Subject, 255)}))
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "Portier could not remove the link. Try again in a minute.")
	}
	return nil
}
