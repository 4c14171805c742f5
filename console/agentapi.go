package console

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// The agent API lives on the console host under /api/v1/agent and speaks
// package agentwire (its bodies and its version). Enrollment is
// authenticated by the enrollment code; every other call by the device's
// client certificate (mutual TLS), checked on every request.

const deviceKey = "portier.device"

// readBody reads a request body up to max bytes: 413 beyond.
func readBody(g *gin.Context, max int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(g.Writer, g.Request.Body, max))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, apperr.New(apperr.TooLarge, "the body is larger than %d bytes", max)
	case err != nil:
		return nil, apperr.Wrap(apperr.Invalid, err, "cannot read the body")
	}
	return body, nil
}

// parseBody reads a request body of at most max bytes (413 beyond) and
// parses it; on failure it answers with the error and reports false.
func parseBody[T any](c *Console, g *gin.Context, max int64, parse func([]byte) (T, error)) (T, bool) {
	body, err := readBody(g, max)
	if err != nil {
		c.fail(g, err)
		var zero T
		return zero, false
	}
	v, err := parse(body)
	if err != nil {
		c.fail(g, err)
		return v, false
	}
	return v, true
}

// requireDevice authenticates the agent by its client certificate: issued
// by Portier's CA to a device, unexpired, unrevoked, and the device not
// retired.
func (c *Console) requireDevice(g *gin.Context) {
	var chain []*x509.Certificate
	if g.Request.TLS != nil {
		chain = g.Request.TLS.PeerCertificates
	}
	d, err := c.opts.Enrollment.Authenticate(chain)
	if err != nil {
		c.opts.Log.Info("agent api: device refused", "path", g.Request.URL.Path, "remote_ip", g.RemoteIP(), "err", err)
		c.fail(g, err)
		return
	}
	g.Set(deviceKey, d)
	g.Next()
}

func agentDevice(g *gin.Context) *store.Device { return g.MustGet(deviceKey).(*store.Device) }

// viewCertificate is a device certificate as the agent receives it.
func viewCertificate(d *store.Device, chain []*x509.Certificate) agentwire.Certificate {
	var pemChain []byte
	for _, crt := range chain {
		pemChain = append(pemChain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: crt.Raw})...)
	}
	leaf := chain[0]
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	key := ca.KeyInfoFromCert(leaf)
	return agentwire.Certificate{DeviceID: d.ID, Certificate: string(pemChain), NotAfter: leaf.NotAfter,
		RenewAfter: leaf.NotBefore.Add(life * 2 / 3), Ownership: string(d.Ownership), WorkProfile: d.WorkProfile, State: string(d.State),
		KeyProtection: key.Protection, KeyProtectionSource: key.Source}
}

// agentEnroll is POST /api/v1/agent/enroll: a code and a CSR become a
// device certificate. No client certificate; rate-limited per address.
func (c *Console) agentEnroll(g *gin.Context) {
	req, ok := parseBody(c, g, MaxBodyBytes, enrollment.ParseEnrollRequest)
	if !ok {
		return
	}
	res, err := c.opts.Enrollment.Enroll(g.Request.Context(), req, g.RemoteIP())
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusCreated, viewCertificate(res.Device, res.Chain))
}

// agentRenew is POST /api/v1/agent/renew: a new certificate for the same
// key, or for the key of {"csr": PEM}.
func (c *Console) agentRenew(g *gin.Context) {
	req, ok := parseBody(c, g, MaxBodyBytes, enrollment.ParseRenewRequest)
	if !ok {
		return
	}
	d := agentDevice(g)
	chain, err := c.opts.Enrollment.Renew(g.Request.Context(), d, g.Request.TLS.PeerCertificates[0], req)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusOK, viewCertificate(d, chain))
}

// agentPosture is POST /api/v1/agent/posture: a posture report of at most
// 256 KiB. A replayed report (seq not newer than the last accepted) is
// answered 200 with "replay": true and "last_seq", and ignored.
func (c *Console) agentPosture(g *gin.Context) {
	r, ok := parseBody(c, g, agentwire.MaxPostureReportBytes, enrollment.ParseReport)
	if !ok {
		return
	}
	res, err := c.opts.Enrollment.IngestPosture(g.Request.Context(), agentDevice(g), r)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, res)
}

// agentProfile is GET /api/v1/agent/profile: the signals the device's data
// profile allows and its privacy notice.
func (c *Console) agentProfile(g *gin.Context) {
	p, err := c.opts.Enrollment.Profile(agentDevice(g))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, p)
}

// agentActions is GET /api/v1/agent/actions[?wait=30s]: the device's open
// actions, waiting up to wait (at most 60s) for one to be queued.
func (c *Console) agentActions(g *gin.Context) {
	wait := agentwire.DefaultPollWait
	if w := g.Query("wait"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 || d > agentwire.MaxPollWait {
			c.fail(g, apperr.Field("wait", "wait must be a duration from 0s to %s", agentwire.MaxPollWait))
			return
		}
		wait = d
	}
	acts, err := c.opts.Enrollment.Poll(g.Request.Context(), agentDevice(g), wait)
	if err != nil {
		c.fail(g, err)
		return
	}
	out := agentwire.Actions{Actions: make([]*agentwire.Action, len(acts))}
	for i, a := range acts {
		out.Actions[i] = enrollment.WireAction(a)
	}
	g.JSON(http.StatusOK, out)
}

// agentActionResult is POST /api/v1/agent/actions/{id}/result:
// {"status": "acknowledged"|"failed", "result": "..."}.
func (c *Console) agentActionResult(g *gin.Context) {
	r, ok := parseBody(c, g, MaxBodyBytes, enrollment.ParseActionResult)
	if !ok {
		return
	}
	act, err := c.opts.Enrollment.ReportResult(g.Request.Context(), agentDevice(g), g.Param("id"), r)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, enrollment.WireAction(act))
}
