package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/store"
)

// approvalsRecent bounds the decided requests the approvals page shows.
const approvalsRecent = 50

// approvalsPageView is the approvals page: the pending requests, with
// Approve and Refuse forms for a role that may decide (and Cancel for
// the requester), then the recent decided ones.
type approvalsPageView struct {
	Pending, Decided []*store.Approval
	// CanDecide says whether the person's role may approve or refuse;
	// Self is the person's key, to tell their own requests.
	CanDecide bool
	Self      string
	StepUp    string
	// Settings are the approval settings in force; a role that may decide
	// may change them (a change that lowers protection is itself a request).
	Settings approvalSettingsView
	Idem     string
}

// approvalsPage is GET /approvals.
func (c *Console) approvalsPage(g *gin.Context) {
	notice := ""
	if done := g.Query("done"); approvalStates[done] {
		notice = c.t(g, "approvals.done."+done)
	}
	if _, ok := c.opts.Store.Approval(g.Query("requested")); ok {
		notice = c.t(g, "approvals.requested")
	}
	switch g.Query("settings") {
	case "applied":
		notice = c.t(g, "approvals.settings_applied")
	case "requested":
		notice = c.t(g, "approvals.settings_requested")
	}
	c.renderApprovals(g, http.StatusOK, &approvalsPageView{}, "", notice)
}

// renderApprovals completes v and renders the approvals page.
func (c *Console) renderApprovals(g *gin.Context, status int, v *approvalsPageView, errMsg, notice string) {
	all, _ := c.approvalsMatching("")
	for _, a := range all {
		switch {
		case a.State == store.ApprovalPending:
			v.Pending = append(v.Pending, a)
		case len(v.Decided) < approvalsRecent:
			v.Decided = append(v.Decided, a)
		}
	}
	v.CanDecide, v.Self = perms[who(g).Role][PermDevicesWipe], personKey(who(g))
	v.Settings, v.Idem = c.settingsView(), newFormKey()
	c.render(g, status, "approvals", &ui.Page{TitleKey: "title.approvals", Error: errMsg, Notice: notice, Data: v})
}

// approvalForm serves POST /approvals/:id/approve, /refuse and /cancel:
// approve and refuse need a security-key check at most 5 minutes old (as
// the API's requireFresh), then take the API's path.
func (c *Console) approvalForm(state string, fresh bool, step func(*Console, *gin.Context, string) (*store.Approval, error)) gin.HandlerFunc {
	return func(g *gin.Context) {
		if fresh && !c.pageFresh(g, "/approvals", func(stepUp string) {
			c.renderApprovals(g, http.StatusForbidden, &approvalsPageView{StepUp: stepUp}, c.t(g, "device.need_fresh_key"), "")
		}) {
			return
		}
		if _, err := step(c, g, g.Param("id")); err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || apperr.Status(err) >= 500 {
				c.failPage(g, err)
				return
			}
			c.renderApprovals(g, apperr.Status(err), &approvalsPageView{}, ae.Msg, "")
			return
		}
		g.Redirect(http.StatusSeeOther, "/approvals?"+url.Values{"done": {state}}.Encode())
	}
}

// approvalSettingsPage is POST /approvals/settings: the approvals page's
// settings form, with a security-key check at most 5 minutes old, then
// the API's path (changeApprovalSettings): applied at once when it raises
// protection, else a request waiting for a second person.
func (c *Console) approvalSettingsPage(g *gin.Context) {
	if !c.pageFresh(g, "/approvals", func(stepUp string) {
		c.renderApprovals(g, http.StatusForbidden, &approvalsPageView{StepUp: stepUp}, c.t(g, "device.need_fresh_key"), "")
	}) {
		return
	}
	req := settingsRequest{Disabled: g.PostForm("disabled") == "true", Reason: g.PostForm("reason")}
	if n, err := strconv.Atoi(g.PostForm("bulk_threshold")); err == nil {
		req.BulkThreshold = &n
	}
	_, a, err := c.changeApprovalSettings(g, req, g.PostForm("idem"))
	if err != nil {
		var ae *apperr.Error
		if !errors.As(err, &ae) || apperr.Status(err) >= 500 {
			c.failPage(g, err)
			return
		}
		c.renderApprovals(g, apperr.Status(err), &approvalsPageView{}, ae.Msg, "")
		return
	}
	result := "applied"
	if a != nil {
		result = "requested"
	}
	g.Redirect(http.StatusSeeOther, "/approvals?"+url.Values{"settings": {result}}.Encode())
}
