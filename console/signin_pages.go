package console

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// signInPages are the sign-in pages: one layout, one template per page.
// Scripts and styles are inline with a per-response CSP nonce; all data
// reaches the script through data- attributes.
var signInPages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Portier</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
{{if .CSRF}}<meta name="csrf" content="{{.CSRF}}">{{end}}
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem;color:#1d2433;line-height:1.5}
h1{font-size:1.5rem}label{display:block;margin-top:.8rem}input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
.button,button{display:block;width:100%;box-sizing:border-box;margin-top:.8rem;padding:.6rem;font-size:1rem;text-align:center;border:1px solid #2f4a80;border-radius:4px;background:#2f4a80;color:#fff;text-decoration:none;cursor:pointer}
.secondary{background:#fff;color:#2f4a80}.err{color:#a40000}.note{background:#f2f4f8;padding:.6rem;border-radius:4px}
hr{margin:1.5rem 0;border:0;border-top:1px solid #dde}table{width:100%;border-collapse:collapse}td{padding:.3rem 0}
td form button{margin:0;padding:.2rem .6rem;width:auto}footer{margin-top:2rem;font-size:.85rem;color:#667}</style>
</head><body>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .Notice}}<p class="note">{{.Notice}}</p>{{end}}
<p id="status" class="err" role="alert" hidden></p>
{{end}}

{{define "foot"}}
{{if .SignedIn}}<hr><form method="post" action="/auth/sign_out"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit" class="secondary">Sign out</button></form>{{end}}
<footer>Portier</footer>
<script nonce="{{.Nonce}}">` + signInScript + `</script>
</body></html>{{end}}

{{define "sign_in"}}{{template "head" .}}
{{range .Providers}}<a class="button" href="/auth/oidc/{{.ID}}/start?rd={{$.RD}}">Sign in with {{.Name}}</a>
{{end}}
{{if .Local}}{{if .Providers}}<hr>{{end}}
<form method="post" action="/auth/password">
<input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="rd" value="{{.RD}}">
<label>Email <input type="email" name="email" value="{{.Email}}" required autocomplete="username webauthn"></label>
<label>Password <input type="password" name="password" required autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
{{if .WebAuthn}}<button type="button" class="secondary" data-webauthn="login" data-rd="{{.RD}}">Sign in with a passkey</button>{{end}}
{{end}}
{{if not (or .Providers .Local)}}<p>No way to sign in is configured yet. Ask your administrator.</p>{{end}}
{{template "foot" .}}{{end}}

{{define "mfa"}}{{template "head" .}}
<p>Your password is right. Now confirm with your security key or passkey.</p>
<button type="button" data-webauthn="login" data-pending="{{.Pending}}" autofocus>Use my security key</button>
<p><a href="/auth/sign_in?rd={{.RD}}">Start again</a></p>
{{template "foot" .}}{{end}}

{{define "step_up"}}{{template "head" .}}
{{if .HasKeys}}<p>The page you opened needs a recent check with your security key.</p>
<button type="button" data-webauthn="step_up" data-rd="{{.RD}}" autofocus>Use my security key</button>
{{else}}<p>The page you opened needs a check with a security key, and you have none yet.</p>
<a class="button" href="/auth/security_keys?rd={{.StepUpURL}}">Register a security key</a>{{end}}
{{template "foot" .}}{{end}}

{{define "device"}}{{template "head" .}}
{{if .HasKeys}}<p>The page you opened is available on your enrolled work device. Confirm that this browser is on it.</p>
<button type="button" data-webauthn="device" data-rd="{{.RD}}" autofocus>Confirm this device</button>
{{else}}<p>No device of yours is enrolled for browser access. Enroll this device with your IT department's instructions first.</p>{{end}}
{{template "foot" .}}{{end}}

{{define "keys"}}{{template "head" .}}
<p>Signed in as <strong>{{.Email}}</strong>.</p>
{{if .Keys}}<table>{{range .Keys}}<tr><td>{{.Name}}<br><small>added {{.CreatedAt.Format "2006-01-02"}}{{if not .LastUsed.IsZero}}, last used {{.LastUsed.Format "2006-01-02"}}{{end}}{{if .BackupEligible}}, synced passkey{{end}}</small></td>
<td><form method="post" action="/auth/security_keys"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="action" value="delete"><input type="hidden" name="id" value="{{.ID}}"><button type="submit" class="secondary">Remove</button></form></td></tr>{{end}}</table>
{{else}}<p>You have no security keys yet.</p>{{end}}
{{if .WebAuthn}}{{if .Fresh}}
<label>Name of the new key <input id="key-name" maxlength="60" placeholder="e.g. YubiKey, laptop"></label>
<button type="button" data-webauthn="register">Add a security key or passkey</button>
{{else}}<p class="note">To add or remove a key, first {{if .Keys}}<a href="/auth/step_up?rd={{.SelfURL}}">confirm with one of your keys</a>{{else}}sign out and sign in again{{end}}.</p>{{end}}{{end}}
{{if or .Links .LinkProviders}}<hr><h2>Sign-in providers</h2>
{{if .Links}}<p>You can also sign in with:</p><table>{{range .Links}}<tr><td>{{.ProviderName}}{{if .Email}} ({{.Email}}){{end}}<br><small>linked {{.CreatedAt}}</small></td>
{{if $.Fresh}}<td><form method="post" action="/auth/security_keys"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="action" value="unlink"><input type="hidden" name="id" value="{{.ID}}"><button type="submit" class="secondary">Remove</button></form></td>{{end}}</tr>{{end}}</table>{{end}}
{{if .LinkProviders}}{{if .Fresh}}{{range .LinkProviders}}<form method="post" action="/auth/link/{{.ID}}"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit" class="secondary">Link my {{.Name}} account</button></form>
{{end}}<p><small>You sign in there with the account that has your address {{.Email}}; from then on it signs you in here.</small></p>
{{else}}<p class="note">To link a sign-in provider, first {{if .Keys}}<a href="/auth/step_up?rd={{.SelfURL}}">confirm with one of your keys</a>{{else}}sign out and sign in again{{end}}.</p>{{end}}{{end}}{{end}}
{{if .DevicesLink}}<p><a href="/my/devices">Your devices, and what your organization can see on them</a></p>{{end}}
{{if .Continue}}<p><a class="button secondary" href="{{.Continue}}">Continue</a></p>{{end}}
{{template "foot" .}}{{end}}

{{define "message"}}{{template "head" .}}
{{if .Link}}<p><a class="button" href="{{.Link}}">{{.LinkText}}</a></p>{{end}}
{{template "foot" .}}{{end}}

{{define "continue"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing you in · Portier</title>
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url={{.Continue}}">
</head><body><p>Signing you in… <a href="{{.Continue}}">Continue</a></p></body></html>{{end}}
`))

// pageData is what the sign-in pages show.
type pageData struct {
	Title, Nonce, CSRF, RD       string
	Error, Notice, Email         string
	Providers                    []identity.ProviderInfo
	Local, WebAuthn, SignedIn    bool
	Pending                      string
	HasKeys, Fresh               bool
	Keys                         []*store.Credential
	StepUpURL, SelfURL, Continue string
	Link, LinkText               string
	DevicesLink                  bool                    // the signed-in home links to the user's devices page
	Links                        []identity.LinkInfo     // identity-provider accounts linked to the user
	LinkProviders                []identity.ProviderInfo // providers the user can still link
}

// pageHeaders starts an HTML page of the console: the given CSP, never
// cached, no referrer, not sniffed, never framed.
func pageHeaders(g *gin.Context, status int, csp string) {
	h := g.Writer.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Type", "text/html; charset=utf-8")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(int(store.RetryAfter/time.Second)))
	}
	g.Status(status)
}

// renderPage writes a sign-in page with a strict CSP: nothing loads from
// anywhere, only this response's inline script and style run, forms post
// only here, and no one may frame it.
func (c *Console) renderPage(g *gin.Context, status int, name string, d pageData) {
	d.Nonce = newNonce()
	pageHeaders(g, status, "default-src 'none'; script-src 'nonce-"+d.Nonce+"'; style-src 'nonce-"+d.Nonce+
		"'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if err := signInPages.ExecuteTemplate(g.Writer, name, d); err != nil {
		c.opts.Log.Error("console: render page", "page", name, "err", err)
	}
}

// renderError shows err as a page: its client-safe message, never internal
// text, with a way back to signing in.
func (c *Console) renderError(g *gin.Context, title string, err error) {
	status := apperr.Status(err)
	if status >= 500 {
		c.opts.Log.Error("console: sign-in failed", "path", g.Request.URL.Path, "err", err)
	} else {
		c.opts.Log.Info("console: sign-in refused", "path", g.Request.URL.Path, "err", err)
	}
	c.renderPage(g, status, "message", pageData{Title: title, Error: apperr.ToBody(err).Error.Message,
		Link: "/auth/sign_in", LinkText: "Sign in again"})
}

// goTo sends the browser on after a POST: directly on the console; through
// a small page for another host, since a form's CSP (form-action 'self')
// also governs redirects after the form is sent.
func (c *Console) goTo(g *gin.Context, dest string) {
	if strings.HasPrefix(dest, c.opts.Identity.Origin()+"/") {
		g.Header("Cache-Control", "no-store")
		g.Redirect(http.StatusSeeOther, dest)
		return
	}
	c.renderPage(g, http.StatusOK, "continue", pageData{Continue: dest})
}

func newNonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}
