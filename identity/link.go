package identity

import (
	"context"
	"errors"
	"slices"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// The account an identity provider's sign-in reaches is found by the
// provider's stable identity (issuer + subject, an IdentityLink), never by
// e-mail. Without a link, linkByEmail decides, fail-closed:
//
//   - the e-mail must follow the mailaddr rule and be verified by the
//     provider (email_verified: true);
//   - its domain must be in the provider's allowed_domains when they are set;
//   - no account has the address: a new account and its link are created;
//   - an account has it: it is linked only if the provider has
//     allowed_domains (it is trusted for that domain), the account is not a
//     local account (no password, no security key: those are linked only
//     by the user, see StartLink) and has no other identity of the same
//     issuer linked.

// refusal is a sign-in refused by the linking rules: Reason goes to the
// audit log, Err to the browser.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.reason }

func refuse(reason string, err error) *refusal { return &refusal{reason: reason, err: err} }

// userForIdentity returns the user an external identity signs in as, with
// the writes that create the user and the link when needed.
func (s *Service) userForIdentity(p *provider, issuer, subject string, info who, ip string) (*store.User, []store.Op, *refusal) {
	if l, ok := s.st.IdentityLink(issuer, subject); ok {
		u, ok := s.st.User(l.UserID)
		if !ok {
			return nil, nil, refuse("linked account no longer exists", apperr.New(apperr.Forbidden,
				"The Portier account linked to your %s sign-in no longer exists. Contact your administrator.", p.name))
		}
		return u, nil, nil
	}
	return s.linkByEmail(p, issuer, subject, info, ip)
}

func (s *Service) linkByEmail(p *provider, issuer, subject string, info who, ip string) (*store.User, []store.Op, *refusal) {
	email, err := mailaddr.Normalize(info.email)
	if err != nil {
		return nil, nil, refuse("no usable email claim", apperr.New(apperr.Forbidden,
			"%s did not give Portier a usable email address for you (Portier accepts only plain ASCII addresses), so you cannot sign in with it.", p.name))
	}
	if !info.verified {
		return nil, nil, refuse("email not verified by the provider", apperr.New(apperr.Forbidden,
			"%s did not give Portier a verified email address for you, so you cannot sign in with it.", p.name))
	}
	if len(p.allowedDomains) > 0 && !slices.Contains(p.allowedDomains, mailaddr.Domain(email)) {
		return nil, nil, refuse("email domain not allowed for this provider", apperr.New(apperr.Forbidden,
			"%s may not sign in people with an address at %s. Contact your administrator.", p.name, mailaddr.Domain(email)))
	}
	link := &store.IdentityLink{ID: store.LinkID(issuer, subject), Provider: p.id, Issuer: issuer, Subject: subject,
		Email: email, CreatedAt: s.now()}
	u, exists := s.st.UserByEmail(email)
	if !exists {
		u = &store.User{ID: "usr_" + HashSecret("user\x00" + email)[:16], Email: email, Name: info.name, CreatedAt: s.now()}
		link.UserID, link.Method = u.ID, store.LinkCreated
		return u, append([]store.Op{store.Create(u),
			s.audit("system", "user.created", u.ID, ip, map[string]string{"email": email, "idp": p.id})},
			s.linkOps("system", link, ip)...), nil
	}
	if !userActive(u) {
		return nil, nil, refuse("account disabled", errDisabled())
	}
	existing := apperr.New(apperr.Forbidden,
		"A Portier account with this email address already exists, and %s may not sign in to it on its own. Contact your administrator.", p.name)
	if u.PasswordHash != "" || len(s.credentials(u.ID, PurposeMFA)) > 0 {
		return nil, nil, refuse("existing account has a password or security key: only the user can link it", apperr.New(apperr.Forbidden,
			"A Portier account with this email address already exists. Sign in to it with its password or security key, then choose \"Link my %s account\" on the Security keys page (/auth/security_keys).", p.name))
	}
	if len(p.allowedDomains) == 0 {
		return nil, nil, refuse("existing account; provider has no allowed_domains", existing)
	}
	if s.linkedTo(u.ID, issuer) {
		return nil, nil, refuse("existing account is linked to another identity of this provider", existing)
	}
	link.UserID, link.Method = u.ID, store.LinkEmail
	return u, s.linkOps("system", link, ip), nil
}

// linkOps are the writes that create link l: the link itself, and a Claim
// that makes "one identity per issuer per account" hold across replicas
// (of two first sign-ins racing for one account, one write fails), and its
// audit event.
func (s *Service) linkOps(actor string, l *store.IdentityLink, ip string) []store.Op {
	return []store.Op{store.Create(l), store.Create(&store.Claim{ID: issuerClaim(l.UserID, l.Issuer), At: l.CreatedAt}),
		s.linkAudit(actor, l, ip)}
}

// issuerClaim names the Claim held by a user's link to an issuer.
func issuerClaim(userID, issuer string) string {
	return "idlink/" + userID + "/" + HashSecret(issuer)[:32]
}

// linkAudit is the audit event of a new link.
func (s *Service) linkAudit(actor string, l *store.IdentityLink, ip string) store.Op {
	return s.audit(actor, "identity.linked", l.UserID, ip, map[string]string{"idp": l.Provider, "issuer": l.Issuer,
		"subject": truncate(l.Subject, 255), "email": l.Email, "method": l.Method})
}

// linkedTo reports whether a user has an identity of issuer linked.
func (s *Service) linkedTo(userID, issuer string) bool {
	if s.st.Claimed(issuerClaim(userID, issuer)) {
		return true
	}
	for _, l := range s.st.LinksOf(userID) {
		if l.Issuer == issuer {
			return true
		}
	}
	return false
}

// LinkInfo is an external identity linked to a user, as the security page
// shows it.
type LinkInfo struct {
	ID, Provider, ProviderName, Email, Method string
	CreatedAt                                 string
}

// Links lists the identity-provider accounts linked to a user.
func (s *Service) Links(userID string) []LinkInfo {
	var out []LinkInfo
	for _, l := range s.st.LinksOf(userID) {
		name := l.Provider
		if p, ok := s.byID[l.Provider]; ok {
			name = p.name
		}
		out = append(out, LinkInfo{ID: l.ID, Provider: l.Provider, ProviderName: name, Email: l.Email, Method: l.Method,
			CreatedAt: l.CreatedAt.Format("2006-01-02")})
	}
	return out
}

// StartLink begins linking the identity-provider account of provider id to
// the signed-in user of a console session: the user, already signed in
// (within FreshAuth), signs in at the provider too, and FinishOIDC creates
// the link. The flow is bound to this browser (binding, its flow cookie)
// and to this session.
func (s *Service) StartLink(ctx context.Context, sess *store.Session, id, binding string, c ClientInfo) (string, error) {
	p, ok := s.byID[id]
	if !ok {
		return "", apperr.New(apperr.NotFound, "There is no sign-in provider called %q.", id)
	}
	if binding == "" || sess == nil || sess.ParentID != "" || sess.Host != "" {
		return "", errFlowForeign()
	}
	if u, ok := s.st.User(sess.UserID); !ok || !userActive(u) {
		return "", errDisabled()
	}
	if !s.Fresh(sess) {
		return "", errNotFresh()
	}
	if err := s.allowStart(ctx, c); err != nil {
		return "", err
	}
	return s.startCodeFlow(ctx, p, &store.AuthFlow{Type: flowLink, UserID: sess.UserID, Redirect: s.origin + LinkDonePath},
		flowData{Binding: HashSecret(binding), SessionID: sess.ID})
}

// LinkDonePath is where the browser lands after linking an account.
const LinkDonePath = "/auth/security_keys"

var errLinkSession = errors.New("link flow: the session that started it is gone or not this browser's")

// finishLink completes an explicit link for the session that started it:
// the browser must still hold that session, the provider's e-mail must be
// verified and be the account's address, and the provider's identity must
// not be linked to another account.
func (s *Service) finishLink(ctx context.Context, p *provider, f *store.AuthFlow, d *flowData, sessionCookie, issuer, subject string, info who, c ClientInfo) (*SignIn, error) {
	sess, ok := Live(s.st, sessionCookie, "", s.now()) // the console session that started the link
	if !ok || sess.ID != d.SessionID || sess.UserID != f.UserID {
		s.failSignIn(ctx, "", "oidc-link", errLinkSession.Error(), c)
		return nil, apperr.Wrap(apperr.Forbidden, errLinkSession, "Sign in to Portier in this browser first, then link your %s account again.", p.name)
	}
	u, ok := s.st.User(sess.UserID)
	if !ok || !userActive(u) {
		return nil, errDisabled()
	}
	fail := func(reason string, err error) (*SignIn, error) {
		s.writeAudit(ctx, "user:"+u.Email, "identity.link_refused", u.ID, c.IP, map[string]string{"idp": p.id, "reason": reason})
		return nil, err
	}
	if !info.verified || !mailaddr.Equal(info.email, u.Email) {
		return fail("provider email not verified or not the account's", apperr.New(apperr.Forbidden,
			"%s did not confirm the address %s for the account you signed in with there, so it cannot be linked. Sign in there with the account that has this address.", p.name, u.Email))
	}
	done := &SignIn{Session: sess, Redirect: s.origin + LinkDonePath}
	if l, ok := s.st.IdentityLink(issuer, subject); ok {
		if l.UserID == u.ID {
			return done, nil
		}
		return fail("provider identity linked to another account", apperr.New(apperr.Conflict,
			"This %s account is already linked to another Portier account.", p.name))
	}
	if s.linkedTo(u.ID, issuer) {
		return fail("account already linked to another identity of this provider", apperr.New(apperr.Conflict,
			"Your Portier account is already linked to another %s account.", p.name))
	}
	link := &store.IdentityLink{ID: store.LinkID(issuer, subject), UserID: u.ID, Provider: p.id, Issuer: issuer,
		Subject: subject, Email: mailaddr.Fold(u.Email), Method: store.LinkExplicit, CreatedAt: s.now()}
	if err := s.st.Write(ctx, s.linkOps("user:"+u.Email, link, c.IP)...); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, apperr.Wrap(apperr.Conflict, err, "This %s account, or another one, was just linked to your Portier account. Reload the page.", p.name)
		}
		return nil, apperr.Wrap(apperr.Unavailable, err, "Portier could not save the link. Try again in a minute.")
	}
	return done, nil
}
