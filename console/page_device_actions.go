package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
)

// deviceActionPage is POST /devices/:id/actions: an action button of the
// device page. It takes the API's path (deviceAction): the role's right to
// the type, a security-key check at most 5 minutes old (as requireFresh),
// and for wipes and revocation a confirmation step first.
func (c *Console) deviceActionPage(g *gin.Context) {
	typ := g.PostForm("type")
	req := enrollment.ActionRequest{Type: typ, Params: map[string]string{}}
	for _, k := range []string{"reason", "title", "text"} {
		if v := g.PostForm(k); v != "" {
			req.Params[k] = v
		}
	}
	if err := mayRequest(g, typ); err != nil {
		c.failPage(g, err)
		return
	}
	if !c.confirmedAndFresh(g, typ) {
		return
	}
	if c.needsApproval(typ, 1) {
		c.askedApproval(g, typ, func() error { _, err := c.askApproval(g, req, g.PostForm("idem")); return err })
		return
	}
	if _, _, err := c.deviceAction(g, req, g.PostForm("idem")); err != nil {
		c.deviceActionFailed(g, err)
		return
	}
	c.deviceActionDone(g, typ)
}

// releaseDevicePage is POST /devices/:id/release: the page's Release
// button, as POST /api/v1/devices/{id}/release.
func (c *Console) releaseDevicePage(g *gin.Context) {
	if !c.confirmedAndFresh(g, "release") {
		return
	}
	if _, err := c.opts.Enrollment.Release(g.Request.Context(), actor(g), g.Param("id")); err != nil {
		c.deviceActionFailed(g, err)
		return
	}
	c.deviceActionDone(g, "release")
}

// retireDevicePage is POST /devices/:id/retire: the page's Retire button,
// confirmed, as POST /api/v1/devices/{id}/retire: a request for a second
// person's approval.
func (c *Console) retireDevicePage(g *gin.Context) {
	if !c.confirmedAndFresh(g, "retire") {
		return
	}
	if !c.needsApproval(ActionRetire, 1) { // approvals.disabled
		if _, err := c.opts.Enrollment.Retire(g.Request.Context(), actor(g), g.Param("id"), g.PostForm("reason")); err != nil {
			c.deviceActionFailed(g, err)
			return
		}
		c.deviceActionDone(g, ActionRetire)
		return
	}
	c.askedApproval(g, ActionRetire, func() error {
		_, err := c.requestApproval(g, ActionRetire, []string{g.Param("id")}, nil, g.PostForm("reason"), g.PostForm("idem"))
		return err
	})
}

// askedApproval runs ask (a request for a second person's approval) and
// goes back to the device page, which says the action waits for another
// administrator.
func (c *Console) askedApproval(g *gin.Context, typ string, ask func() error) {
	if err := ask(); err != nil {
		c.deviceActionFailed(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/devices/"+url.PathEscape(g.Param("id"))+"?"+url.Values{"requested": {typ}}.Encode())
}

// confirmedAndFresh shows the confirmation step of an action that needs
// one until the form says confirm=yes, then the step-up link while the
// session's security-key check is too old; it answers true when the
// action may go ahead.
func (c *Console) confirmedAndFresh(g *gin.Context, typ string) bool {
	if confirmed[typ] && g.PostForm("confirm") != "yes" {
		c.renderDevice(g, http.StatusOK, &devicePageView{Confirm: typ, Reason: g.PostForm("reason")}, "", "")
		return false
	}
	return c.pageFresh(g, "/devices/"+g.Param("id"), func(stepUp string) {
		c.renderDevice(g, http.StatusForbidden, &devicePageView{StepUp: stepUp}, c.t(g, "device.need_fresh_key"), "")
	})
}

// deviceActionFailed shows why the registry refused an action on the
// device page (a BYOD full wipe, a retired device, a bad field); a device
// that does not exist gets the error page.
func (c *Console) deviceActionFailed(g *gin.Context, err error) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code == apperr.NotFound || apperr.Status(err) >= 500 {
		c.failPage(g, err)
		return
	}
	c.renderDevice(g, apperr.Status(err), &devicePageView{}, ae.Msg, "")
}

// deviceActionDone goes back to the device page, which says the action was
// taken (post/redirect/get: a reload sends nothing again).
func (c *Console) deviceActionDone(g *gin.Context, typ string) {
	g.Redirect(http.StatusSeeOther, "/devices/"+url.PathEscape(g.Param("id"))+"?"+url.Values{"done": {typ}}.Encode())
}
