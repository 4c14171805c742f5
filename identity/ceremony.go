package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// Ceremony is a WebAuthn ceremony handed to the browser: Options go to
// navigator.credentials.create/get (after base64url decoding of the binary
// fields), and Token comes back with the answer.
type Ceremony struct {
	Token   string          `json:"ceremony"`
	Options json.RawMessage `json:"options"`
}

func errKeyRefused(err error) error {
	return apperr.Wrap(apperr.Unauthenticated, err, "Your security key's answer was not accepted. Try again, or use another key.")
}

// BeginLogin starts a WebAuthn sign-in for the browser with flow cookie
// binding. With pending (from SignInPassword) it is the second factor of
// that account; without, it is a passwordless sign-in with a discoverable
// passkey (user verification required) going to rd afterwards.
func (s *Service) BeginLogin(ctx context.Context, pending, rd, binding string, c ClientInfo) (*Ceremony, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn()
	}
	if binding == "" {
		return nil, errFlowForeign()
	}
	if err := s.allowStart(ctx, c); err != nil {
		return nil, err
	}
	flow := &store.AuthFlow{Type: flowLogin}
	d := flowData{Binding: HashSecret(binding)}
	var opts any
	if pending != "" {
		pf, pd, err := s.peekFlow(pending, flowPassword)
		if err != nil {
			return nil, err
		}
		if !pd.bound(binding) {
			return nil, errFlowForeign()
		}
		u, ok := s.st.User(pf.UserID)
		if !ok {
			return nil, errFlowGone()
		}
		a, sd, err := s.wa.BeginLogin(waUser{u, s.credentials(u.ID, PurposeMFA)})
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "This account has no usable security key.")
		}
		flow.UserID, flow.Redirect, d.Pending, d.WebAuthn, opts = u.ID, pf.Redirect, pf.ID, sd, a
	} else {
		a, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return nil, apperr.Wrap(apperr.Internal, err, "Portier could not start the passkey sign-in.")
		}
		target, _ := s.CheckRedirect(rd)
		flow.Redirect, d.WebAuthn, opts = target.String(), sd, a
	}
	return s.ceremony(ctx, flow, d, opts)
}

// FinishLogin checks the browser's assertion for a BeginLogin ceremony and
// creates the session (which counts as MFA: a security key was used).
func (s *Service) FinishLogin(ctx context.Context, token, binding string, credential []byte, c ClientInfo) (*SignIn, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn()
	}
	f, d, err := s.takeFlow(ctx, token, flowLogin)
	if err != nil {
		return nil, err
	}
	if !d.bound(binding) || d.WebAuthn == nil {
		return nil, errFlowForeign()
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		s.failSignIn(ctx, "", "webauthn", "malformed assertion", c)
		return nil, errKeyRefused(err)
	}
	var u *store.User
	var wc *webauthn.Credential
	method := "passkey"
	if d.Pending != "" {
		method = "password+webauthn"
		var ok bool
		if u, ok = s.st.User(f.UserID); !ok {
			return nil, errFlowGone()
		}
		wc, err = s.wa.ValidateLogin(waUser{u, s.credentials(u.ID, PurposeMFA)}, *d.WebAuthn, parsed)
	} else {
		var wu webauthn.User
		wu, wc, err = s.wa.ValidatePasskeyLogin(s.passkeyOwner, *d.WebAuthn, parsed)
		if err == nil {
			u = wu.(waUser).u
		}
	}
	if err != nil {
		s.log.Info("identity: WebAuthn sign-in refused", "err", err, "detail", protocolDetail(err))
		s.failSignIn(ctx, emailOf(u), "webauthn", "assertion refused", c)
		return nil, errKeyRefused(err)
	}
	if !userActive(u) {
		s.failSignIn(ctx, u.Email, "webauthn", "account disabled", c)
		return nil, errDisabled()
	}
	upd, err := s.usedCredential(wc)
	if err != nil {
		s.failSignIn(ctx, u.Email, "webauthn", err.Error(), c)
		return nil, errKeyRefused(err)
	}
	if d.Pending != "" {
		if err := s.claimFlow(ctx, d.Pending); err != nil {
			return nil, err
		}
	}
	cookie, sess := s.newSession(u, LocalIdP, u.Groups, true)
	return s.complete(ctx, cookie, sess, f.Redirect, store.Put(upd),
		s.audit("user:"+u.Email, "signin.success", u.ID, c.IP,
			map[string]string{"method": method, "idp": LocalIdP, "credential": upd.Name, "user_agent": truncate(c.UserAgent, 200)}))
}

// passkeyOwner finds the user of a discoverable credential. Only local
// accounts sign in with a passkey alone: a person whose account comes from
// an identity provider signs in there, so that disabling them there works.
func (s *Service) passkeyOwner(rawID, userHandle []byte) (webauthn.User, error) {
	c, ok := s.st.Credential(base64.RawURLEncoding.EncodeToString(rawID))
	if !ok || c.Purpose != PurposeMFA {
		return nil, errors.New("unknown credential")
	}
	u, ok := s.st.User(c.UserID)
	if !ok || string(userHandle) != u.ID {
		return nil, errors.New("credential and user handle do not match")
	}
	if u.PasswordHash == "" {
		return nil, errors.New("passkey sign-in is for local accounts only")
	}
	return waUser{u, s.credentials(u.ID, PurposeMFA)}, nil
}

