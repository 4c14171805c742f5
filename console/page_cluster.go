package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
)

// clusterPage is GET /cluster: the replicas as GET /api/v1/cluster lists
// them (readCluster), with the background jobs each runs. Like the API it
// answers while this replica is stale: it is how an operator sees why.
func (c *Console) clusterPage(g *gin.Context) {
	v, err := c.readCluster(g.Request.Context())
	if err != nil {
		c.pageError(g, err, "cluster.unreachable")
		return
	}
	g.Header("Cache-Control", "no-store")
	c.render(g, http.StatusOK, "cluster", &ui.Page{TitleKey: "title.cluster", Data: v})
}
