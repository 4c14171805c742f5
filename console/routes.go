package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// routes is the console's whole route table. Anything under /api/v1 needs
// an API token; each resource route names the permission it needs.
func (c *Console) routes() {
	e := c.engine
	e.GET("/healthz", c.healthz)
	e.GET("/readyz", c.readyz)
	e.GET("/ca/roots.pem", gin.WrapH(c.opts.Roots))
	e.GET("/ca/crl", gin.WrapH(c.opts.CRL))
	e.GET("/setup", c.setupForm)
	e.POST("/setup", c.setupSubmit)
	e.GET("/api/v1/openapi.json", c.openAPI)
	e.GET("/.well-known/portier/jwks.json", c.jwks)

	api := e.Group("/api/v1", c.requireToken)
	api.GET("/whoami", c.whoami)
	api.GET("/tokens", c.require(PermTokensRead), c.listTokens)
	api.POST("/tokens", c.require(PermTokensWrite), c.createToken)
	api.DELETE("/tokens/:id", c.require(PermTokensWrite), c.deleteToken)
	api.GET("/audit", c.require(PermAuditRead), c.listAudit)
	api.POST("/policy/simulate", c.require(PermPolicySimulate), c.simulate)

	e.NoRoute(func(g *gin.Context) {
		g.JSON(http.StatusNotFound, gin.H{"error": gin.H{"code": "not_found", "message": "no such page"}})
	})
	c.signInRoutes()
}
