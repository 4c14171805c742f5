package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// enrollPages are the self-service enrollment pages: pick an ownership,
// get a one-time code with its QR code and the command to run.
var enrollPages = template.Must(template.New("enroll").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Enroll a device · Portier</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
{{if .CSRF}}<meta name="csrf" content="{{.CSRF}}">{{end}}
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1d2433;line-height:1.5}
h1{font-size:1.5rem}label{display:block;margin:.4rem 0}button{margin-top:.8rem;padding:.6rem 1rem;font-size:1rem;border:1px solid #2f4a80;border-radius:4px;background:#2f4a80;color:#fff;cursor:pointer}
code,pre{background:#f2f4f8;padding:.2rem .4rem;border-radius:4px;overflow-wrap:anywhere}pre{padding:.6rem;white-space:pre-wrap}.err{color:#a40000}.qr svg{width:14rem;height:14rem}.note{color:#556}section{border-top:1px solid #d8dde6;margin-top:1.5rem}</style>
</head><body><h1>Enroll a device</h1>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .Code}}
<p>Your one-time enrollment code{{if .Email}} for <strong>{{.Email}}</strong>{{end}}{{if .Expires}}, valid until {{.Expires}}{{end}}:</p>
<p><code>{{.Code}}</code></p>
{{if .QR}}<div class="qr">{{.QR}}</div><p class="note">Scan it from the device to open this page there.</p>{{end}}
<p>Install the Portier agent on the device, then run{{if .BYOD}} (personal device: only a work profile is managed){{end}}:</p>
<pre>{{if .Windows}}portier.exe{{else}}sudo portier{{end}} agent enroll --server {{.Server}} --code {{.Code}}{{if .Fingerprint}} --ca-fingerprint {{.Fingerprint}}{{end}}{{if .BYOD}} --work-profile{{end}}</pre>
{{if .Fingerprint}}<p class="note">The <code>--ca-fingerprint</code> value is the SHA-256 of this Portier's root certificate: the agent checks it before trusting the server.</p>{{end}}
{{if .Pending}}<p class="note" id="approval">You said this is a company device. IT confirms that: if its serial number is on your organization's device list and assigned to you, it is recognized as a company device when it enrolls; otherwise it counts as a personal device until an administrator approves it.</p>{{end}}
<p class="note">The code works once. To see what your organization can see on the device afterwards, run <code>portier agent privacy</code>.</p>
{{else}}
<p>Signed in as <strong>{{.Email}}</strong>.</p>
{{if .Mobile}}{{template "browser" .}}
<section><h2>Enroll another device with the agent</h2>
<p class="note">The Portier agent runs on computers (Linux, macOS, Windows), not on phones or tablets. To enroll a computer, open this page on it.</p></section>
{{else}}
<p>Who owns the device you want to enroll?</p>
<form method="post" action="/enroll"><input type="hidden" name="csrf" value="{{.CSRF}}">
<label><input type="radio" name="ownership" value="corporate" checked> A company laptop or phone given to me</label>
<label><input type="radio" name="ownership" value="cope"> A company device I may also use privately (COPE)</label>
<label><input type="radio" name="ownership" value="byod"> My own personal device (only a work profile is managed)</label>
<button type="submit">Get an enrollment code</button></form>
<p class="note">Company devices are confirmed by IT (from the organization's device list, or by an administrator's approval); until then a device counts as personal.</p>
{{if .Browser}}<section>{{template "browser" .}}</section>{{end}}
{{end}}{{end}}
{{if .Browser}}<script nonce="{{.Nonce}}">` + signInScript + `</script>{{end}}
</body></html>
{{define "browser"}}{{if .Browser}}<h2>Register this browser as my personal device</h2>
<p>Without installing anything: this browser creates a passkey that stays on this {{if .Mobile}}phone or tablet{{else}}computer{{end}} (it is not synced to your other devices) and unlocks with its screen lock. Portier then knows this {{if .Mobile}}phone{{else}}computer{{end}} as your personal device, and apps open to personal devices let it in.</p>
<p class="note">Portier learns only what the browser and the passkey tell: the platform ({{if .PlatformName}}{{.PlatformName}}{{else}}unknown{{end}}), the passkey's authenticator model and when you last used it. Nothing is installed and nothing on the device is managed or collected.</p>
<button type="button" data-webauthn="enroll_device">Register this browser</button>
<p id="status" class="err" role="alert" hidden></p>{{else if .Mobile}}<p>This Portier cannot register phones in the browser (it must be reached by a host name). Contact IT.</p>{{end}}{{end}}`))

type enrollPageData struct {
	Nonce, Error, Code, Email, Expires, Server, CSRF string
	Fingerprint, PlatformName                        string
	QR                                               template.HTML
	BYOD, Windows, Pending                           bool
	// Mobile is a phone or tablet (from the User-Agent): the agent does not
	// run there, so the page offers only the browser path.
	Mobile bool
	// Browser offers "Register this browser" (a signed-in person, and
	// WebAuthn available on this Portier).
	Browser bool
}

func (c *Console) renderEnroll(g *gin.Context, status int, d enrollPageData) {
	d.Nonce = newNonce()
	d.Server = c.opts.ExternalURL
	d.Fingerprint = c.opts.RootFingerprint
	platform := enrollment.BrowserPlatform(g.Request.UserAgent())
	d.Mobile = enrollment.MobilePlatform(platform)
	d.PlatformName = enrollment.PlatformName(platform)
	d.Browser = d.Browser && c.opts.Identity != nil && c.opts.Identity.WebAuthnAvailable()
	pageHeaders(g, status, "default-src 'none'; script-src 'nonce-"+d.Nonce+"'; style-src 'nonce-"+d.Nonce+"'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if err := enrollPages.Execute(g.Writer, d); err != nil {
		c.opts.Log.Error("console: render enrollment page", "err", err)
	}
}

// enrollPage is GET /enroll. With ?code= (what a QR code opens) it shows
// how to enroll with that code; otherwise a signed-in user picks the
// device's ownership and gets a code bound to them.
func (c *Console) enrollPage(g *gin.Context) {
	if code := g.Query("code"); code != "" {
		if len(code) > 64 {
			code = ""
		}
		c.renderEnroll(g, http.StatusOK, enrollPageData{Code: code, Windows: isWindows(g)})
		return
	}
	if c.opts.Identity == nil {
		c.renderEnroll(g, http.StatusNotFound, enrollPageData{Error: "Self-service enrollment is not available on this server. Ask IT for an enrollment code."})
		return
	}
	sess, cookie, ok := c.session(g)
	if !ok {
		g.Redirect(http.StatusFound, "/auth/sign_in?"+url.Values{"rd": {"/enroll"}}.Encode())
		return
	}
	c.renderEnroll(g, http.StatusOK, enrollPageData{Email: sess.Email, CSRF: identity.CSRFToken(cookie), Browser: true})
}

// enrollPageSubmit is POST /enroll: a one-time code for the signed-in user.
func (c *Console) enrollPageSubmit(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	if c.opts.Identity == nil {
		c.renderEnroll(g, http.StatusNotFound, enrollPageData{Error: "Self-service enrollment is not available on this server."})
		return
	}
	if site := g.GetHeader("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		c.renderEnroll(g, http.StatusForbidden, enrollPageData{Error: "This request came from another site and was refused."})
		return
	}
	sess, cookie, ok := c.session(g)
	if !ok || !csrfOK(g, cookie) {
		c.renderEnroll(g, http.StatusForbidden, enrollPageData{Error: "Your session ended or this page expired. Sign in and try again."})
		return
	}
	own := store.Ownership(g.PostForm("ownership"))
	// The ownership chosen here is a request: the enrollment service grants
	// byod unless the organization's records or an administrator say more.
	ic, err := c.opts.Enrollment.SelfServiceCode(g.Request.Context(), enrollment.SelfServiceActor(sess.Email, g.ClientIP()),
		sess.Email, own)
	if err != nil {
		if apperr.Status(err) >= 500 {
			c.opts.Log.Error("console: self-service enrollment code", "err", err)
		}
		retryAfter(g, err)
		c.renderEnroll(g, apperr.Status(err), enrollPageData{Email: sess.Email, CSRF: identity.CSRFToken(cookie), Error: apperr.ToBody(err).Error.Message, Browser: true})
		return
	}
	c.renderEnroll(g, http.StatusOK, enrollPageData{Code: ic.Code, Email: sess.Email, Expires: ic.Record.ExpiresAt.Format("15:04 MST"),
		QR: template.HTML(ic.QRSVG), BYOD: ic.Record.Ownership == store.OwnershipBYOD, Pending: ic.Record.Ownership != store.OwnershipBYOD, Windows: isWindows(g)}) // #nosec: SVG generated by enrollment.QR
}

func isWindows(g *gin.Context) bool { return strings.Contains(g.Request.UserAgent(), "Windows NT") }
