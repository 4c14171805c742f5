package identity

import (
	"context"
	"crypto/subtle"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Bounds on what an identity provider may put in a session.
const (
	maxGroups   = 500
	maxGroupLen = 256
	maxEmailLen = 254
)

// StartOIDC begins sign-in with identity provider id for the browser whose
// flow cookie has value binding, and returns the provider's authorization
// URL (c is rate-limited per IP): authorization code flow with PKCE (S256), a random state (kept only
// hashed, server-side, for FlowLifetime) and a random nonce.
func (s *Service) StartOIDC(ctx context.Context, id, rd, binding string, c ClientInfo) (string, error) {
	p, ok := s.byID[id]
	if !ok {
		return "", apperr.New(apperr.NotFound, "There is no sign-in provider called %q.", id)
	}
	if binding == "" {
		return "", errFlowForeign()
	}
	if err := s.allowStart(ctx, c); err != nil {
		return "", err
	}
	target, _ := s.CheckRedirect(rd)
	return s.startCodeFlow(ctx, p, &store.AuthFlow{Type: flowOIDC, Redirect: target.String()}, flowData{Binding: HashSecret(binding)})
}

// startCodeFlow stores flow f (with a fresh PKCE verifier and nonce) and
// returns the provider's authorization URL for it.
func (s *Service) startCodeFlow(ctx context.Context, p *provider, f *store.AuthFlow, d flowData) (string, error) {
	conf, _, _, err := p.use(s.idpContext(ctx), s.log)
	if err != nil {
		return "", err
	}
	f.Provider, f.Verifier, f.Nonce = p.id, oauth2.GenerateVerifier(), NewFlowSecret()
	state, err := s.newFlow(ctx, f, d)
	if err != nil {
		return "", err
	}
	return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), nil
}

// OIDCCallback is what the identity provider sent back to CallbackPath.
type OIDCCallback struct {
	State, Code string
	// Error is the provider's error code (e.g. access_denied), "" on success.
	Error string
	// Session is the browser's console session cookie value: a link flow
	// (StartLink) completes only in the browser still holding the session
	// that started it.
	Session string
}

// FinishOIDC completes an OIDC sign-in: the state must name a live flow of
// this browser (binding) not used before; the code is exchanged with the
// PKCE verifier; the ID token's signature, issuer, audience, expiry and
// nonce are verified; email and groups are read (from userinfo when the ID
// token lacks the email); the user is found by the link of the token's
// issuer and subject, or linked under the rules of userForIdentity; and a
// session is created, holding the sealed refresh token if there is one. A
// link flow (StartLink) instead links the provider's account to the
// signed-in user and creates no session.
func (s *Service) FinishOIDC(ctx context.Context, cb OIDCCallback, binding string, c ClientInfo) (*SignIn, error) {
	f, d, err := s.takeFlow(ctx, cb.State, flowOIDC, flowLink)
	if err != nil {
		s.failSignIn(ctx, "", "oidc", "unknown, expired or replayed state", c)
		return nil, err
	}
	if !d.bound(binding) {
		s.failSignIn(ctx, "", "oidc", "state from another browser", c)
		return nil, errFlowForeign()
	}
	if cb.Error != "" {
		s.failSignIn(ctx, "", "oidc", "provider answered "+truncate(cb.Error, 64), c)
		return nil, apperr.New(apperr.Unauthenticated, "The sign-in provider did not sign you in (you may have cancelled). Please try again.")
	}
	p, ok := s.byID[f.Provider]
	if !ok {
		return nil, errFlowGone()
	}
	ictx := s.idpContext(ctx)
	conf, verifier, op, err := p.use(ictx, s.log)
	if err != nil {
		return nil, err
	}
	tok, err := conf.Exchange(ictx, cb.Code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.failSignIn(ctx, "", "oidc", "code exchange failed", c)
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "%s did not confirm your sign-in. Please try again.", p.name)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ictx, raw)
	if err != nil {
		s.failSignIn(ctx, "", "oidc", "ID token refused", c)
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "%s sent a sign-in Portier cannot accept. Please try again.", p.name)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		s.failSignIn(ctx, "", "oidc", "nonce mismatch", c)
		return nil, apperr.New(apperr.Unauthenticated, "%s sent a sign-in that does not belong to this attempt. Please try again.", p.name)
	}
	info, err := s.claimsOf(ictx, p, op, tok, idt)
	if err != nil {
		s.failSignIn(ctx, "", "oidc", "ID token claims unreadable", c)
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "%s sent a sign-in Portier cannot accept. Please try again.", p.name)
	}
	if f.Type == flowLink {
		return s.finishLink(ctx, p, f, d, cb.Session, idt.Issuer, idt.Subject, info, c)
	}
	u, ops, no := s.userForIdentity(p, idt.Issuer, idt.Subject, info, c.IP)
	if no != nil {
		s.failSignIn(ctx, auditEmail(info.email), "oidc", no.reason, c)
		return nil, no.err
	}
	if !userActive(u) {
		s.failSignIn(ctx, u.Email, "oidc", "account disabled", c)
		return nil, errDisabled()
	}
	cookie, sess := s.newSession(u, p.id, info.groups, false)
	sess.Roles = p.rolesOf(info.groups)
	if tok.RefreshToken != "" {
		sealed, err := s.sealRefresh(ctx, sess.ID, refreshState{Token: tok.RefreshToken, Subject: idt.Subject, Expiry: idt.Expiry})
		if err != nil {
			s.log.Error("identity: cannot seal the refresh token; the session will not be refreshed", "err", err)
		}
		sess.RefreshEnc = sealed
	}
	ops = append(ops, s.audit("user:"+u.Email, "signin.success", u.ID, c.IP,
		map[string]string{"method": "oidc", "idp": p.id, "user_agent": truncate(c.UserAgent, 200)}))
	return s.complete(ctx, cookie, sess, f.Redirect, ops...)
}

