package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// "Register this browser" on /enroll: the signed-in person's browser
// creates a device-bound passkey, and Portier records the phone or
// computer it lives on as their personal (BYOD) device and binds the
// session to it. Begin checks the limits and starts the WebAuthn
// ceremony; finish stores the passkey and the device in one write.

type browserBeginRequest struct{}

func (c *Console) browserDeviceBegin(g *gin.Context) {
	ceremony(c, http.StatusOK, func(g *gin.Context, sess *store.Session, _ *browserBeginRequest) (any, error) {
		if c.opts.Enrollment == nil || c.opts.Identity == nil {
			return nil, apperr.New(apperr.NotFound, "Devices cannot be registered on this server.")
		}
		if !c.opts.Identity.Fresh(sess) {
			// Checked here too so no rate-limit slot is spent on a stale session.
			return nil, apperr.New(apperr.Forbidden, "For your safety, sign out and sign in again (or confirm with a security key) before registering a device.")
		}
		id, err := c.opts.Enrollment.StartBrowserDevice(g.Request.Context(), enrollment.SelfServiceActor(sess.Email, g.ClientIP()), sess.Email)
		if err != nil {
			retryAfter(g, err)
			return nil, err
		}
		return c.opts.Identity.BeginDeviceRegistration(g.Request.Context(), sess, id)
	})(g)
}

func (c *Console) browserDeviceFinish(g *gin.Context) {
	ceremony(c, http.StatusCreated, func(g *gin.Context, sess *store.Session, req *finishRequest) (any, error) {
		if c.opts.Enrollment == nil || c.opts.Identity == nil {
			return nil, apperr.New(apperr.NotFound, "Devices cannot be registered on this server.")
		}
		actor := enrollment.SelfServiceActor(sess.Email, g.ClientIP())
		platform := enrollment.BrowserPlatform(g.Request.UserAgent())
		var dev *store.Device
		record := func(cred *store.Credential) ([]store.Op, error) {
			ops, d, err := c.opts.Enrollment.BrowserDeviceOps(actor, sess.Email, enrollment.BrowserDevice{
				ID: cred.DeviceID, Platform: platform, Credential: cred.ID, AAGUID: cred.AAGUID})
			dev = d
			return ops, err
		}
		_, err := c.opts.Identity.FinishDeviceRegistration(g.Request.Context(), sess, req.Ceremony, req.Credential, client(g), identity.DeviceRecord(record))
		if err != nil {
			return nil, err
		}
		c.opts.Enrollment.Recompute(g.Request.Context(), dev.ID)
		return gin.H{"device": dev.ID, "redirect": "/my/devices"}, nil
	})(g)
}
