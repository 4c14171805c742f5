package proxy

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
)

// page is what the deny, error and hand-off pages show. It never carries
// internal error text.
type page struct {
	Title   string
	Lead    string
	Reasons []policy.Reason
	Device  string // a note on the device credential, if one was refused
	// Restricted names the restrictions in force on this device and the
	// rule that set them, when a restriction refused the request.
	Restricted string
	Rules      []string
	Console    string
	// SignInAgain, when set, is the path on this host the deny page's "Sign
	// in again" button returns to after ending the session.
	SignInAgain string
}

// signInAgainField is the sign-out form field holding the path to return
// to after "Sign in again".
const signInAgainField = "return"

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Portier</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2433;line-height:1.5}
h1{font-size:1.5rem}li{margin:.6rem 0}.fix{color:#3b4a66}.note{background:#fff6e0;padding:.6rem;border-radius:4px}
footer{margin-top:2rem;font-size:.85rem;color:#667}</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Lead}}</p>
{{if .Device}}<p class="note">{{.Device}}</p>{{end}}
{{if .Restricted}}<p class="note" id="restricted">{{.Restricted}}</p>{{end}}
{{if .Reasons}}<ul>{{range .Reasons}}<li><strong>{{.Message}}</strong>{{if .Remediation}}<br><span class="fix">What to do: {{.Remediation}}</span>{{end}}</li>{{end}}</ul>{{end}}
{{if .SignInAgain}}<form method="post" action="/.portier/sign_out"><input type="hidden" name="return" value="{{.SignInAgain}}"><button type="submit">Sign in again</button></form>{{end}}
<footer>{{if .Rules}}Rules: {{range $i, $r := .Rules}}{{if $i}}, {{end}}{{$r}}{{end}}. {{end}}{{if .Console}}<a href="{{.Console}}/">Portier portal</a>{{end}}</footer>
</body></html>`))

func (p *Proxy) renderPage(w http.ResponseWriter, status int, pg page) {
	pg.Console = p.opts.ExternalURL
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, pg)
}

// deny explains a denial: what was missing and what to do.
func (p *Proxy) deny(w http.ResponseWriter, r *http.Request, req *request, dec policy.Decision, status int) {
	if req.device == nil && req.devNote == "" && needsDevice(dec) {
		req.devNote = noteUnmanaged
	}
	if !wantsHTML(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		msg := "403 access denied"
		for _, rs := range dec.Reasons {
			msg += "\n- " + rs.Message
		}
		if req.devNote != "" {
			msg += "\n- " + req.devNote
		}
		if dec.Restrictions != 0 {
			msg += "\n- " + restrictedNote(dec)
		}
		_, _ = w.Write([]byte(msg + "\n"))
		return
	}
	pg := page{Title: "Access denied",
		Lead:    "Portier did not let this request through to the application, for these reasons:",
		Reasons: dec.Reasons, Device: req.devNote, Rules: dec.Rules}
	if dec.Restrictions != 0 {
		pg.Restricted = restrictedNote(dec)
	}
	if signInTooOld(dec) {
		pg.SignInAgain = "/"
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			pg.SignInAgain = localPath(r.URL.RequestURI())
		}
	}
	p.renderPage(w, status, pg)
}

// signInTooOld reports whether a denial is about a sign-in older than a
// rule's session_max_age, which signing in again fixes.
func signInTooOld(dec policy.Decision) bool {
	for _, r := range dec.Reasons {
		if r.Code == policy.CodeSessionMaxAge {
			return true
		}
	}
	return false
}

// unavailable is the fail-closed answer when state needed for a decision is
// missing.
func (p *Proxy) unavailable(w http.ResponseWriter, r *http.Request, what string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(store.RetryAfter/time.Second)))
	p.renderPage(w, http.StatusServiceUnavailable, page{Title: "Temporarily unavailable",
		Lead: what + " Access is refused until it is back; try again in a minute."})
}

// needsDevice reports whether a denial is about the device.
func needsDevice(dec policy.Decision) bool {
	for _, r := range dec.Reasons {
		if strings.HasPrefix(r.Code, "device.") {
			return true
		}
	}
	return false
}

// badPath refuses a path that Portier and the application could read
// differently (see normalizeEscaped).
func (p *Proxy) badPath(w http.ResponseWriter, host string) {
	p.opts.Log.Info("proxy: ambiguous path refused", "host", host)
	p.renderPage(w, http.StatusBadRequest, page{Title: "Address not accepted",
		Lead: "This address is written in a way that Portier does not forward (an encoded slash, a backslash, a ';', " +
			"a control character, a double encoding, an encoded dot segment, or '..' above the root). " +
			"Open the link as the application wrote it, or tell IT where you found it."})
}
