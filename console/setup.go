package console

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

var setupPage = template.Must(template.New("setup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portier set-up</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1d2433}
label{display:block;margin-top:1rem}input{width:100%;padding:.5rem;font-size:1rem}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}.err{color:#a40000}code{word-break:break-all;background:#f2f4f8;padding:.2rem}</style>
</head><body>
<h1>Portier set-up</h1>
{{if .Done}}{{if .Token}}
<p>The owner account <strong>{{.Email}}</strong> is ready.</p>
<p>Your owner API token (shown once; store it in a password manager):</p>
<p><code id="token">{{.Token}}</code></p>
<p>Use it as <code>Authorization: Bearer …</code> on <code>/api/v1/</code>.</p>{{else}}
<p>Your account <strong>{{.Email}}</strong> is ready. <a href="/auth/sign_in">Sign in</a>, then register a security key or passkey: your role works only with one.</p>{{end}}
{{else if .Invalid}}
<p class="err">{{.Invalid}}</p>
{{else}}
<p>Create the first owner account for this Portier.</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/setup">
<input type="hidden" name="token" value="{{.Secret}}">
<label>Email <input type="email" name="email" value="{{.Email}}" required autocomplete="username"></label>
<label>Password (at least 12 characters) <input type="password" name="password" required minlength="12" autocomplete="new-password"></label>
<button type="submit">Create owner</button>
</form>
{{end}}
</body></html>`))

type setupView struct {
	Secret, Email, Error, Invalid, Token string
	Done                                 bool
}

// setupInvite finds the unused, unexpired invite for a set-up secret.
func (c *Console) setupInvite(secret string) (*store.Invite, string) {
	inv, ok := c.opts.Store.Invite(identity.HashSecret(secret))
	switch {
	case secret == "" || !ok:
		return nil, "This set-up link is not valid. Use the link printed in the server log."
	case c.opts.Store.Claimed("invite/" + inv.ID):
		return nil, "This set-up link was already used."
	case !c.now().Before(inv.ExpiresAt):
		return nil, "This set-up link has expired. Restart Portier to print a new one."
	}
	return inv, ""
}

func renderSetup(g *gin.Context, status int, v setupView) {
	g.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	g.Header("Cache-Control", "no-store")
	g.Header("Referrer-Policy", "no-referrer")
	g.Header("Content-Type", "text/html; charset=utf-8")
	g.Status(status)
	_ = setupPage.Execute(g.Writer, v)
}

func (c *Console) setupForm(g *gin.Context) {
	secret := g.Query("token")
	if _, msg := c.setupInvite(secret); msg != "" {
		renderSetup(g, http.StatusNotFound, setupView{Invalid: msg})
		return
	}
	renderSetup(g, http.StatusOK, setupView{Secret: secret})
}

func (c *Console) setupSubmit(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, 64<<10)
	secret := g.PostForm("token")
	inv, msg := c.setupInvite(secret)
	if msg != "" {
		renderSetup(g, http.StatusNotFound, setupView{Invalid: msg})
		return
	}
	email, err := mailaddr.Normalize(g.PostForm("email"))
	retry := setupView{Secret: secret, Email: strings.TrimSpace(g.PostForm("email"))}
	if err != nil {
		retry.Error = "Enter a valid email address (plain ASCII letters, digits and punctuation, one @)."
		renderSetup(g, http.StatusBadRequest, retry)
		return
	}
	hash, err := identity.HashPassword(g.PostForm("password"))
	if err != nil {
		retry.Error = "The password must have at least 12 characters."
		renderSetup(g, http.StatusBadRequest, retry)
		return
	}
	if inv.Email != "" {
		c.setupInvited(g, inv, email, hash, retry)
		return
	}
	now := c.now()
	user := &store.User{ID: "usr_" + randomID(8), Email: email, Role: inv.Role, PasswordHash: hash, CreatedAt: now}
	tokSecret := NewSecret()
	tok := &store.Token{ID: "tok_" + randomID(8), Name: "owner token for " + email, Role: inv.Role,
		SecretHash: identity.HashSecret(tokSecret), CreatedBy: "user:" + email, CreatedAt: now,
		OwnerID: user.ID, OwnerEmail: email, ExpiresAt: now.Add(DefaultTokenTTL)}
	g.Set(principalKey, &principal{Actor: "user:" + email, Role: inv.Role})
	err = c.opts.Store.Write(g.Request.Context(),
		store.Create(&store.Claim{ID: "invite/" + inv.ID, At: now, By: email}),
		store.Put(user), store.Create(tok),
		c.audit(g, "setup.owner_created", user.ID, map[string]string{"email": email, "role": inv.Role}))
	if errors.Is(err, store.ErrExists) {
		renderSetup(g, http.StatusConflict, setupView{Invalid: "This set-up link was already used."})
		return
	}
	if err != nil {
		c.opts.Log.Error("setup: cannot create owner", "err", err)
		renderSetup(g, http.StatusServiceUnavailable, setupView{Invalid: "Portier could not save the account; see the server log."})
		return
	}
	c.opts.Log.Info("setup: owner account created", "email", email)
	renderSetup(g, http.StatusOK, setupView{Done: true, Email: email, Token: tokSecret})
}
