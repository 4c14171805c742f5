package console

import (
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
)

// agentProtocol checks the agent protocol version of every agent API
// request (header agentwire.VersionHeader; none is an agent older than the
// header, which speaks 1.0) and announces the server's on every answer. An
// agent of another major version gets a 400 saying which side to upgrade,
// before anything else is read.
func (c *Console) agentProtocol(g *gin.Context) {
	g.Header(agentwire.VersionHeader, agentwire.Version)
	sent := g.GetHeader(agentwire.VersionHeader)
	if len(sent) > 32 {
		sent = sent[:32] // it reaches the log
	}
	err := agentwire.CheckVersion(sent)
	var ve *agentwire.VersionError
	switch {
	case err == nil:
		g.Next()
		return
	case errors.As(err, &ve) && ve.PeerNewer():
		err = apperr.New(apperr.Invalid, "this agent speaks Portier agent protocol %s and this server speaks %s: upgrade the Portier server, or install the agent of the server's version", ve.Peer, agentwire.Version)
	case errors.As(err, &ve):
		err = apperr.New(apperr.Invalid, "this agent speaks Portier agent protocol %s and this server speaks %s: upgrade the Portier agent", ve.Peer, agentwire.Version)
	default:
		err = apperr.New(apperr.Invalid, "the %s header must be MAJOR.MINOR such as %s", agentwire.VersionHeader, agentwire.Version)
	}
	c.opts.Log.Info("agent api: protocol version refused", "path", g.Request.URL.Path, "remote_ip", g.RemoteIP(), "version", sent)
	c.fail(g, err)
}
