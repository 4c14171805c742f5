package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/portier/portier/store"
)

// Refresh tuning.
const (
	// refreshWindow is how often one session's refresh is attempted at most,
	// across all Portier processes (see refresh).
	refreshWindow = 5 * time.Minute
	// refreshTimeout bounds one refresh with the identity provider.
	refreshTimeout = 15 * time.Second
	// refreshNoIDToken is how long a refresh without an ID token counts for.
	refreshNoIDToken = time.Hour
)

// refreshAll refreshes every live console session whose ID token is within
// RefreshLead of expiring.
func (s *Service) refreshAll(ctx context.Context) {
	now := s.now()
	for _, sess := range scan[store.Session](s.st, store.KindSession) {
		if ctx.Err() != nil {
			return
		}
		if sess.ParentID != "" || len(sess.RefreshEnc) == 0 || !familyLive(s.st, sess, now) {
			continue
		}
		r, err := s.openRefresh(ctx, sess)
		if err != nil {
			s.log.Warn("identity: cannot open a session's refresh token; it will not be refreshed", "session_user", sess.UserID, "err", err)
			continue
		}
		// Due when the ID token nears expiry, but not more often than once a
		// window, even for providers whose tokens live shorter than that.
		if r.Expiry.Sub(now) > RefreshLead || now.Sub(r.At) < refreshWindow {
			continue
		}
		if err := s.refresh(ctx, sess, r); err != nil {
			s.log.Warn("identity: session refresh failed; retrying later", "idp", sess.IdP, "user", sess.UserID, "err", err)
		}
	}
}

// refresh refreshes one session. A Claim per session, token generation and
// time window makes sure only one process asks the identity provider (a
// rotating refresh token used twice would look like theft to it), and
// bounds retries to one per refreshWindow.
func (s *Service) refresh(ctx context.Context, sess *store.Session, r refreshState) error {
	p, ok := s.byID[sess.IdP]
	if !ok {
		return nil // the provider left the config; the session lives out its lifetime
	}
	now := s.now()
	gen := HashSecret(string(sess.RefreshEnc))[:16]
	claim := fmt.Sprintf("refresh/%s/%s/%d", sess.ID, gen, now.Unix()/int64(refreshWindow/time.Second))
	if err := s.st.Write(ctx, store.Create(&store.Claim{ID: claim, At: now})); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return err
	}
	ictx, cancel := context.WithTimeout(s.idpContext(ctx), refreshTimeout)
	defer cancel()
	conf, verifier, _, err := p.use(ictx, s.log)
	if err != nil {
		return err
	}
	tok, err := conf.TokenSource(ictx, &oauth2.Token{RefreshToken: r.Token}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return s.endByIdP(ctx, sess, p.id)
	}
	if err != nil {
		return err
	}
	next, groups := r, sess.Groups
	next.At = now
	if tok.RefreshToken != "" {
		next.Token = tok.RefreshToken
	}
	next.Expiry = now.Add(refreshNoIDToken)
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		idt, err := verifier.Verify(ictx, raw)
		if err != nil {
			return fmt.Errorf("refreshed ID token refused: %w", err)
		}
		if idt.Subject != r.Subject {
			return fmt.Errorf("refreshed ID token names another subject")
		}
		next.Expiry = idt.Expiry
		var claims map[string]any
		if err := idt.Claims(&claims); err == nil {
			if g, ok := lookupClaim(claims, p.groupsClaim); ok {
				groups = groupsFrom(g)
			}
		}
	}
	sealed, err := s.sealRefresh(ctx, sess.ID, next)
	if err != nil {
		return err
	}
	return s.applyRefresh(ctx, sess.ID, sealed, groups)
}

// applyRefresh stores a refreshed token and groups on a session and its
// route sessions (the proxy reads groups from those). Records are re-read
// just before the write, and a session ended meanwhile is not brought back.
func (s *Service) applyRefresh(ctx context.Context, id string, sealed []byte, groups []string) error {
	cur, ok := s.st.Session(id)
	if !ok {
		return nil
	}
	cp := *cur
	cp.RefreshEnc = sealed
	changed := !slices.Equal(cp.Groups, groups)
	cp.Groups = slices.Clone(groups)
	if p, ok := s.byID[cur.IdP]; ok {
		cp.Roles = p.rolesOf(groups)
	}
	ops := []store.Op{store.Update(&cp)}
	if changed {
		for _, c := range s.st.ChildSessions(id) {
			cc := *c
			cc.Groups, cc.Roles = slices.Clone(groups), slices.Clone(cp.Roles)
			ops = append(ops, store.Update(&cc))
		}
		ops = append(ops, s.audit("system", "session.groups_updated", cur.UserID, "",
			map[string]string{"email": cur.Email, "idp": cur.IdP}))
	}
	return s.st.Write(ctx, ops...)
}

// endByIdP ends every session of the user whose refresh token the identity
// provider refused (invalid_grant: the user was removed or disabled there,
// or the grant was revoked), and audits it.
func (s *Service) endByIdP(ctx context.Context, sess *store.Session, idp string) error {
	var ops []store.Op
	for _, x := range s.st.SessionsOf(sess.UserID) {
		ops = append(ops, store.Delete(store.KindSession, x.ID))
	}
	for _, c := range s.st.ChildSessions(sess.ID) {
		ops = append(ops, store.Delete(store.KindSession, c.ID))
	}
	ops = append(ops, s.audit("system", "session.ended_by_idp", sess.UserID, "",
		map[string]string{"email": sess.Email, "idp": idp, "reason": "the identity provider refused the refresh token (invalid_grant)"}))
	s.log.Info("identity: the identity provider refused a refresh; the user's sessions are ended", "idp", idp, "email", sess.Email)
	return s.st.Write(ctx, ops...)
}

// familyLive reports whether a console session is within its absolute
// lifetime and it or one of its route sessions was used within the idle
// timeout.
func familyLive(st *store.Store, sess *store.Session, now time.Time) bool {
	if !now.Before(sess.ExpiresAt) {
		return false
	}
	last := sess.LastSeen
	for _, c := range st.ChildSessions(sess.ID) {
		if c.LastSeen.After(last) {
			last = c.LastSeen
		}
	}
	return now.Sub(last) <= SessionIdle
}

// scan returns every record of a kind from the read model.
func scan[T any](st *store.Store, k store.Kind) []*T {
	it, err := st.Txn().Get(string(k), "id")
	if err != nil {
		return nil
	}
	var out []*T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if v, ok := raw.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}
