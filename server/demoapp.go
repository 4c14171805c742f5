package server

import (
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/portier/portier/assertion"
)

// demoApp is the built-in demo upstream: it shows what Portier told it about
// the request, and checks the signed assertion like a real app should.
type demoApp struct {
	issuer, audience string
	jwks             func() []byte
	clock            func() time.Time
}

var demoTmpl = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portier demo app</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1d2433}
th{text-align:left;padding-right:1rem;vertical-align:top}td{font-family:ui-monospace,monospace;word-break:break-all}
.ok{color:#176b2c}.bad{color:#a40000}</style></head><body>
<h1>Hello{{if .Email}}, {{.Email}}{{end}}</h1>
<p>This is Portier's built-in demo application. Portier let your request through and told the application who you are:</p>
<table>
<tr><th>User</th><td>{{.User}}</td></tr>
<tr><th>Email</th><td>{{.Email}}</td></tr>
<tr><th>Groups</th><td>{{.Groups}}</td></tr>
<tr><th>Device</th><td>{{if .Device}}{{.Device}}{{else}}none (unmanaged){{end}}</td></tr>
<tr><th>Device trust</th><td>{{.Trust}}</td></tr>
<tr><th>Signed assertion</th><td>{{if .Verified}}<span class="ok">verified with Portier's JWKS</span>{{else}}<span class="bad">{{.Problem}}</span>{{end}}</td></tr>
</table>
{{if .Claims}}<h2>Assertion claims</h2><pre>{{.Claims}}</pre>{{end}}
</body></html>`))

func (d *demoApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := struct {
		User, Email, Groups, Device, Trust, Problem, Claims string
		Verified                                            bool
	}{User: r.Header.Get("X-Portier-User"), Email: r.Header.Get("X-Portier-Email"), Groups: r.Header.Get("X-Portier-Groups"),
		Device: r.Header.Get("X-Portier-Device"), Trust: r.Header.Get("X-Portier-Trust")}
	var set assertion.JWKS
	if err := json.Unmarshal(d.jwks(), &set); err != nil {
		v.Problem = "cannot read the JWKS"
	} else if c, err := assertion.Verify(r.Header.Get("X-Portier-Assertion"), set, d.issuer, d.audience, d.clock()); err != nil {
		v.Problem = err.Error()
	} else {
		v.Verified = true
		b, _ := json.MarshalIndent(c, "", "  ")
		v.Claims = string(b)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = demoTmpl.Execute(w, v)
}
