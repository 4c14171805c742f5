package console

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// maxLostNote bounds what the person may tell IT about a lost device.
const maxLostNote = 500

// lostView is the lost-or-stolen page of one of the person's devices:
// what Portier will do (before) or did (after), by ownership.
type lostView struct {
	ID, Name string
	// Personal is a BYOD device: its work profile (or, for a device
	// registered in the browser, its passkey) is removed; the rest of the
	// device is never touched.
	Personal bool
	// BrowserOnly is a device registered in the browser, with no agent.
	BrowserOnly bool
	Done        bool
	Note        string
	ErrMsg      string
}

// lostDevicePage is GET /my/devices/:id/lost: what reporting this device
// lost or stolen will do, and the confirmation form.
func (c *Console) lostDevicePage(g *gin.Context) {
	v, ok := c.lostDevice(g)
	if !ok {
		return
	}
	c.render(g, http.StatusOK, "my_lost", &ui.Page{TitleKey: "title.lost", Data: v})
}

// reportLostDevice is POST /my/devices/:id/lost: the person reports their
// device lost or stolen. Access from it stops at once (quarantine: the
// proxy refuses it from its next request), then: a browser-registered
// device is retired (its passkey deleted); a device with the agent is
// locked and, when personal (BYOD), its work profile removed by a
// selective wipe; a company device is left to IT, who are told (the audit
// entry device.reported_lost, the quarantined state on the fleet pages)
// and decide about a wipe. A full wipe is never requested from here. The
// same device reported twice the same day queues its actions once.
func (c *Console) reportLostDevice(g *gin.Context) {
	v, ok := c.lostDevice(g)
	if !ok {
		return
	}
	v.Note = strings.TrimSpace(g.PostForm("note"))
	if utf8.RuneCountInString(v.Note) > maxLostNote || !utf8.ValidString(v.Note) {
		v.ErrMsg = c.t(g, "lost.note_too_long", maxLostNote)
		c.render(g, http.StatusBadRequest, "my_lost", &ui.Page{TitleKey: "title.lost", Data: v})
		return
	}
	pu, _ := c.pageUser(g)
	ctx := g.Request.Context()
	actor := enrollment.SelfServiceActor(pu.Session.Email, g.ClientIP())
	why := "reported lost or stolen by its owner"
	dev, _ := c.opts.Store.Device(v.ID)
	if dev.State != store.DeviceQuarantined {
		if _, err := c.opts.Enrollment.Quarantine(ctx, actor, v.ID, why); err != nil {
			c.failPage(g, err)
			return
		}
	}
	if v.BrowserOnly {
		if _, err := c.opts.Enrollment.Retire(ctx, actor, v.ID, why); err != nil {
			c.failPage(g, err)
			return
		}
	} else {
		day := c.now().UTC().Format("2006-01-02")
		acts := []string{"lock"}
		if v.Personal {
			acts = append(acts, "selective_wipe")
		}
		for _, typ := range acts {
			req := enrollment.ActionRequest{Type: typ, Params: map[string]string{"reason": why}}
			if _, _, err := c.opts.Enrollment.RequestAction(ctx, actor, v.ID, req, "reported-lost/"+typ+"/"+day); err != nil {
				c.failPage(g, err)
				return
			}
		}
	}
	detail := map[string]string{"ownership": string(dev.Ownership)}
	if v.Note != "" {
		detail["note"] = v.Note
	}
	if err := c.opts.Store.Write(ctx, c.audit(g, "device.reported_lost", v.ID, detail)); err != nil {
		c.failPage(g, err)
		return
	}
	v.Done = true
	c.render(g, http.StatusOK, "my_lost", &ui.Page{TitleKey: "title.lost", Data: v})
}

// lostDevice is the signed-in person's own device of the request, still
// enrolled; anything else is the 404 page (answered, false).
func (c *Console) lostDevice(g *gin.Context) (*lostView, bool) {
	pu, _ := c.pageUser(g)
	if c.opts.Enrollment == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Devices are not managed on this server."))
		return nil, false
	}
	id := g.Param("id")
	for _, d := range c.devicesOf(pu.Session) {
		if d.ID != id || d.State == store.DeviceRetired || d.State == store.DeviceWiped || !strings.EqualFold(d.OwnerEmail, pu.Session.Email) && d.ID != pu.Session.DeviceID {
			continue
		}
		v := &lostView{ID: d.ID, Name: d.Name, Personal: d.Ownership == store.OwnershipBYOD || d.WorkProfile,
			BrowserOnly: enrollment.IsBrowserDevice(d)}
		if v.Name == "" {
			v.Name = d.ID
		}
		return v, true
	}
	c.failPage(g, apperr.New(apperr.NotFound, "You have no enrolled device %q.", id))
	return nil, false
}
