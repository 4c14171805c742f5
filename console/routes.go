package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// routes is the console's whole route table. Anything under /api/v1 needs
// an API token; each resource route names the permission it needs.
func (c *Console) routes() {
	e := c.engine
	// The portal's front door: sign in, then land on the signed-in home.
	e.GET("/", func(g *gin.Context) { g.Redirect(http.StatusFound, "/auth/sign_in") })
	e.GET("/healthz", c.healthz)
	e.GET("/readyz", c.readyz)
	e.GET("/ca/roots.pem", gin.WrapH(c.opts.Roots))
	e.GET("/ca/crl", gin.WrapH(c.opts.CRL))
	e.GET("/setup", c.setupForm)
	e.POST("/setup", c.setupSubmit)
	e.GET("/api/v1/openapi.json", c.openAPI)
	e.GET("/.well-known/portier/jwks.json", c.jwks)

	if c.opts.PostureIngest != nil {
		e.POST("/api/v1/posture/ingest", gin.WrapH(c.opts.PostureIngest))
	}

	api := e.Group("/api/v1", c.requireToken)
	api.GET("/whoami", c.whoami)
	api.GET("/tokens", c.require(PermTokensRead), c.listTokens)
	api.POST("/tokens", c.require(PermTokensWrite), c.createToken)
	api.DELETE("/tokens/:id", c.require(PermTokensWrite), c.deleteToken)
	api.GET("/audit", c.require(PermAuditRead), c.listAudit)
	api.GET("/audit/chain", c.require(PermAuditRead), c.auditChain)
	api.GET("/audit/export", c.require(PermAuditRead), c.exportAudit)
	api.POST("/policy/simulate", c.require(PermPolicySimulate), c.simulate)
	// Recorded access: the decision explorer, its statistics and export,
	// and the impact replay of a draft policy.
	api.GET("/decisions", c.require(PermDecisionsRead), c.listDecisions)
	api.GET("/decisions/stats", c.require(PermDecisionsRead), c.decisionStats)
	api.GET("/decisions/export", c.require(PermDecisionsRead), c.exportDecisions)
	api.POST("/policies/impact", c.require(PermRulesRead), c.policyImpact)
	api.GET("/users", c.require(PermUsersRead), c.listUsers)
	api.GET("/users/:id", c.require(PermUsersRead), c.getUser)
	api.POST("/users/:id/sign_out", c.require(PermSessionsEnd), c.signOutUser)
	api.POST("/users/:id/disable", c.require(PermUsersWrite), c.disableUser)
	api.POST("/users/:id/enable", c.require(PermUsersWrite), c.enableUser)
	api.DELETE("/sessions/:id", c.require(PermSessionsEnd), c.endSession)
	if c.opts.Enrollment != nil {
		api.POST("/enrollment/codes", c.require(PermEnrollWrite), c.createEnrollCode)
		api.GET("/enrollment/codes", c.require(PermEnrollRead), c.listEnrollCodes)
		api.DELETE("/enrollment/codes/:id", c.require(PermEnrollWrite), c.revokeEnrollCode)
		api.POST("/enrollment/tokens", c.require(PermEnrollWrite), c.createEnrollToken)
		api.POST("/enrollment/expected", c.require(PermEnrollWrite), c.importExpected)
		api.GET("/enrollment/expected", c.require(PermEnrollRead), c.listExpected)
		api.GET("/devices", c.require(PermDevicesRead), c.listDevices)
		api.GET("/devices/:id", c.require(PermDevicesRead), c.getDevice)
		api.GET("/devices/:id/privacy", c.require(PermDevicesRead), c.devicePrivacy)
		api.GET("/devices/:id/actions", c.require(PermDevicesRead), c.listActions)
		api.POST("/devices/:id/actions", c.require(PermDevicesAct), c.requestAction) // wipe, selective_wipe, revoke: also PermDevicesWipe
		api.POST("/devices/:id/release", c.require(PermDevicesAct), c.releaseDevice)
		api.POST("/devices/:id/retire", c.require(PermDevicesWipe), c.retireDevice)
		api.POST("/devices/:id/ownership", c.require(PermDevicesWipe), c.approveOwnership) // the organization decides ownership
		api.POST("/devices/:id/shared", c.require(PermDevicesWipe), c.setShared)
		api.GET("/kpis", c.require(PermKPIRead), c.kpis)

		// The agent API: the enrollment code, then the device certificate, authenticates.
		agent := e.Group("/api/v1/agent", c.agentProtocol)
		agent.POST("/enroll", c.agentEnroll)
		dev := agent.Group("", c.requireDevice)
		dev.POST("/renew", c.agentRenew)
		dev.POST("/posture", c.agentPosture)
		dev.GET("/profile", c.agentProfile)
		dev.GET("/actions", c.agentActions)
		dev.POST("/actions/:id/result", c.agentActionResult)
		dev.GET("/origins", c.agentOrigins)
		dev.POST("/unenroll", c.agentUnenroll)

		// Self-service enrollment page for signed-in users (and the page a QR code opens).
		e.GET("/enroll", c.enrollPage)
		e.POST("/enroll", c.enrollPageSubmit)
		// "Register this browser as my personal device" (WebAuthn, JSON).
		e.POST("/enroll/browser/begin", c.sameOrigin, c.browserDeviceBegin)
		e.POST("/enroll/browser/finish", c.sameOrigin, c.browserDeviceFinish)
		// The signed-in employee's own devices and their privacy notices.
		e.GET("/my/devices", c.myDevicesPage)
	}

	e.NoRoute(func(g *gin.Context) {
		g.JSON(http.StatusNotFound, gin.H{"error": gin.H{"code": "not_found", "message": "no such page"}})
	})
	c.signInRoutes()
}
