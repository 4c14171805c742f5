package console

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
)

// maxFormBytes bounds the sign-in forms' bodies.
const maxFormBytes = 64 << 10

// signInRoutes serves sign-in, security keys, step-up and sign-out under
// /auth/ in the page group (none of them when the console has no identity
// service): every POST passes the page group's same-origin and CSRF checks.
func (c *Console) signInRoutes(pages *gin.RouterGroup) {
	if c.opts.Identity == nil {
		return
	}
	a := pages.Group("/auth")
	a.GET("/sign_in", c.signInPage)
	a.GET("/oidc/:id/start", c.oidcStart)
	a.GET("/oidc/callback", c.oidcCallback)
	a.POST("/password", c.passwordSubmit)
	a.POST("/webauthn/login/begin", c.loginBegin)
	a.POST("/webauthn/login/finish", c.loginFinish)
	a.GET("/step_up", c.stepUpPage)
	a.POST("/webauthn/step_up/begin", c.stepUpBegin)
	a.POST("/webauthn/step_up/finish", c.stepUpFinish)
	a.GET("/device", c.devicePage)
	a.POST("/webauthn/device/begin", c.deviceBegin)
	a.POST("/webauthn/device/finish", c.deviceFinish)
	a.GET("/security_keys", c.securityKeysPage)
	a.POST("/security_keys", c.securityKeysSubmit)
	a.POST("/link/:id", c.linkStart)
	a.POST("/webauthn/register/begin", c.registerBegin)
	a.POST("/webauthn/register/finish", c.registerFinish)
	a.POST("/sign_out", c.signOut)
	a.GET("/signed_out", c.signedOutPage)
}

// signInPage shows the ways to sign in. A browser that is signed in goes on
// to rd at once (this is how route hosts get their hand-off); with idp= it
// goes straight to that provider.
func (c *Console) signInPage(g *gin.Context) {
	id := c.opts.Identity
	rd, idp := g.Query("rd"), g.Query("idp")
	if sess, _, ok := c.session(g); ok && (idp == "" || sess.IdP == idp) {
		dest, err := id.Continue(g.Request.Context(), sess, rd)
		if err != nil {
			c.renderError(g, "title.signin_error", err)
			return
		}
		g.Header("Cache-Control", "no-store")
		g.Redirect(http.StatusFound, dest)
		return
	}
	flow := c.flowCookie(g)
	if idp != "" && id.HasProvider(idp) {
		c.startProvider(g, idp, rd, flow)
		return
	}
	c.renderSignIn(g, http.StatusOK, flow, rd, "", nil)
}

func (c *Console) renderSignIn(g *gin.Context, status int, flow, rd, email string, err error) {
	id := c.opts.Identity
	d := pageData{Title: "title.sign_in", CSRF: identity.CSRFToken(flow), RD: rd, Email: email,
		Providers: id.Providers(), WebAuthn: id.WebAuthnAvailable()}
	d.Local = len(d.Providers) == 0 || id.HasLocalAccounts()
	if err != nil {
		d.Error = apperr.ToBody(err).Error.Message
		if status >= 500 {
			c.opts.Log.Error("console: sign-in failed", "err", err)
		}
	}
	c.renderPage(g, status, "sign_in", d)
}

func (c *Console) oidcStart(g *gin.Context) {
	c.startProvider(g, g.Param("id"), g.Query("rd"), c.flowCookie(g))
}

