package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/enrollment"
)

// agentOrigins is GET /api/v1/agent/origins: Portier's https origins (the
// console and every route), for the agent's browser auto-select policy.
func (c *Console) agentOrigins(g *gin.Context) {
	origins := []string{}
	if c.opts.Origins != nil {
		origins = append(origins, c.opts.Origins()...)
	}
	g.JSON(http.StatusOK, agentwire.Origins{Origins: origins})
}

// agentUnenroll is POST /api/v1/agent/unenroll: the device leaves
// management at its own request (`portier agent unenroll`). It is retired
// like an administrator would retire it: every certificate it holds is
// revoked, and the audit log names the device as the actor.
func (c *Console) agentUnenroll(g *gin.Context) {
	d := agentDevice(g)
	a := enrollment.Actor{ID: "device:" + d.ID, RemoteIP: g.RemoteIP()}
	d, err := c.opts.Enrollment.Retire(g.Request.Context(), a, d.ID, "unenrolled on the device (portier agent unenroll)")
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, agentwire.Unenrolled{DeviceID: d.ID, State: string(d.State)})
}
