package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
)

// The people pages' forms. Each calls the same function as its API route
// (invite, withdrawInvite, changeRole, signOutEverywhere, setUserDisabled,
// resetKeys), with the API route's fresh security-key check where it has
// one; the function writes the audit event with the change.

// peopleFailed shows why a form was refused on its page (rerender with
// the status and the error's message); a missing record or a server error
// gets the error page.
func (c *Console) peopleFailed(g *gin.Context, err error, rerender func(status int, msg string)) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code == apperr.NotFound || apperr.Status(err) >= 500 {
		c.failPage(g, err)
		return
	}
	rerender(apperr.Status(err), apperr.ToBody(err).Error.Message)
}

// keyFresh is requireFresh for the people forms: when the session's last
// security-key check is too old, it answers false after rerender showed
// the page again (nothing changed) with a link to confirm with a key and
// come back to back.
func (c *Console) keyFresh(g *gin.Context, back string, rerender func(status int, msg, stepUp string)) bool {
	pu, _ := c.pageUser(g)
	if keyCheckFresh(pu.Session, c.now()) {
		return true
	}
	rerender(http.StatusForbidden, c.t(g, "people.need_fresh_key"), "/auth/step_up?"+url.Values{"rd": {back}}.Encode())
	return false
}

// inviteForm is POST /people/invite: the invitation form. The new link is
// shown once, on the page it answers.
func (c *Console) inviteForm(g *gin.Context) {
	req := createInvitationRequest{Email: g.PostForm("email"), Role: g.PostForm("role")}
	v := &peopleView{Form: req}
	if !c.keyFresh(g, "/people", func(status int, msg, stepUp string) {
		v.StepUp = stepUp
		c.renderPeople(g, status, v, msg)
	}) {
		return
	}
	inv, link, err := c.invite(g, req)
	if err != nil {
		c.peopleFailed(g, err, func(status int, msg string) { c.renderPeople(g, status, v, msg) })
		return
	}
	v.Form, v.NewLink, v.NewEmail = createInvitationRequest{}, link, inv.Email
	c.renderPeople(g, http.StatusCreated, v, "")
}

// revokeInvitationForm is POST /people/invitations/:id/revoke.
func (c *Console) revokeInvitationForm(g *gin.Context) {
	inv, ok := c.opts.Store.Invite(g.Param("id"))
	if !ok || inv.Email == "" || inv.Purpose != "" {
		c.failPage(g, apperr.New(apperr.NotFound, "There is no invitation %q.", g.Param("id")))
		return
	}
	if err := c.withdrawInvite(g, inv); err != nil {
		c.peopleFailed(g, err, func(status int, msg string) { c.renderPeople(g, status, &peopleView{}, msg) })
		return
	}
	g.Redirect(http.StatusSeeOther, "/people")
}

// personForm runs one action of the person page: fresh says it needs a
// fresh key check, act does it. Success goes back to the person page
// saying what was done.
func (c *Console) personForm(done string, fresh bool, act func(g *gin.Context, id string) error) gin.HandlerFunc {
	return func(g *gin.Context) {
		id := g.Param("id")
		back := "/people/" + url.PathEscape(id)
		rerender := func(status int, msg string) { c.renderPerson(g, status, &personView{}, msg) }
		if fresh && !c.keyFresh(g, back, func(status int, msg, stepUp string) {
			c.renderPerson(g, status, &personView{StepUp: stepUp}, msg)
		}) {
			return
		}
		if err := act(g, id); err != nil {
			c.peopleFailed(g, err, rerender)
			return
		}
		g.Redirect(http.StatusSeeOther, back+"?done="+done)
	}
}

// The person page's actions.
func (c *Console) roleChangeForm(g *gin.Context, id string) error {
	_, _, err := c.changeRole(g, id, g.PostForm("role"))
	return err
}

func (c *Console) signOutForm(g *gin.Context, id string) error {
	_, err := c.signOutEverywhere(g, id)
	return err
}

func (c *Console) disableForm(g *gin.Context, id string) error {
	_, err := c.setUserDisabled(g, id, true, g.PostForm("reason"))
	return err
}

func (c *Console) enableForm(g *gin.Context, id string) error {
	_, err := c.setUserDisabled(g, id, false, g.PostForm("reason"))
	return err
}

// resetKeysForm is POST /people/:id/reset_keys: the help desk's reset
// after verifying the person. The re-registration link is shown once, on
// the page it answers.
func (c *Console) resetKeysForm(g *gin.Context) {
	back := "/people/" + url.PathEscape(g.Param("id"))
	if !c.keyFresh(g, back, func(status int, msg, stepUp string) {
		c.renderPerson(g, status, &personView{StepUp: stepUp}, msg)
	}) {
		return
	}
	res, err := c.resetKeys(g, g.Param("id"), keyResetRequest{Verification: g.PostForm("verification"), Note: g.PostForm("note")})
	if err != nil {
		c.peopleFailed(g, err, func(status int, msg string) { c.renderPerson(g, status, &personView{}, msg) })
		return
	}
	v := &personView{ResetLink: res.URL, ResetUntil: res.ExpiresAt,
		Notice: c.t(g, "people.reset_done", res.KeysRemoved, res.SessionsEnded)}
	c.renderPerson(g, http.StatusOK, v, "")
}