// BeginStepUp starts a security-key check for a signed-in console session,
// to go to rd afterwards. A user without security keys gets a NotFound
// error: they must register one first.
func (s *Service) BeginStepUp(ctx context.Context, sess *store.Session, rd string) (*Ceremony, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn()
	}
	u, ok := s.st.User(sess.UserID)
	creds := s.credentials(sess.UserID, PurposeMFA)
	if !ok || len(creds) == 0 {
		return nil, apperr.New(apperr.NotFound, "You have no security key yet. Register one, then try again.")
	}
	a, sd, err := s.wa.BeginLogin(waUser{u, creds})
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "Portier could not start the security-key check.")
	}
	target, _ := s.CheckRedirect(rd)
	return s.ceremony(ctx, &store.AuthFlow{Type: flowStepUp, UserID: u.ID, Redirect: target.String()},
		flowData{SessionID: sess.ID, WebAuthn: sd}, a)
}

// FinishStepUp checks the assertion of a BeginStepUp ceremony. On success
// the console session and every route session handed off from it get
// MFAAt = WebAuthnAt = now, and the browser goes back to the destination (through a
// fresh hand-off for a route).
func (s *Service) FinishStepUp(ctx context.Context, sess *store.Session, token string, credential []byte, c ClientInfo) (string, error) {
	if s.wa == nil {
		return "", errNoWebAuthn()
	}
	f, d, err := s.takeFlow(ctx, token, flowStepUp)
	if err != nil {
		return "", err
	}
	if d.SessionID != sess.ID || d.WebAuthn == nil {
		return "", errFlowForeign()
	}
	u, ok := s.st.User(sess.UserID)
	if !ok || !userActive(u) {
		return "", errDisabled()
	}
	upd, err := s.assertWith(s.wa, u, PurposeMFA, d.WebAuthn, credential)
	if err != nil {
		s.log.Info("identity: step-up refused", "err", err, "detail", protocolDetail(err))
		s.writeAudit(ctx, "user:"+u.Email, "stepup.failure", u.ID, c.IP, nil)
		return "", errKeyRefused(err)
	}
	now := s.now()
	err = s.updateFamily(ctx, sess.ID, func(x *store.Session) { x.MFAAt, x.WebAuthnAt = now, now }, store.Put(upd),
		s.audit("user:"+u.Email, "stepup.success", u.ID, c.IP, map[string]string{"credential": upd.Name}))
	if err != nil {
		return "", apperr.Wrap(apperr.Unavailable, err, "Portier could not save the check. Try again in a minute.")
	}
	return s.Continue(ctx, sess, f.Redirect)
}

// assertWith verifies an assertion by one of u's credentials of a purpose
// and returns that credential, updated (counter, backup state, last use).
func (s *Service) assertWith(wa *webauthn.WebAuthn, u *store.User, purpose string, sd *webauthn.SessionData, credential []byte) (*store.Credential, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return nil, err
	}
	wc, err := wa.ValidateLogin(waUser{u, s.credentials(u.ID, purpose)}, *sd, parsed)
	if err != nil {
		return nil, err
	}
	return s.usedCredential(wc)
}

// updateFamily changes a console session and its route sessions (the
// proxy reads MFAAt and DeviceID from the route session it sees),
// re-reading each just before the write so nothing ended meanwhile comes
// back.
func (s *Service) updateFamily(ctx context.Context, id string, change func(*store.Session), extra ...store.Op) error {
	cur, ok := s.st.Session(id)
	if !ok {
		return errors.New("session ended")
	}
	cp := *cur
	change(&cp)
	ops := []store.Op{store.Update(&cp)}
	for _, ch := range s.st.ChildSessions(id) {
		cc := *ch
		change(&cc)
		ops = append(ops, store.Update(&cc))
	}
	return s.st.Write(ctx, append(ops, extra...)...)
}

// usedCredential returns the stored credential behind an assertion,
// updated.
func (s *Service) usedCredential(wc *webauthn.Credential) (*store.Credential, error) {
	stored, ok := s.st.Credential(base64.RawURLEncoding.EncodeToString(wc.ID))
	if !ok {
		return nil, errors.New("credential deleted meanwhile")
	}
	return used(stored, wc, s.now())
}

// ceremony stores a flow and returns it with its options for the browser.
func (s *Service) ceremony(ctx context.Context, f *store.AuthFlow, d flowData, opts any) (*Ceremony, error) {
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	tok, err := s.newFlow(ctx, f, d)
	if err != nil {
		return nil, err
	}
	return &Ceremony{Token: tok, Options: b}, nil
}

// Fresh reports whether a console session signed in or passed a
// security-key check within FreshAuth, as adding or removing a key needs.
func (s *Service) Fresh(sess *store.Session) bool {
	now := s.now()
	return now.Sub(sess.CreatedAt) <= FreshAuth || (!sess.MFAAt.IsZero() && now.Sub(sess.MFAAt) <= FreshAuth)
}

func emailOf(u *store.User) string {
	if u == nil {
		return ""
	}
	return u.Email
}

// credentialIDs lists credentials as WebAuthn descriptors (for exclusion).
func credentialIDs(cs []*store.Credential) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, 0, len(cs))
	for _, c := range slices.Clone(cs) {
		wc := toWebAuthn(c)
		out = append(out, wc.Descriptor())
	}
	return out
}
