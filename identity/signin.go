package identity

import (
	"context"
	"slices"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// SignIn is a completed sign-in: the browser gets Cookie as its console
// session cookie (see SessionCookieFor) and goes to Redirect.
type SignIn struct {
	Cookie   string
	Session  *store.Session
	Redirect string
}

// ClientInfo is what the audit log records about the browser.
type ClientInfo struct {
	IP        string
	UserAgent string
}

// newSession returns a console session for u and its cookie value;
// webauthn says the sign-in used a security key or passkey (which is MFA).
func (s *Service) newSession(u *store.User, idp string, groups []string, webauthn bool) (string, *store.Session) {
	now := s.now()
	cookie, id := NewSessionSecret()
	sess := &store.Session{ID: id, UserID: u.ID, Email: u.Email, Groups: slices.Clone(groups), IdP: idp,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(SessionAbsolute)}
	if webauthn {
		sess.MFAAt, sess.WebAuthnAt = now, now
	}
	return cookie, sess
}

// complete stores a new session together with ops (user record, credential
// update, the audit event) in one write, then works out where to go.
func (s *Service) complete(ctx context.Context, cookie string, sess *store.Session, rd string, ops ...store.Op) (*SignIn, error) {
	ops = append([]store.Op{store.Create(sess)}, ops...)
	if err := s.st.Write(ctx, ops...); err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "Portier could not save your session. Try again in a minute.")
	}
	dest, err := s.Continue(ctx, sess, rd)
	if err != nil {
		return nil, err
	}
	return &SignIn{Cookie: cookie, Session: sess, Redirect: dest}, nil
}

// SessionFor returns the live console session of a session cookie value.
// A route host's session (handed off) never counts on the console. Using a
// session records its activity at most once a minute.
func (s *Service) SessionFor(ctx context.Context, cookie string) (*store.Session, bool) {
	now := s.now()
	sess, ok := Live(s.st, cookie, "", now)
	if !ok {
		return nil, false
	}
	if now.Sub(sess.LastSeen) >= LastSeenGranularity {
		// Re-read just before the write: a sign-out must not be undone, nor
		// a step-up's MFAAt overwritten.
		if cur, still := s.st.Session(sess.ID); still {
			cp := *cur
			cp.LastSeen = now
			if err := s.st.Write(ctx, store.Update(&cp)); err != nil {
				s.log.Warn("identity: cannot record session activity", "err", err)
			} else {
				sess = &cp
			}
		}
	}
	return sess, true
}

// SignOut ends the console session of a cookie value and every session
// handed off from it, and audits it. Only a console session counts here
// (see Lookup): a route host's cookie replayed on the console ends nothing.
// An unknown or ended session is not an error: the browser is signed out
// either way.
func (s *Service) SignOut(ctx context.Context, cookie string, c ClientInfo) error {
	sess, ok := Lookup(s.st, cookie, "")
	if !ok {
		return nil
	}
	ops := EndSessionOps(s.st, sess.ID)
	ops = append(ops, s.audit("user:"+sess.Email, "signout", sess.UserID, c.IP, map[string]string{"idp": sess.IdP}))
	if err := s.st.Write(ctx, ops...); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "Portier could not end your session. Try again in a minute.")
	}
	return nil
}

// userActive reports whether a user may sign in.
func userActive(u *store.User) bool { return u != nil && !u.Disabled }
