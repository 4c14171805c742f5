package identity

import (
	"context"
	"strings"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// maxPasswordLen bounds the password bytes hashed at all.
const maxPasswordLen = 1024

// PasswordResult is the outcome of a right password: a finished sign-in, or,
// when the account has security keys, a pending second factor.
type PasswordResult struct {
	SignIn *SignIn
	// Pending is set when the account has security keys: the browser must
	// now pass a WebAuthn assertion (BeginLogin with this token) before any
	// session exists.
	Pending string
}

// SignInPassword signs in a local account with email and password. Attempts
// are rate-limited per account and per client IP (429 when exceeded); an
// unknown email costs the same argon2id work as a known one; disabled
// accounts are refused. rd is the requested destination and binding the
// browser's flow cookie value.
func (s *Service) SignInPassword(ctx context.Context, email, password, rd, binding string, c ClientInfo) (*PasswordResult, error) {
	email = strings.TrimSpace(email)
	if binding == "" {
		return nil, errFlowForeign()
	}
	now := s.now()
	if err := s.allowPassword(ctx, c.IP, mailaddr.Fold(truncate(email, maxEmailLen)), now); err != nil {
		s.log.Warn("identity: password sign-in rate-limited", "email", truncate(email, maxEmailLen), "ip", c.IP, "err", err)
		return nil, err
	}
	var u *store.User
	if len(email) <= maxEmailLen {
		u, _ = s.st.UserByEmail(email)
	}
	hash := s.dummy()
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	if len(password) > maxPasswordLen {
		password = password[:maxPasswordLen]
	}
	err := s.verify(ctx, hash, password)
	if err != nil || u == nil || u.PasswordHash == "" {
		s.failSignIn(ctx, email, "password", "wrong email or password", c)
		return nil, apperr.New(apperr.Unauthenticated, "The email address or password is not right.")
	}
	if !userActive(u) {
		s.failSignIn(ctx, email, "password", "account disabled", c)
		return nil, errDisabled()
	}
	if len(s.credentials(u.ID, PurposeMFA)) > 0 {
		if s.wa == nil {
			return nil, errNoWebAuthn()
		}
		target, _ := s.CheckRedirect(rd)
		tok, err := s.newFlow(ctx, &store.AuthFlow{Type: flowPassword, UserID: u.ID, Redirect: target.String()},
			flowData{Binding: HashSecret(binding)})
		if err != nil {
			return nil, err
		}
		return &PasswordResult{Pending: tok}, nil
	}
	cookie, sess := s.newSession(u, LocalIdP, u.Groups, false)
	si, err := s.complete(ctx, cookie, sess, rd, s.audit("user:"+u.Email, "signin.success", u.ID, c.IP,
		map[string]string{"method": "password", "idp": LocalIdP, "user_agent": truncate(c.UserAgent, 200)}))
	if err != nil {
		return nil, err
	}
	return &PasswordResult{SignIn: si}, nil
}

// verify checks a password with bounded argon2id concurrency.
func (s *Service) verify(ctx context.Context, hash, pw string) error {
	select {
	case s.hashes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashes }()
	return VerifyPassword(hash, pw)
}

// dummy is a hash of a random password, verified against when the account
// is unknown so that the answer takes as long as for a known one.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = HashPassword(NewFlowSecret())
	})
	return s.dummyHash
}

func errNoWebAuthn() error {
	return apperr.New(apperr.Unavailable, "Security keys are unavailable: Portier must be reached by a host name (not an IP address) for them to work. Contact your administrator.")
}

// HasLocalAccounts reports whether any account signs in with a password (the
// sign-in page shows the password form only then, or when no identity
// provider is configured).
func (s *Service) HasLocalAccounts() bool {
	for _, u := range s.st.Users() {
		if u.PasswordHash != "" {
			return true
		}
	}
	return false
}
