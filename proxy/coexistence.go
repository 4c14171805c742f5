package proxy

import (
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/portier/portier/console/ui"
)

// ackCookie records that the browser saw the coexistence interstitial and
// chose to continue. A __Host- cookie: set by this route host only, over
// HTTPS, for the whole host, never by a sibling domain.
const ackCookie = "__Host-portier_coexistence"

// ackTTL is how long an acknowledgment keeps the interstitial away.
const ackTTL = 24 * time.Hour

// continueField is the interstitial form's field holding the page to go
// back to.
const continueField = "return"

// isNavigation reports whether r is a browser opening a page (not a
// script's fetch or an image): only those may be interrupted by a page.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// interstitialText is the interstitial's wording in one language.
type interstitialText struct {
	Lang, Title, Lead, After, How, Enroll, Continue string
}

var interstitialTexts = map[string]interstitialText{
	"en": {Lang: "en", Title: "Enroll this device before %s",
		Lead:     "You are using a device that is not enrolled with Portier. You can still continue to this application until %s.",
		After:    "From %s, this application will only be reachable from an enrolled device.",
		How:      "Enroll this device now: it takes a few minutes, and your IT team's guide explains each step.",
		Enroll:   "Enroll a device",
		Continue: "Continue to the application"},
	"fr": {Lang: "fr", Title: "Enrôlez cet appareil avant le %s",
		Lead:     "Vous utilisez un appareil qui n'est pas enrôlé dans Portier. Vous pouvez encore continuer vers cette application jusqu'au %s.",
		After:    "À partir du %s, cette application ne sera accessible que depuis un appareil enrôlé.",
		How:      "Enrôlez cet appareil dès maintenant : cela prend quelques minutes, et le guide de votre équipe informatique explique chaque étape.",
		Enroll:   "Enrôler un appareil",
		Continue: "Continuer vers l'application"},
}

// interstitialPage is what the interstitial template shows.
type interstitialPage struct {
	Lang, Title, Lead, After, How, Enroll, Continue string
	EnrollURL, Return, Action, Field                string
}

var interstitialTmpl = template.Must(template.New("interstitial").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Title}} · Portier</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2433;line-height:1.5}
h1{font-size:1.5rem}.note{background:#fff6e0;padding:.6rem;border-radius:4px}.actions{display:flex;gap:1rem;align-items:center;margin-top:1.5rem}</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Lead}}</p>
<p class="note" id="deadline">{{.After}}</p>
<p>{{.How}}</p>
<div class="actions"><a id="enroll" href="{{.EnrollURL}}">{{.Enroll}}</a>
<form method="post" action="{{.Action}}"><input type="hidden" name="{{.Field}}" value="{{.Return}}"><button id="continue" type="submit">{{.Continue}}</button></form></div>
</body></html>`))

// interstitial tells a person on an unmanaged device, before the
// coexistence deadline, the date and how to enroll, and lets them
// continue.
func (p *Proxy) interstitial(w http.ResponseWriter, r *http.Request, c *coexistence) {
	t := interstitialTexts[ui.Pick(r.Header.Get("Accept-Language"))]
	date := c.deadline.UTC().Format(time.DateOnly)
	pg := interstitialPage{Lang: t.Lang, Title: sprintf(t.Title, date), Lead: sprintf(t.Lead, date), After: sprintf(t.After, date),
		How: t.How, Enroll: t.Enroll, Continue: t.Continue, EnrollURL: p.opts.ExternalURL + "/enroll",
		Return: localPath(r.URL.RequestURI()), Action: continuePath, Field: continueField}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Language", t.Lang)
	h.Add("Vary", "Accept-Language")
	w.WriteHeader(http.StatusOK)
	_ = interstitialTmpl.Execute(w, pg)
}

// sprintf puts the date in a wording with one %s.
func sprintf(format, date string) string { return strings.Replace(format, "%s", date, 1) }

// acknowledge is the interstitial's "Continue": a same-origin POST sets
// the acknowledgment cookie for ackTTL and goes back to the page, on
// this host only.
func (p *Proxy) acknowledge(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "405 continue with POST", http.StatusMethodNotAllowed)
		return
	}
	if !sameOriginPost(r, p.opts.ExternalURL) {
		p.renderPage(w, http.StatusForbidden, page{Title: "Request refused",
			Lead: "This request did not come from this application's own pages, so Portier ignored it. Open the application again."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "413 request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "400 "+continueField+": the form could not be read", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ackCookie, Value: "1", Path: "/", MaxAge: int(ackTTL / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, localPath(r.PostFormValue(continueField)), http.StatusSeeOther)
}
