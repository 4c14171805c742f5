package console

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// The WebAuthn endpoints speak JSON: begin returns an identity.Ceremony,
// finish takes {"ceremony", "credential"} (the browser's
// PublicKeyCredential, binary fields base64url) and answers where to go.
// Before sign-in the CSRF token comes from the flow cookie, after it from
// the session cookie; both travel in the X-CSRF-Token header.

type loginBeginRequest struct {
	Pending string `json:"pending"`
	RD      string `json:"rd"`
}

// stepUpBeginRequest starts a step-up or a device check.
type stepUpBeginRequest struct {
	RD string `json:"rd"`
}

type registerBeginRequest struct {
	Name string `json:"name"`
}

type finishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

// preSignIn checks the flow cookie's CSRF token and returns the cookie.
func (c *Console) preSignIn(g *gin.Context) (string, bool) {
	flow := cookieValue(g, identity.FlowCookie)
	if !csrfOK(g, flow) {
		c.fail(g, apperr.New(apperr.Forbidden, "This sign-in page expired. Reload it and try again."))
		return "", false
	}
	return flow, true
}

// signedIn checks the session and its CSRF token.
func (c *Console) signedIn(g *gin.Context) (*store.Session, bool) {
	sess, cookie, ok := c.session(g)
	if !ok {
		c.fail(g, apperr.New(apperr.Unauthenticated, "Your session ended. Sign in again."))
		return nil, false
	}
	if !csrfOK(g, cookie) {
		c.fail(g, apperr.New(apperr.Forbidden, "This page expired. Reload it and try again."))
		return nil, false
	}
	return sess, true
}

func (c *Console) loginBegin(g *gin.Context) {
	flow, ok := c.preSignIn(g)
	if !ok {
		return
	}
	var req loginBeginRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	cer, err := c.opts.Identity.BeginLogin(g.Request.Context(), req.Pending, req.RD, flow, client(g))
	if err != nil {
		c.fail(g, err)
		return
	}
	c.noStoreJSON(g, http.StatusOK, cer)
}

func (c *Console) loginFinish(g *gin.Context) {
	flow, ok := c.preSignIn(g)
	if !ok {
		return
	}
	var req finishRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	si, err := c.opts.Identity.FinishLogin(g.Request.Context(), req.Ceremony, flow, req.Credential, client(g))
	if err != nil {
		c.fail(g, err)
		return
	}
	c.setSession(g, si)
	c.noStoreJSON(g, http.StatusOK, gin.H{"redirect": si.Redirect})
}

// ceremony is the shape of every signed-in WebAuthn endpoint: check the
// session and its CSRF token, decode the JSON body, call the service, and
// answer with status and what it returned.
func ceremony[Req any](c *Console, status int, call func(g *gin.Context, sess *store.Session, req *Req) (any, error)) gin.HandlerFunc {
	return func(g *gin.Context) {
		sess, ok := c.signedIn(g)
		if !ok {
			return
		}
		var req Req
		if err := decode(g, &req); err != nil {
			c.fail(g, err)
			return
		}
		out, err := call(g, sess, &req)
		if err != nil {
			c.fail(g, err)
			return
		}
		c.noStoreJSON(g, status, out)
	}
}

func (c *Console) stepUpBegin(g *gin.Context) {
	ceremony(c, http.StatusOK, func(g *gin.Context, sess *store.Session, req *stepUpBeginRequest) (any, error) {
		return c.opts.Identity.BeginStepUp(g.Request.Context(), sess, req.RD)
	})(g)
}

func (c *Console) stepUpFinish(g *gin.Context) {
	ceremony(c, http.StatusOK, func(g *gin.Context, sess *store.Session, req *finishRequest) (any, error) {
		dest, err := c.opts.Identity.FinishStepUp(g.Request.Context(), sess, req.Ceremony, req.Credential, client(g))
		return gin.H{"redirect": dest}, err
	})(g)
}

func (c *Console) deviceBegin(g *gin.Context) {
	ceremony(c, http.StatusOK, func(g *gin.Context, sess *store.Session, req *stepUpBeginRequest) (any, error) {
		return c.opts.Identity.BeginDeviceCheck(g.Request.Context(), sess, req.RD)
	})(g)
}

func (c *Console) deviceFinish(g *gin.Context) {
	ceremony(c, http.StatusOK, func(g *gin.Context, sess *store.Session, req *finishRequest) (any, error) {
		_, dest, err := c.opts.Identity.FinishDeviceCheck(g.Request.Context(), sess, req.Ceremony, req.Credential, client(g))
		return gin.H{"redirect": dest}, err
	})(g)
}

func (c *Console) registerBegin(g *gin.Context) {
	ceremony(c, http.StatusOK, func(g *gin.Context, sess *store.Session, req *registerBeginRequest) (any, error) {
		if err := c.keyResetPending(sess.UserID); err != nil {
			return nil, err
		}
		return c.opts.Identity.BeginRegistration(g.Request.Context(), sess, req.Name)
	})(g)
}

func (c *Console) registerFinish(g *gin.Context) {
	ceremony(c, http.StatusCreated, func(g *gin.Context, sess *store.Session, req *finishRequest) (any, error) {
		cred, err := c.opts.Identity.FinishRegistration(g.Request.Context(), sess, req.Ceremony, req.Credential, client(g))
		if err != nil {
			return nil, err
		}
		return gin.H{"id": cred.ID, "name": cred.Name}, nil
	})(g)
}

func (c *Console) noStoreJSON(g *gin.Context, status int, v any) {
	g.Header("Cache-Control", "no-store")
	g.JSON(status, v)
}
