package console

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// Token lifetimes: a token always expires; without a ttl it lives
// DefaultTokenTTL, and no ttl may exceed MaxTokenTTL.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 365 * 24 * time.Hour
)

// maxServiceAccount bounds a service account's name.
const maxServiceAccount = 64

// tokenView is a token as the API shows it: never the secret or its hash.
type tokenView struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Role           string     `json:"role"`
	OwnerID        string     `json:"owner_id,omitempty"`
	OwnerEmail     string     `json:"owner_email,omitempty"`
	ServiceAccount string     `json:"service_account,omitempty"`
	CreatedBy      string     `json:"created_by,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	// NeverExpires marks a token made before expiry was mandatory.
	NeverExpires bool `json:"never_expires,omitempty"`
}

func viewToken(t *store.Token) tokenView {
	v := tokenView{ID: t.ID, Name: t.Name, Role: t.Role, OwnerID: t.OwnerID, OwnerEmail: t.OwnerEmail,
		ServiceAccount: t.ServiceAccount, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, NeverExpires: t.ExpiresAt.IsZero()}
	if !t.ExpiresAt.IsZero() {
		v.ExpiresAt = &t.ExpiresAt
	}
	return v
}

// whoami says who the caller is: actor, role in force, and the token or
// the session's person (with a role held but waiting for a security key).
func (c *Console) whoami(g *gin.Context) {
	p := who(g)
	out := gin.H{"actor": p.Actor, "role": p.Role}
	if p.Token != nil {
		out["token"] = viewToken(p.Token)
	}
	if p.User != nil {
		out["user"] = gin.H{"id": p.User.ID, "email": p.User.Email}
		if p.Held != "" {
			out["held_role"] = p.Held
		}
	}
	g.JSON(http.StatusOK, out)
}

func (c *Console) listTokens(g *gin.Context) {
	toks := c.opts.Store.Tokens()
	sort.Slice(toks, func(i, j int) bool { return toks[i].CreatedAt.Before(toks[j].CreatedAt) })
	out := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, viewToken(t))
	}
	g.JSON(http.StatusOK, gin.H{"tokens": out})
}

type createTokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	TTL  string `json:"ttl"`
	// ServiceAccount makes the token belong to a named service account
	// instead of the caller (owners and admins only).
	ServiceAccount string `json:"service_account"`
}

// randomID returns n random bytes, hex-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewSecret returns a random URL-safe secret with 256 bits of entropy.
func NewSecret() string {
	secret, _ := identity.NewSessionSecret()
	return secret
}

func (c *Console) createToken(g *gin.Context) {
	var req createTokenRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	if req.Name == "" || len(req.Name) > 100 {
		c.fail(g, apperr.Field("name", "name is required (at most 100 characters)"))
		return
	}
	if !ValidRole(req.Role) {
		c.fail(g, apperr.Field("role", "role must be owner, admin, security, helpdesk or auditor"))
		return
	}
	caller := who(g)
	if !mayActOn(caller.Role, req.Role) {
		c.fail(g, forbiddenField("role", "your role (%s) may not create a token with the more powerful role %s", caller.Role, req.Role))
		return
	}
	now := c.now()
	tok := &store.Token{ID: "tok_" + randomID(8), Name: req.Name, Role: req.Role, CreatedBy: caller.Actor, CreatedAt: now}
	if err := c.tokenOwner(caller, req.ServiceAccount, tok); err != nil {
		c.fail(g, err)
		return
	}
	ttl := DefaultTokenTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > MaxTokenTTL {
			c.fail(g, apperr.Field("ttl", "ttl must be a positive duration of at most %s, such as 720h", MaxTokenTTL))
			return
		}
		ttl = d
	}
	tok.ExpiresAt = now.Add(ttl)
	secret := NewSecret()
	tok.SecretHash = identity.HashSecret(secret)
	err := c.opts.Store.Write(g.Request.Context(), store.Create(tok),
		c.audit(g, "token.create", tok.ID, map[string]string{"name": tok.Name, "role": tok.Role,
			"owner": tokenOwnerName(tok)}))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusCreated, gin.H{"token": viewToken(tok), "secret": secret})
}

func (c *Console) deleteToken(g *gin.Context) {
	id := g.Param("id")
	tok, ok := c.opts.Store.Token(id)
	if !ok {
		c.fail(g, apperr.New(apperr.NotFound, "no token %q", id))
		return
	}
	if caller := who(g); !mayActOn(caller.Role, tok.Role) {
		c.fail(g, apperr.New(apperr.Forbidden, "your role (%s) may not revoke a token with the more powerful role %s", caller.Role, tok.Role))
		return
	}
	if tok.Role == RoleOwner && !c.ownerRemains(id, "") {
		c.fail(g, apperr.New(apperr.Conflict, "this is the last owner token and no owner account exists: create another owner token first"))
		return
	}
	err := c.opts.Store.Write(g.Request.Context(), store.Delete(store.KindToken, id), c.audit(g, "token.delete", id, nil))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// ownerRemains reports whether Portier could still be administered as
// owner without the token and the user named (either may be ""): through
// another owner token (not one of that user's) or another enabled owner
// account.
func (c *Console) ownerRemains(withoutToken, withoutUser string) bool {
	for _, t := range c.opts.Store.Tokens() {
		if t.ID != withoutToken && t.Role == RoleOwner && (withoutUser == "" || t.OwnerID != withoutUser) {
			return true
		}
	}
	for _, u := range c.opts.Store.Users() {
		if u.ID != withoutUser && u.Role == RoleOwner && !u.Disabled {
			return true
		}
	}
	return false
}

// tokenOwner sets who a new token belongs to: the named service account
// (owners and admins only), else the caller's person, else the caller
// token's owner. A token made before owners existed hands on its own id as
// a service account, so every new token has an owner.
func (c *Console) tokenOwner(caller *principal, serviceAccount string, tok *store.Token) error {
	if serviceAccount != "" {
		if roleRank(caller.Role) < roleRank(RoleAdmin) {
			return forbiddenField("service_account", "only owners and admins may create a service account's token")
		}
		if !validServiceAccount(serviceAccount) {
			return apperr.Field("service_account", "service_account must be 1 to %d lower-case letters, digits, '-' or '_'", maxServiceAccount)
		}
		tok.ServiceAccount = serviceAccount
		return nil
	}
	switch t := caller.Token; {
	case caller.User != nil:
		tok.OwnerID, tok.OwnerEmail = caller.User.ID, caller.User.Email
	case t != nil && t.OwnerID != "":
		tok.OwnerID, tok.OwnerEmail = t.OwnerID, t.OwnerEmail
	case t != nil && t.ServiceAccount != "":
		tok.ServiceAccount = t.ServiceAccount
	case t != nil:
		tok.ServiceAccount = t.ID
	default:
		return apperr.New(apperr.Forbidden, "only a person or a service account may create a token")
	}
	return nil
}

func validServiceAccount(s string) bool {
	if s == "" || len(s) > maxServiceAccount {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