// who is what an identity provider says about a person. verified is true
// only when the provider said email_verified: true about this email.
type who struct {
	email, name string
	verified    bool
	groups      []string
}

// claimsOf reads email, email_verified, name and groups from the ID token,
// falling back to the userinfo endpoint for what the token lacks (its
// email_verified counts only for the very address the token names).
func (s *Service) claimsOf(ctx context.Context, p *provider, op *oidc.Provider, tok *oauth2.Token, idt *oidc.IDToken) (who, error) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return who{}, err
	}
	email, _ := claims["email"].(string)
	verified, hasVerified := claims["email_verified"]
	groupsRaw, hasGroups := lookupClaim(claims, p.groupsClaim)
	if (email == "" || !hasVerified || !hasGroups) && op.UserInfoEndpoint() != "" {
		ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err == nil && ui.Subject == idt.Subject {
			var uc map[string]any
			if ui.Claims(&uc) == nil {
				switch {
				case email == "":
					email = ui.Email
					verified, hasVerified = uc["email_verified"]
				case !hasVerified && ui.Email == email:
					verified, hasVerified = uc["email_verified"]
				}
				if !hasGroups {
					groupsRaw, hasGroups = lookupClaim(uc, p.groupsClaim)
				}
			}
		} else if err != nil {
			s.log.Warn("identity: userinfo request failed", "idp", p.id, "err", err)
		}
	}
	w := who{email: truncate(strings.TrimSpace(email), maxEmailLen+1), verified: hasVerified && truthy(verified),
		groups: groupsFrom(groupsRaw)}
	w.name, _ = claims["name"].(string)
	w.name = truncate(w.name, 200)
	return w, nil
}

// auditEmail is an address an identity provider sent, as the audit log may
// name it: normalised, or "" when it breaks the rule.
func auditEmail(e string) string {
	n, _ := mailaddr.Normalize(e)
	return n
}

// lookupClaim finds a claim by name, or by a dotted path into nested
// objects (e.g. realm_access.roles).
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// groupsFrom reads a groups claim: a JSON array of strings, or one string
// of names separated by spaces or commas.
func groupsFrom(v any) []string {
	var out []string
	add := func(g string) {
		if g = strings.TrimSpace(g); g != "" && len(g) <= maxGroupLen && len(out) < maxGroups {
			out = append(out, g)
		}
	}
	switch g := v.(type) {
	case []any:
		for _, x := range g {
			if str, ok := x.(string); ok {
				add(str)
			}
		}
	case []string:
		for _, x := range g {
			add(x)
		}
	case string:
		for _, x := range strings.FieldsFunc(g, func(r rune) bool { return r == ',' || r == ' ' }) {
			add(x)
		}
	}
	return out
}

func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

func errDisabled() error {
	return apperr.New(apperr.Forbidden, "This account is disabled. Contact your administrator.")
}

// failSignIn audits a refused sign-in. Anyone can cause those, so past a
// rate per client IP they are only logged, not written to the store.
func (s *Service) failSignIn(ctx context.Context, email, method, reason string, c ClientInfo) {
	actor := "anonymous"
	if email != "" {
		actor = "user:" + truncate(email, maxEmailLen)
	}
	if !s.failures.allow(c.IP, s.now()) {
		s.log.Warn("identity: sign-in refused (not audited: too many from this address)",
			"actor", actor, "method", method, "reason", reason, "ip", c.IP)
		return
	}
	s.writeAudit(ctx, actor, "signin.failure", "", c.IP, map[string]string{"method": method, "reason": reason,
		"user_agent": truncate(c.UserAgent, 200)})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
