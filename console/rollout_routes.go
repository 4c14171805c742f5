package console

import "github.com/gin-gonic/gin"

// rolloutRoutes adds the rollout plans' pages (page_rollout*.go) and API
// (rollout_api.go). A change that can weaken the roll-out (editing a plan,
// which may move its deadline or waves; deleting or pausing it) needs,
// from a browser, a security-key check at most 5 minutes old.
func (c *Console) rolloutRoutes(pages, api *gin.RouterGroup, roleForm func(string, Permission, gin.HandlerFunc)) {
	pages.GET("/rollout", c.requirePage(PermRolloutRead), c.rolloutPage)
	pages.GET("/rollout/new", c.requirePage(PermRolloutWrite), c.newPlanPage)
	pages.GET("/rollout/:id", c.requirePage(PermRolloutRead), c.planPage)
	roleForm("/rollout/new", PermRolloutWrite, c.createPlanForm)
	roleForm("/rollout/:id", PermRolloutWrite, c.savePlanForm)
	roleForm("/rollout/:id/pause", PermRolloutWrite, c.pausePlanForm(true))
	roleForm("/rollout/:id/resume", PermRolloutWrite, c.pausePlanForm(false))
	roleForm("/rollout/:id/tickets", PermRolloutWrite, c.ticketsForm)

	api.GET("/rollout/plans", c.require(PermRolloutRead), c.listPlans)
	api.POST("/rollout/plans", c.require(PermRolloutWrite), c.postPlan)
	api.GET("/rollout/plans/:id", c.require(PermRolloutRead), c.getPlan)
	api.PUT("/rollout/plans/:id", c.require(PermRolloutWrite), c.requireFresh, c.putPlan)
	api.DELETE("/rollout/plans/:id", c.require(PermRolloutWrite), c.requireFresh, c.deletePlanAPI)
	api.POST("/rollout/plans/:id/pause", c.require(PermRolloutWrite), c.requireFresh, c.pausePlan(true))
	api.POST("/rollout/plans/:id/resume", c.require(PermRolloutWrite), c.pausePlan(false))
	api.PUT("/rollout/plans/:id/waves/:wave/tickets", c.require(PermRolloutWrite), c.putTickets)
	api.GET("/rollout/plans/:id/progress", c.require(PermRolloutRead), c.planProgress)
}
