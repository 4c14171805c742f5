package console

import (
	"net/url"

	"github.com/gin-gonic/gin"
)

// pageFresh is requireFresh for a page's form: when the session's last
// security-key check is older than FreshCheck, it calls refuse with the
// step-up address that returns to back (the page shows the form again,
// nothing changed, with a link to confirm with a key) and answers false.
func (c *Console) pageFresh(g *gin.Context, back string, refuse func(stepUp string)) bool {
	pu, _ := c.pageUser(g)
	if keyCheckFresh(pu.Session, c.now()) {
		return true
	}
	refuse("/auth/step_up?" + url.Values{"rd": {back}}.Encode())
	return false
}
