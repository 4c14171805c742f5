package console

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/store"
)

type auditView struct {
	Events []*store.AuditEvent
	Next   string
}

// auditPage is GET /audit: the audit log, newest first, with the filters
// and cursor of GET /api/v1/audit.
func (c *Console) auditPage(g *gin.Context) {
	q, err := auditQuery(g)
	if err != nil {
		c.failPage(g, err)
		return
	}
	q.Limit = min(q.Limit, 50)
	events, err := c.opts.Store.QueryAudit(g.Request.Context(), q)
	if err != nil {
		c.failPage(g, err)
		return
	}
	v := auditView{Events: events}
	if len(events) == q.PageLimit() {
		v.Next = strconv.FormatUint(events[len(events)-1].Pos, 10)
	}
	c.render(g, http.StatusOK, "audit", &ui.Page{TitleKey: "title.audit", Data: v})
}
