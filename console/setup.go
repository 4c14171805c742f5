package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// setupView is what the set-up page shows. Error and Invalid are
// catalogue keys: a form to correct, or a link that cannot be used.
type setupView struct {
	Secret, Email, Error, Invalid, Token string
	Done                                 bool
}

// setupInvite finds the unused, unexpired invite for a set-up secret, or
// says (as a catalogue key) why there is none.
func (c *Console) setupInvite(secret string) (*store.Invite, string) {
	inv, ok := c.opts.Store.Invite(identity.HashSecret(secret))
	switch {
	case secret == "" || !ok || inv.Purpose != "":
		return nil, "setup.invalid"
	case c.opts.Store.Claimed("invite/" + inv.ID):
		return nil, "setup.used"
	case !c.now().Before(inv.ExpiresAt):
		return nil, "setup.expired"
	}
	return inv, ""
}

func (c *Console) renderSetup(g *gin.Context, status int, v setupView) {
	p := &ui.Page{TitleKey: "title.setup", Data: v}
	if v.Error != "" {
		p.Error = c.t(g, v.Error)
	}
	if v.Invalid != "" {
		p.Error = c.t(g, v.Invalid)
	}
	c.render(g, status, "setup", p)
}

func (c *Console) setupForm(g *gin.Context) {
	secret := g.Query("token")
	if _, msg := c.setupInvite(secret); msg != "" {
		c.renderSetup(g, http.StatusNotFound, setupView{Invalid: msg})
		return
	}
	c.renderSetup(g, http.StatusOK, setupView{Secret: secret})
}

func (c *Console) setupSubmit(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, 64<<10)
	secret := g.PostForm("token")
	inv, msg := c.setupInvite(secret)
	if msg != "" {
		c.renderSetup(g, http.StatusNotFound, setupView{Invalid: msg})
		return
	}
	email, err := mailaddr.Normalize(g.PostForm("email"))
	retry := setupView{Secret: secret, Email: strings.TrimSpace(g.PostForm("email"))}
	if err != nil {
		retry.Error = "setup.bad_email"
		c.renderSetup(g, http.StatusBadRequest, retry)
		return
	}
	hash, err := identity.HashPassword(g.PostForm("password"))
	if err != nil {
		retry.Error = "setup.bad_password"
		c.renderSetup(g, http.StatusBadRequest, retry)
		return
	}
	if inv.Email != "" {
		c.setupInvited(g, inv, email, hash, retry)
		return
	}
	now := c.now()
	user := &store.User{ID: "usr_" + randomID(8), Email: email, Role: inv.Role, PasswordHash: hash, CreatedAt: now}
	tokSecret := NewSecret()
	tok := &store.Token{ID: "tok_" + randomID(8), Name: "owner token for " + email, Role: inv.Role,
		SecretHash: identity.HashSecret(tokSecret), CreatedBy: "user:" + email, CreatedAt: now,
		OwnerID: user.ID, OwnerEmail: email, ExpiresAt: now.Add(DefaultTokenTTL)}
	g.Set(principalKey, &principal{Actor: "user:" + email, Role: inv.Role})
	err = c.opts.Store.Write(g.Request.Context(),
		store.Create(&store.Claim{ID: "invite/" + inv.ID, At: now, By: email}),
		store.Put(user), store.Create(tok),
		c.audit(g, "setup.owner_created", user.ID, map[string]string{"email": email, "role": inv.Role}))
	if errors.Is(err, store.ErrExists) {
		c.renderSetup(g, http.StatusConflict, setupView{Invalid: "setup.used"})
		return
	}
	if err != nil {
		c.opts.Log.Error("setup: cannot create owner", "err", err)
		c.renderSetup(g, http.StatusServiceUnavailable, setupView{Invalid: "setup.save_failed"})
		return
	}
	c.opts.Log.Info("setup: owner account created", "email", email)
	c.renderSetup(g, http.StatusOK, setupView{Done: true, Email: email, Token: tokSecret})
}
