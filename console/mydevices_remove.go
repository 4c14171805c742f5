package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// removeMyDevice is POST /my/devices/:id/remove: a person removes a device
// they registered in a browser (a device-bound passkey, no agent). The
// device is retired as an administrator's retire would (one write: the
// state, the passkey deleted, the device history entry and the audit
// event, by the self-service actor), so the passkey no longer confirms the
// device, and every session bound to it stops counting as that device at
// its next request (the proxy refuses a retired device). Only the
// signed-in person's own browser devices can be removed here; anything
// else is "not found".
func (c *Console) removeMyDevice(g *gin.Context) {
	pu, _ := c.pageUser(g) // requirePage: signed in; the page group: same-origin and CSRF
	if c.opts.Enrollment == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Devices cannot be removed on this server."))
		return
	}
	id := g.Param("id")
	dev := c.ownRemovableDevice(pu.Session, id)
	if dev == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "You have no device %q that can be removed here.", id))
		return
	}
	actor := enrollment.SelfServiceActor(pu.Session.Email, g.ClientIP())
	if _, err := c.opts.Enrollment.Retire(g.Request.Context(), actor, dev.ID, "removed by its owner on /my/devices"); err != nil {
		c.failPage(g, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/my/devices")
}

// ownRemovableDevice returns the session's person's device id if they may
// remove it themself: their own browser-registered device, still
// enrolled; nil otherwise. Devices with the agent are retired by IT (or
// `portier agent unenroll`).
func (c *Console) ownRemovableDevice(sess *store.Session, id string) *store.Device {
	for _, d := range c.opts.Store.DevicesOwnedBy(sess.Email) {
		if d.ID == id && enrollment.IsBrowserDevice(d) && d.State != store.DeviceRetired && d.State != store.DeviceWiped {
			return d
		}
	}
	return nil
}
