package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// The invitation link (GET /invite?token=…) reuses the sign-in pages: a
// browser that is not signed in goes to sign in (or, with no identity
// provider and no account yet, to the set-up form to choose a password)
// and comes back; a browser signed in as the invited address accepts it.
// The role then waits for a security key: consoleRole grants it only in a
// session that used one, so the browser goes on to the security-key check
// (which offers to register a key first).

// openInvitation finds the usable invitation of a link's secret, or says
// why it is not usable.
func (c *Console) openInvitation(secret string) (*store.Invite, error) {
	inv, ok := c.opts.Store.Invite(identity.HashSecret(secret))
	switch {
	case secret == "" || !ok || inv.Email == "" || inv.Purpose != "":
		return nil, apperr.New(apperr.NotFound, "This invitation link is not valid. Ask the person who invited you for a new one.")
	case c.opts.Store.Claimed(inviteClaim(inv.ID)):
		return nil, apperr.New(apperr.Conflict, "This invitation was already accepted. Sign in to use it.")
	case !c.now().Before(inv.ExpiresAt):
		return nil, apperr.New(apperr.NotFound, "This invitation has expired. Ask the person who invited you for a new one.")
	}
	return inv, nil
}

// invitePage is where an invitation link lands. It accepts on GET, as the
// link is opened: the link's secret is the capability (a page on another
// site cannot know it), it is single-use and bound to the invited
// address, and a link scanner holds no session; what it grants stays
// inert until the person uses a security key.
func (c *Console) invitePage(g *gin.Context) {
	secret := g.Query("token")
	inv, err := c.openInvitation(secret)
	if err != nil {
		c.renderError(g, "title.invitation", err)
		return
	}
	self := InvitePath + "?" + url.Values{"token": {secret}}.Encode()
	g.Header("Cache-Control", "no-store")
	sess, _, ok := c.session(g)
	if !ok {
		if _, exists := c.opts.Store.UserByEmail(inv.Email); !exists && len(c.opts.Identity.Providers()) == 0 {
			g.Redirect(http.StatusFound, "/setup?"+url.Values{"token": {secret}}.Encode())
			return
		}
		g.Redirect(http.StatusFound, "/auth/sign_in?"+url.Values{"rd": {self}}.Encode())
		return
	}
	if !mailaddr.EqualFold(sess.Email, inv.Email) {
		c.renderError(g, "title.invitation", apperr.New(apperr.Forbidden,
			"This invitation is for %s, and you are signed in as %s. Sign out, then open the invitation link again.", inv.Email, sess.Email))
		return
	}
	u, ok := c.opts.Store.User(sess.UserID)
	if !ok {
		c.renderError(g, "title.invitation", apperr.New(apperr.Unauthenticated, "Your session ended. Sign in again."))
		return
	}
	if err := c.acceptInvitation(g.Request.Context(), inv, u, false, g.ClientIP()); err != nil {
		c.renderError(g, "title.invitation", err)
		return
	}
	g.Redirect(http.StatusFound, "/auth/step_up?"+url.Values{"rd": {"/auth/security_keys"}}.Encode())
}

// acceptInvitation gives u the invited role (a role u already holds above
// it stays), marks the invitation used, and audits it, in one write; the
// invitation's claim makes a second acceptance fail. create says u is a new
// account to be created in the same write.
func (c *Console) acceptInvitation(ctx context.Context, inv *store.Invite, u *store.User, create bool, ip string) error {
	now := c.now()
	cp := *u
	if roleRank(inv.Role) > roleRank(cp.Role) {
		cp.Role = inv.Role
	}
	used := *inv
	used.UsedAt = now
	userOp := store.Update(&cp)
	if create {
		userOp = store.Create(&cp)
	}
	ev := store.NewAuditEvent(now, "user:"+u.Email, "invitation.accepted", u.ID)
	ev.RemoteIP = ip
	ev.Detail = map[string]string{"email": u.Email, "role": inv.Role, "invitation": inv.ID, "invited_by": inv.CreatedBy, "role_now": cp.Role}
	err := c.opts.Store.Write(ctx, store.Create(&store.Claim{ID: inviteClaim(inv.ID), At: now, By: u.Email}),
		userOp, store.Update(&used), store.Put(ev))
	if errors.Is(err, store.ErrExists) {
		return apperr.Wrap(apperr.Conflict, err, "This invitation was already accepted. Sign in to use it.")
	}
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "Portier could not save your acceptance. Try again in a minute.")
	}
	return nil
}

// setupInvited is the set-up form for an invitation (an invite with an
// email): it creates the invited person's local account with the chosen
// password and the invited role; no API token is made.
func (c *Console) setupInvited(g *gin.Context, inv *store.Invite, email, hash string, retry setupView) {
	if !mailaddr.EqualFold(email, inv.Email) {
		retry.Email, retry.Error = inv.Email, "setup.invite_other"
		c.renderSetup(g, http.StatusBadRequest, retry)
		return
	}
	if _, exists := c.opts.Store.UserByEmail(inv.Email); exists {
		c.renderSetup(g, http.StatusConflict, setupView{Invalid: "setup.invite_exists"})
		return
	}
	u := &store.User{ID: "usr_" + randomID(8), Email: inv.Email, PasswordHash: hash, CreatedAt: c.now()}
	if err := c.acceptInvitation(g.Request.Context(), inv, u, true, g.ClientIP()); err != nil {
		c.renderSetup(g, apperr.Status(err), setupView{Invalid: apperr.ToBody(err).Error.Message})
		return
	}
	c.renderSetup(g, http.StatusOK, setupView{Done: true, Email: inv.Email})
}