func (c *Console) startProvider(g *gin.Context, idp, rd, flow string) {
	dest, err := c.opts.Identity.StartOIDC(g.Request.Context(), idp, rd, flow, client(g))
	if err != nil {
		c.renderSignIn(g, apperr.Status(err), flow, rd, "", err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.Redirect(http.StatusFound, dest)
}

// oidcCallback is where identity providers send the browser back, after a
// sign-in or after linking an account (see linkStart).
func (c *Console) oidcCallback(g *gin.Context) {
	cb := identity.OIDCCallback{State: g.Query("state"), Code: g.Query("code"), Error: g.Query("error"),
		Session: cookieValue(g, identity.SessionCookie)}
	si, err := c.opts.Identity.FinishOIDC(g.Request.Context(), cb, cookieValue(g, identity.FlowCookie), client(g))
	if err != nil {
		c.renderError(g, "title.signin_failed", err)
		return
	}
	if si.Cookie != "" { // "" when an account was linked: the browser keeps its session
		c.setSession(g, si)
	}
	g.Header("Cache-Control", "no-store")
	g.Redirect(http.StatusFound, si.Redirect)
}

// passwordSubmit is the local-account form.
func (c *Console) passwordSubmit(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	flow := cookieValue(g, identity.FlowCookie)
	rd, email := g.PostForm("rd"), g.PostForm("email")
	if !csrfOK(g, flow) {
		c.renderSignIn(g, http.StatusForbidden, c.flowCookie(g), rd, email,
			apperr.New(apperr.Forbidden, "This sign-in page expired. Please enter your password again."))
		return
	}
	res, err := c.opts.Identity.SignInPassword(g.Request.Context(), email, g.PostForm("password"), rd, flow, client(g))
	if err != nil {
		c.renderSignIn(g, apperr.Status(err), flow, rd, email, err)
		return
	}
	if res.Pending != "" {
		c.renderPage(g, http.StatusOK, "mfa", pageData{Title: "title.mfa", CSRF: identity.CSRFToken(flow),
			Pending: res.Pending, RD: rd})
		return
	}
	c.setSession(g, res.SignIn)
	c.goTo(g, res.SignIn.Redirect)
}

// stepUpPage asks for a security-key check, then goes back to rd.
func (c *Console) stepUpPage(g *gin.Context) {
	rd := g.Query("rd")
	sess, cookie, ok := c.session(g)
	if !ok {
		g.Redirect(http.StatusFound, "/auth/sign_in?"+url.Values{"rd": {g.Request.URL.RequestURI()}}.Encode())
		return
	}
	d := pageData{Title: "title.step_up", CSRF: identity.CSRFToken(cookie), RD: rd, SignedIn: true,
		HasKeys: len(c.opts.Identity.Credentials(sess.UserID)) > 0, StepUpURL: g.Request.URL.RequestURI()}
	if !c.opts.Identity.WebAuthnAvailable() {
		d.Error, d.HasKeys = apperr.ToBody(identityUnavailable()).Error.Message, true
	}
	c.renderPage(g, http.StatusOK, "step_up", d)
}

// devicePage asks the browser to prove it is on an enrolled work-profile
// device (its device-bound credential), then goes back to rd.
func (c *Console) devicePage(g *gin.Context) {
	sess, cookie, ok := c.session(g)
	if !ok {
		g.Redirect(http.StatusFound, "/auth/sign_in?"+url.Values{"rd": {g.Request.URL.RequestURI()}}.Encode())
		return
	}
	d := pageData{Title: "title.device", CSRF: identity.CSRFToken(cookie), RD: g.Query("rd"), SignedIn: true,
		HasKeys: c.opts.Identity.HasDeviceCredential(sess.UserID)}
	c.renderPage(g, http.StatusOK, "device", d)
}

// securityKeysPage lists the user's keys and registers new ones.
func (c *Console) securityKeysPage(g *gin.Context) {
	sess, cookie, ok := c.session(g)
	if !ok {
		g.Redirect(http.StatusFound, "/auth/sign_in?"+url.Values{"rd": {g.Request.URL.RequestURI()}}.Encode())
		return
	}
	c.renderKeys(g, http.StatusOK, sess.UserID, sess.Email, cookie, g.Query("rd"), "", c.opts.Identity.Fresh(sess))
}

func (c *Console) renderKeys(g *gin.Context, status int, userID, email, cookie, rd, msg string, fresh bool) {
	id := c.opts.Identity
	d := pageData{Title: "title.keys", CSRF: identity.CSRFToken(cookie), Email: email, SignedIn: true,
		Keys: id.Credentials(userID), WebAuthn: id.WebAuthnAvailable(), Fresh: fresh, Error: msg,
		SelfURL: g.Request.URL.RequestURI(), DevicesLink: c.opts.Enrollment != nil, Links: id.Links(userID)}
	d.LinkProviders = linkProviders(id, d.Links)
	if rd != "" {
		u, _ := id.CheckRedirect(rd)
		d.Continue = u.String()
	}
	c.renderPage(g, status, "keys", d)
}

// securityKeysSubmit removes a key (adding one is the WebAuthn XHR) or a
// linked identity-provider account.
func (c *Console) securityKeysSubmit(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	sess, cookie, ok := c.session(g)
	if !ok || !csrfOK(g, cookie) {
		c.renderError(g, "title.keys", apperr.New(apperr.Forbidden, "Your session ended or this page expired. Sign in again."))
		return
	}
	var err error
	switch g.PostForm("action") {
	case "delete":
		err = c.opts.Identity.DeleteCredential(g.Request.Context(), sess, g.PostForm("id"), client(g))
	case "unlink":
		err = c.opts.Identity.Unlink(g.Request.Context(), sess, g.PostForm("id"), client(g))
	default:
		c.renderError(g, "title.keys", apperr.New(apperr.Invalid, "Unknown action."))
		return
	}
	if err != nil {
		c.renderKeys(g, apperr.Status(err), sess.UserID, sess.Email, cookie, "", apperr.ToBody(err).Error.Message, c.opts.Identity.Fresh(sess))
		return
	}
	g.Redirect(http.StatusSeeOther, "/auth/security_keys")
}

// signOut ends the console session and every route session handed off
// from it.
func (c *Console) signOut(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	cookie := cookieValue(g, identity.SessionCookie)
	if cookie != "" {
		if !csrfOK(g, cookie) {
			c.renderError(g, "title.sign_out", apperr.New(apperr.Forbidden, "This page expired. Reload it and sign out again."))
			return
		}
		if err := c.opts.Identity.SignOut(g.Request.Context(), cookie, client(g)); err != nil {
			c.renderError(g, "title.sign_out", err)
			return
		}
	}
	http.SetCookie(g.Writer, identity.ClearSessionCookie())
	g.Redirect(http.StatusSeeOther, "/auth/signed_out")
}

func (c *Console) signedOutPage(g *gin.Context) {
	c.renderPage(g, http.StatusOK, "message", pageData{Title: "title.signed_out",
		Notice: c.t(g, "signin.signed_out"), Link: "/auth/sign_in", LinkText: "signin.again"})
}

func identityUnavailable() error {
	return apperr.New(apperr.Unavailable, "Security keys are unavailable on this Portier (it must be reached by a host name). Contact your administrator.")
}
