package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/proxy"
)

func (c *Console) jwks(g *gin.Context) {
	g.Header("Cache-Control", "public, max-age=300")
	g.Data(http.StatusOK, "application/json", c.opts.JWKS())
}

// simulateRequest is the what-if API's body: the route URL and the same
// hypothetical facts as `portier policy test`.
type simulateRequest struct {
	Route string `json:"route"`
	proxy.Query
}

// simulate is POST /api/v1/policy/simulate: what the live proxy would decide.
func (c *Console) simulate(g *gin.Context) {
	var req simulateRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	if req.Route == "" {
		c.fail(g, apperr.Field("route", "route is required: the URL to test, e.g. https://wiki.example.com/page"))
		return
	}
	res, err := c.opts.Simulate(req.Route, req.Query)
	var fe *proxy.FieldError
	switch {
	case errors.As(err, &fe):
		c.fail(g, apperr.Field(fe.Field, "%s", fe.Msg))
		return
	case err != nil:
		c.fail(g, apperr.Field("route", "%s", err.Error()))
		return
	}
	g.JSON(http.StatusOK, res)
}
