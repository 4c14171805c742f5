package console

import (
	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/store"
)

// routes is the console's whole route table. Anything under /api/v1 needs
// an API token or a signed-in browser session (authenticate); each
// resource route names the permission it needs (require), and every route
// without one is listed, with its reason, in openRoutes (roles_routes.go).
// The browser pages are a group apart (pageSecurity: security headers,
// CSRF); each page that needs a signed-in person names its permission with
// requirePage.
func (c *Console) routes() {
	e := c.engine
	e.GET("/healthz", c.healthz)
	e.GET("/readyz", c.readyz)
	e.GET("/ca/roots.pem", gin.WrapH(c.opts.Roots))
	e.GET("/ca/crl", gin.WrapH(c.opts.CRL))
	e.GET(ui.AssetPrefix+":hash/:name", c.staticAsset)

	pages := e.Group("", c.pageSecurity)
	pages.GET("/", c.requirePage(""), c.homePage) // the signed-in home
	// Open: the agent binary, downloaded before the device has any identity.
	pages.GET(agentDownloadPrefix+":platform", c.agentDownload)
	pages.GET("/audit", c.requirePage(PermAuditRead), c.auditPage)
	pages.GET("/dashboard", c.requirePage(PermKPIRead), c.dashboardPage) // the KPIs from daily snapshots
	pages.GET("/report", c.requirePage(PermKPIRead), c.reportPage)       // the executive report of a month or quarter
	pages.GET("/report/export", c.requirePage(PermKPIRead), c.exportReportPage)
	pages.GET("/decisions", c.requirePage(PermDecisionsRead), c.decisionsPage)
	pages.GET("/decisions/stats", c.requirePage(PermDecisionsRead), c.decisionStatsPage)
	pages.GET("/decisions/export", c.requirePage(PermDecisionsRead), c.exportDecisionsPage)
	pages.GET("/cluster", c.requirePage(PermClusterRead), c.clusterPage) // answers while stale: it shows why
	// The security console's rules pages (page_rules*.go): the editor's
	// changes call the rules service as the API does.
	pages.GET("/rules", c.requirePage(PermRulesRead), c.rulesPage)
	pages.GET("/rules/policies/:id", c.requirePage(PermRulesRead), c.rulePage)
	pages.GET("/rules/routes/:id", c.requirePage(PermRulesRead), c.rulePage)
	pages.GET("/rules/compliance/:id", c.requirePage(PermRulesRead), c.compliancePage)
	// A form of a role: a signed-out browser is sent to sign in, then the
	// page group's same-origin and CSRF checks (pageSecurity), then the
	// role's permission, before anything changes.
	roleForm := func(path string, p Permission, h gin.HandlerFunc) {
		e.POST(path, pageHeaders, c.requirePage(""), c.pageSecurity, c.requirePage(p), h)
	}
	for _, kind := range []string{"/rules/policies/:id", "/rules/routes/:id"} {
		roleForm(kind, PermRulesWrite, c.saveRulePage)
		roleForm(kind+"/rollback", PermRulesWrite, c.rollbackRulePage)
		// The preview saves nothing: an auditor may replay too.
		roleForm(kind+"/preview", PermRulesRead, c.previewRulePage)
	}
	// People and roles (page_people*.go): the forms call what the API calls.
	pages.GET("/people", c.requirePage(PermUsersRead), c.peoplePage)
	pages.GET("/people/:id", c.requirePage(PermUsersRead), c.personPage)
	roleForm("/people/invite", PermRolesWrite, c.inviteForm)
	roleForm("/people/invitations/:id/revoke", PermRolesWrite, c.revokeInvitationForm)
	roleForm("/people/:id/role", PermRolesWrite, c.personForm("role", true, c.roleChangeForm))
	roleForm("/people/:id/end_sessions", PermSessionsEnd, c.personForm("sign_out", false, c.signOutForm))
	roleForm("/people/:id/disable", PermUsersWrite, c.personForm("disable", false, c.disableForm))
	roleForm("/people/:id/enable", PermUsersWrite, c.personForm("enable", true, c.enableForm))
	roleForm("/people/:id/reset_keys", PermKeysReset, c.resetKeysForm)
	pages.GET("/whatif", c.requirePage(PermPolicySimulate), c.whatIfPage)
	roleForm("/whatif", PermPolicySimulate, c.whatIfSubmit)
	pages.GET("/help", c.helpPage) // the user guide, for everyone
	e.GET("/help/images/:name", c.helpImage)
	pages.GET("/setup", c.setupForm)
	// The set-up form's one-time secret is its CSRF token (a cross-site
	// page cannot know it): it has the headers and the same-origin check,
	// not the cookie-bound token, since no one is signed in yet.
	e.POST("/setup", pageHeaders, c.sameOrigin, c.setupSubmit)
	e.GET("/api/v1/openapi.json", c.openAPI)
	e.GET("/.well-known/portier/jwks.json", c.jwks)

	if c.opts.PostureIngest != nil {
		e.POST("/api/v1/posture/ingest", gin.WrapH(c.opts.PostureIngest))
	}

	api := e.Group("/api/v1", c.authenticate)
	api.GET("/cluster", c.require(PermClusterRead), c.cluster) // answers while stale: it shows why
	// Every API route below refuses (503) while this replica is stale:
	// gin copies a group's middleware into a route when it is added.
	api.Use(c.requireCurrent)
	api.GET("/whoami", c.whoami)
	// People with roles (see docs/roles.md): tokens, roles, invitations.
	// requireFresh: from a browser, a security-key check ≤ 5 min old.
	api.GET("/tokens", c.require(PermTokensRead), c.listTokens)
	api.POST("/tokens", c.require(PermTokensWrite), c.requireFresh, c.createToken)
	api.DELETE("/tokens/:id", c.require(PermTokensWrite), c.deleteToken)
	api.POST("/users/:id/role", c.require(PermRolesWrite), c.requireFresh, c.setUserRole)
	api.GET("/invitations", c.require(PermUsersRead), c.listInvitations)
	api.POST("/invitations", c.require(PermRolesWrite), c.requireFresh, c.createInvitation)
	api.GET("/invitations/:id", c.require(PermUsersRead), c.getInvitation)
	api.DELETE("/invitations/:id", c.require(PermRolesWrite), c.deleteInvitation)
	api.GET("/audit", c.require(PermAuditRead), c.listAudit)
	api.GET("/audit/chain", c.require(PermAuditRead), c.auditChain)
	api.GET("/audit/export", c.require(PermAuditRead), c.exportAudit)
	api.POST("/policy/simulate", c.require(PermPolicySimulate), c.simulate)
	if c.opts.Rules != nil {
		// Routes and policies as versioned data (rules.go, rules_versions.go).
		// The editor's lint saves nothing (page_rules_lint.go).
		api.POST("/policies/lint", c.require(PermRulesRead), c.lintRule)
		api.POST("/routes/lint", c.require(PermRulesRead), c.lintRule)
		for _, kind := range []string{"/policies", "/routes", "/compliance"} {
			api.GET(kind, c.require(PermRulesRead), c.listRules)
			api.GET(kind+"/:id", c.require(PermRulesRead), c.getRule)
			// A rule change can weaken access: from a browser it needs a
			// fresh security-key check, like the other weakening changes.
			api.PUT(kind+"/:id", c.require(PermRulesWrite), c.requireFresh, c.putRule)
			api.DELETE(kind+"/:id", c.require(PermRulesWrite), c.requireFresh, c.deleteRule)
			api.GET(kind+"/:id/versions", c.require(PermRulesRead), c.listRuleVersions)
			api.POST(kind+"/:id/rollback", c.require(PermRulesWrite), c.requireFresh, c.rollbackRule)
		}
	}
	// Recorded access: the decision explorer, its statistics and export,
	// and the impact replay of a draft policy.
	api.GET("/decisions", c.require(PermDecisionsRead), c.listDecisions)
	api.GET("/decisions/stats", c.require(PermDecisionsRead), c.decisionStats)
	api.GET("/decisions/export", c.require(PermDecisionsRead), c.exportDecisions)
	api.POST("/policies/impact", c.require(PermRulesRead), c.policyImpact)
	api.GET("/kpis/history", c.require(PermKPIRead), c.kpiHistory) // from the daily snapshots
	api.GET("/report", c.require(PermKPIRead), c.exportReport)     // the executive report as JSON or CSV
	api.GET("/users", c.require(PermUsersRead), c.listUsers)
	api.GET("/users/:id", c.require(PermUsersRead), c.getUser)
	api.POST("/users/:id/sign_out", c.require(PermSessionsEnd), c.signOutUser)
	api.POST("/users/:id/disable", c.require(PermUsersWrite), c.disableUser)
	api.POST("/users/:id/enable", c.require(PermUsersWrite), c.requireFresh, c.enableUser)
	api.POST("/users/:id/security_keys/reset", c.require(PermKeysReset), c.requireFresh, c.resetKeysAPI)
	api.DELETE("/sessions/:id", c.require(PermSessionsEnd), c.endSession)
	if c.opts.Enrollment != nil {
		api.POST("/enrollment/codes", c.require(PermEnrollWrite), c.createEnrollCode)
		api.GET("/enrollment/codes", c.require(PermEnrollRead), c.listEnrollCodes)
		api.DELETE("/enrollment/codes/:id", c.require(PermEnrollWrite), c.revokeEnrollCode)
		api.POST("/enrollment/tokens", c.require(PermEnrollWrite), c.createEnrollToken)
		api.POST("/enrollment/expected", c.require(PermEnrollWrite), c.importExpected)
		api.GET("/enrollment/expected", c.require(PermEnrollRead), c.listExpected)
		api.GET("/devices", c.require(PermDevicesRead), c.listDevices)
		api.GET("/devices/export", c.require(PermDevicesRead), c.exportDevices)
		api.GET("/devices/:id", c.require(PermDevicesRead), c.getDevice)
		api.GET("/devices/:id/privacy", c.require(PermDevicesRead), c.devicePrivacy)
		api.GET("/devices/:id/actions", c.require(PermDevicesRead), c.listActions)
		api.POST("/devices/:id/actions", c.require(PermDevicesAct), c.requireFresh, c.requestAction) // wipe, selective_wipe, revoke: also PermDevicesWipe
		api.POST("/devices/:id/release", c.require(PermDevicesAct), c.requireFresh, c.releaseDevice)
		api.POST("/devices/:id/retire", c.require(PermDevicesWipe), c.requireFresh, c.retireDevice)
		api.POST("/devices/:id/ownership", c.require(PermDevicesWipe), c.requireFresh, c.approveOwnership) // the organization decides ownership
		api.POST("/devices/:id/shared", c.require(PermDevicesWipe), c.requireFresh, c.setShared)
		// Two-person approval of wipes, retires and bulk actions, and its settings (approvals*.go).
		api.POST("/devices/actions", c.require(PermDevicesAct), c.requireFresh, c.requestBulkAction) // wipe, selective_wipe, revoke, retire: also PermDevicesWipe
		api.GET("/approvals/settings", c.require(PermDevicesRead), c.getApprovalSettings)
		api.PUT("/approvals/settings", c.require(PermDevicesWipe), c.requireFresh, c.putApprovalSettings)
		api.GET("/approvals", c.require(PermDevicesRead), c.listApprovals)
		api.GET("/approvals/:id", c.require(PermDevicesRead), c.getApproval)
		api.POST("/approvals/:id/approve", c.require(PermDevicesWipe), c.requireFresh, c.decideApproval((*Console).approve))
		api.POST("/approvals/:id/refuse", c.require(PermDevicesWipe), c.requireFresh, c.decideApproval((*Console).refuse))
		api.POST("/approvals/:id/cancel", c.require(PermDevicesAct), c.decideApproval((*Console).cancel)) // the requester only (a help-desk bulk lock too)
		api.GET("/kpis", c.require(PermKPIRead), c.kpis)
		api.GET("/inventory", c.require(PermDevicesRead), c.inventory)
		api.GET("/inventory/export", c.require(PermDevicesRead), c.exportInventory)

		// The agent API: the enrollment code, then the device certificate, authenticates.
		agent := e.Group("/api/v1/agent", c.agentProtocol, c.requireCurrent)
		agent.POST("/enroll", c.agentEnroll)
		agent.POST("/attest/challenge", c.agentAttestChallenge) // a code, or the device certificate
		dev := agent.Group("", c.requireDevice)
		dev.POST("/renew", c.agentRenew)
		dev.POST("/posture", c.agentPosture)
		dev.GET("/profile", c.agentProfile)
		dev.GET("/actions", c.agentActions)
		dev.POST("/actions/:id/result", c.agentActionResult)
		dev.GET("/origins", c.agentOrigins)
		dev.POST("/unenroll", c.agentUnenroll)
		dev.POST("/browser-certificates", c.agentBrowserCertificate)

		// Self-service enrollment page for signed-in users (and the page a QR code opens).
		pages.GET("/enroll", c.enrollPage)
		pages.POST("/enroll", c.requirePage(""), c.enrollPageSubmit)
		// "Register this browser as my personal device" (WebAuthn, JSON).
		pages.POST("/enroll/browser/begin", c.browserDeviceBegin)
		pages.POST("/enroll/browser/finish", c.browserDeviceFinish)
		// The signed-in employee's own devices and their privacy notices.
		pages.GET("/my/devices", c.requirePage(""), c.myDevicesPage)
		pages.GET("/devices", c.requirePage(PermDevicesRead), c.devicesPage)
		pages.GET("/devices/export", c.requirePage(PermDevicesRead), c.exportDevicesPage)
		// The device page and its action buttons (page_device*.go): the
		// same code as the API's, with its permissions and key check.
		pages.GET("/devices/:id", c.requirePage(PermDevicesRead), c.deviceDetailPage)
		roleForm("/devices/:id/actions", PermDevicesAct, c.deviceActionPage) // wipe, selective_wipe, revoke: also PermDevicesWipe
		roleForm("/devices/:id/release", PermDevicesAct, c.releaseDevicePage)
		roleForm("/devices/:id/retire", PermDevicesWipe, c.retireDevicePage)
		pages.GET("/approvals", c.requirePage(PermDevicesRead), c.approvalsPage)
		roleForm("/approvals/:id/approve", PermDevicesWipe, c.approvalForm(store.ApprovalApproved, true, (*Console).approve))
		roleForm("/approvals/:id/refuse", PermDevicesWipe, c.approvalForm(store.ApprovalRefused, true, (*Console).refuse))
		roleForm("/approvals/:id/cancel", PermDevicesAct, c.approvalForm(store.ApprovalCancelled, false, (*Console).cancel))
		roleForm("/approvals/settings", PermDevicesWipe, c.approvalSettingsPage)
		roleForm("/devices/actions", PermDevicesAct, c.bulkActionPage) // wipe, selective_wipe, revoke, retire: also PermDevicesWipe
		pages.GET("/inventory", c.requirePage(PermDevicesRead), c.inventoryPage)
		pages.GET("/inventory/export", c.requirePage(PermDevicesRead), c.exportInventoryPage)
		pages.POST("/my/devices/:id/remove", c.requirePage(""), c.removeMyDevice)
		pages.GET("/my/devices/:id/lost", c.requirePage(""), c.lostDevicePage)
		pages.POST("/my/devices/:id/lost", c.requirePage(""), c.reportLostDevice)
		pages.GET("/my/data", c.requirePage(""), c.myDataDownload)
	}

	c.rolloutRoutes(pages, api, roleForm) // rollout plans: pages and API (rollout_routes.go)

	e.NoRoute(c.notFound)
	e.NoMethod(c.methodNotAllowed)
	c.signInRoutes(pages)
	if c.opts.Identity != nil {
		pages.GET(InvitePath, c.invitePage) // an invitation link: its secret is the authorization
		// A re-registration link after a key reset: likewise.
		pages.GET(KeyResetPath, c.keyResetPage)
	}
}
