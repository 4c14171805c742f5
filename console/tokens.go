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

// tokenView is a token as the API shows it: never the secret or its hash.
type tokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedBy string     `json:"created_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func viewToken(t *store.Token) tokenView {
	v := tokenView{ID: t.ID, Name: t.Name, Role: t.Role, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt}
	if !t.ExpiresAt.IsZero() {
		v.ExpiresAt = &t.ExpiresAt
	}
	return v
}

func (c *Console) whoami(g *gin.Context) {
	p := who(g)
	g.JSON(http.StatusOK, gin.H{"actor": p.Actor, "role": p.Role, "token": viewToken(p.Token)})
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
		c.fail(g, apperr.Field("role", "role must be owner, admin, helpdesk or auditor"))
		return
	}
	now := c.now()
	tok := &store.Token{ID: "tok_" + randomID(8), Name: req.Name, Role: req.Role, CreatedBy: who(g).Actor, CreatedAt: now}
	if req.TTL != "" {
		ttl, err := time.ParseDuration(req.TTL)
		if err != nil || ttl <= 0 {
			c.fail(g, apperr.Field("ttl", "ttl must be a positive duration such as 720h"))
			return
		}
		tok.ExpiresAt = now.Add(ttl)
	}
	secret := NewSecret()
	tok.SecretHash = identity.HashSecret(secret)
	err := c.opts.Store.Write(g.Request.Context(), store.Create(tok),
		c.audit(g, "token.create", tok.ID, map[string]string{"name": tok.Name, "role": tok.Role}))
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
// another owner token or another enabled owner account.
func (c *Console) ownerRemains(withoutToken, withoutUser string) bool {
	for _, t := range c.opts.Store.Tokens() {
		if t.ID != withoutToken && t.Role == RoleOwner {
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
