package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

type approveOwnershipRequest struct {
	// Ownership to set; empty: the ownership the employee asked for.
	Ownership string `json:"ownership"`
}

// approveOwnership is POST /api/v1/devices/{id}/ownership: an
// administrator decides the device's ownership (by default, approves what
// its employee asked for at self-service enrollment). Audited.
func (c *Console) approveOwnership(g *gin.Context) {
	var req approveOwnershipRequest
	if g.Request.ContentLength != 0 {
		if err := decode(g, &req); err != nil {
			c.fail(g, err)
			return
		}
	}
	d, err := c.opts.Enrollment.ApproveOwnership(g.Request.Context(), actor(g), g.Param("id"), store.Ownership(req.Ownership))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, summarize(d))
}

type sharedRequest struct {
	Shared *bool `json:"shared"`
}

// setShared is POST /api/v1/devices/{id}/shared {"shared": true|false}:
// whether any signed-in user counts as the device's user, or only its
// owner. Audited.
func (c *Console) setShared(g *gin.Context) {
	var req sharedRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	if req.Shared == nil {
		c.fail(g, apperr.Field("shared", "shared is required: true or false"))
		return
	}
	d, err := c.opts.Enrollment.SetShared(g.Request.Context(), actor(g), g.Param("id"), *req.Shared)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, summarize(d))
}
