package console

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

func (c *Console) healthz(g *gin.Context) {
	g.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz is 200 only when the store answers and the CA is loaded; the body
// says what is wrong so an operator can act on it.
func (c *Console) readyz(g *gin.Context) {
	ctx, cancel := context.WithTimeout(g.Request.Context(), 2*time.Second)
	defer cancel()
	if err := c.opts.Ready(ctx); err != nil {
		c.opts.Log.Warn("readyz: not ready", "err", err)
		g.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": err.Error()})
		return
	}
	g.JSON(http.StatusOK, gin.H{"status": "ready", "seq": c.opts.Store.Seq()})
}
