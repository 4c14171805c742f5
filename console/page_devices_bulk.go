package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/enrollment"
)

// bulkForm is the devices page's "act on the filtered devices" form: the
// filters as asked (sent back as filter.<name> fields), the action types
// the person's role may ask for, and the form's idempotency key.
type bulkForm struct {
	Filters map[string]string
	Types   []string
	Idem    string
}

// bulkFormFor is the bulk form for the devices page's query, or nil for a
// role that acts on no device.
func bulkFormFor(g *gin.Context, q url.Values) *bulkForm {
	role := who(g).Role
	if !perms[role][PermDevicesAct] {
		return nil
	}
	f := &bulkForm{Filters: map[string]string{}, Idem: newFormKey(),
		Types: []string{enrollment.ActionLock, enrollment.ActionMessage, enrollment.ActionQuarantine, ActionRelease}}
	if perms[role][PermDevicesWipe] {
		f.Types = append(f.Types, enrollment.ActionSelectiveWipe, enrollment.ActionRevoke, enrollment.ActionWipe, ActionRetire)
	}
	for _, k := range deviceFilterNames {
		if v := q.Get(k); v != "" {
			f.Filters[k] = v
		}
	}
	return f
}

// bulkActionPage is POST /devices/actions: the devices page's bulk form,
// confirmed, with a security-key check at most 5 minutes old, then the
// API's path (bulkAction) on the devices the filters select. It lands on
// the approvals page when a second person must approve, else back on the
// filtered devices page saying how many devices the action reached.
func (c *Console) bulkActionPage(g *gin.Context) {
	req := bulkRequest{Type: g.PostForm("type"), Filter: map[string]string{}, Reason: g.PostForm("reason")}
	back := url.Values{}
	for _, k := range deviceFilterNames {
		if v := g.PostForm("filter." + k); v != "" {
			req.Filter[k], back[k] = v, []string{v}
		}
	}
	if req.Type == enrollment.ActionMessage {
		req.Params = map[string]string{"text": g.PostForm("text")}
	}
	// A refusal shows the filtered devices again with the reason (and the
	// step-up link for an old key check); nothing ran.
	refuse := func(err error, stepUp string) {
		var ae *apperr.Error
		f, ferr := deviceFilterOf(back.Get, "")
		if !errors.As(err, &ae) || apperr.Status(err) >= 500 || ferr != nil {
			c.failPage(g, err)
			return
		}
		l := enrollment.DeviceList{Filter: f, Sort: enrollment.DefaultDeviceSort, Limit: devicePageSize}
		c.renderDevices(g, apperr.Status(err), l, back, &ui.Page{Error: ae.Msg}, stepUp)
	}
	if g.PostForm("confirm") != "yes" {
		refuse(apperr.Field("confirm", "%s", c.t(g, "bulk.not_confirmed")), "")
		return
	}
	if !c.pageFresh(g, "/devices?"+back.Encode(), func(stepUp string) {
		refuse(apperr.New(apperr.Forbidden, "%s", c.t(g, "device.need_fresh_key")), stepUp)
	}) {
		return
	}
	out, a, err := c.bulkAction(g, req, g.PostForm("idem"))
	switch {
	case err != nil:
		refuse(err, "")
	case a != nil:
		g.Redirect(http.StatusSeeOther, "/approvals?"+url.Values{"requested": {a.ID}}.Encode())
	default:
		back.Set("bulk_done", strconv.Itoa(out.Count))
		g.Redirect(http.StatusSeeOther, "/devices?"+back.Encode())
	}
}
