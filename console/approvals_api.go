package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// approvalStates are the values of GET /api/v1/approvals?state=.
var approvalStates = map[string]bool{store.ApprovalPending: true, store.ApprovalApproved: true, store.ApprovalRefused: true,
	store.ApprovalExpired: true, store.ApprovalCancelled: true}

// approvalsMatching lists the requests in state ("" for all), newest first,
// each in its state at now.
func (c *Console) approvalsMatching(state string) ([]*store.Approval, error) {
	if state != "" && !approvalStates[state] {
		return nil, apperr.Field("state", "state must be pending, approved, refused, expired or cancelled (got %q)", state)
	}
	out := []*store.Approval{}
	for _, a := range c.opts.Store.Approvals() {
		if v := c.approvalView(a); state == "" || v.State == state {
			out = append(out, v)
		}
	}
	return out, nil
}

// listApprovals is GET /api/v1/approvals?state=.
func (c *Console) listApprovals(g *gin.Context) {
	out, err := c.approvalsMatching(g.Query("state"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"approvals": out})
}

// getApproval is GET /api/v1/approvals/{id}.
func (c *Console) getApproval(g *gin.Context) {
	a, ok := c.opts.Store.Approval(g.Param("id"))
	if !ok {
		c.fail(g, apperr.New(apperr.NotFound, "no approval request %s", g.Param("id")))
		return
	}
	g.JSON(http.StatusOK, c.approvalView(a))
}

// decideApproval serves POST /api/v1/approvals/{id}/approve, /refuse and
// /cancel with step.
func (c *Console) decideApproval(step func(*Console, *gin.Context, string) (*store.Approval, error)) gin.HandlerFunc {
	return func(g *gin.Context) {
		a, err := step(c, g, g.Param("id"))
		if err != nil {
			c.fail(g, err)
			return
		}
		g.JSON(http.StatusOK, a)
	}
}

// accepted answers 202 with a request waiting for its approval.
func accepted(g *gin.Context, a *store.Approval) {
	g.Header("Location", "/api/v1/approvals/"+a.ID)
	g.JSON(http.StatusAccepted, a)
}
