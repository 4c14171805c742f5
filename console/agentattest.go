package console

import (
	"crypto/x509"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/enrollment"
)

// agentAttestChallenge is POST /api/v1/agent/attest/challenge: a TPM
// credential-activation challenge, for a first enrollment (the body names
// a usable enrollment code, which the challenge does not use up) or for a
// renewal (no code: the device's client certificate authenticates).
func (c *Console) agentAttestChallenge(g *gin.Context) {
	body, err := readBody(g, MaxBodyBytes)
	if err != nil {
		c.fail(g, err)
		return
	}
	var ch agentwire.AttestChallenge
	if enrollment.PeekCode(body) != "" {
		ch, err = c.opts.Enrollment.AttestChallengeForCode(g.Request.Context(), body, g.RemoteIP())
	} else {
		var chain []*x509.Certificate
		if g.Request.TLS != nil {
			chain = g.Request.TLS.PeerCertificates
		}
		d, aerr := c.opts.Enrollment.Authenticate(chain)
		if aerr != nil {
			c.fail(g, aerr)
			return
		}
		req, perr := enrollment.ParseAttestChallengeRequest(body)
		if perr != nil {
			c.fail(g, perr)
			return
		}
		ch, err = c.opts.Enrollment.AttestChallengeForDevice(g.Request.Context(), d, req)
	}
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusCreated, ch)
}

// agentBrowserCertificate is POST /api/v1/agent/browser-certificates: a
// certificate for a key kept in one person's browser store, for the
// device of the client certificate.
func (c *Console) agentBrowserCertificate(g *gin.Context) {
	req, ok := parseBody(c, g, MaxBodyBytes, enrollment.ParseBrowserCertificateRequest)
	if !ok {
		return
	}
	d := agentDevice(g)
	res, err := c.opts.Enrollment.IssueBrowserCertificate(g.Request.Context(), d, req)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusCreated, viewCertificate(d, res.Chain))
}
