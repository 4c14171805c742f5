package console

import (
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// myDevicesPages show a signed-in employee their enrolled devices and, for
// each, the privacy notice: exactly what the organization collects from
// it, what it does not, where location stands, how long data is kept and
// what IT can do to it (the same text `portier agent privacy` prints).
var myDevicesPages = template.Must(template.New("mydevices").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.T.Title}} · Portier</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto;padding:0 1rem;color:#1d2433;line-height:1.5}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}th{text-align:left;padding-right:1rem;font-weight:600}
pre{background:#f2f4f8;padding:.8rem;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}.err{color:#a40000}</style>
</head><body><h1>{{.T.Title}}</h1>
<p>{{.T.SignedInAs}} <strong>{{.Email}}</strong>.</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{range .Devices}}<section><h2>{{.Name}}</h2>
<table>
<tr><th>{{$.T.Platform}}</th><td>{{.Platform}}</td></tr>
<tr><th>{{$.T.Ownership}}</th><td>{{.Ownership}}{{if .WorkProfile}} ({{$.T.WorkProfile}}){{end}}</td></tr>
<tr><th>{{$.T.State}}</th><td>{{.State}}</td></tr>
<tr><th>{{$.T.Trust}}</th><td>{{.Trust}}</td></tr>
<tr><th>{{$.T.Compliance}}</th><td>{{if .Compliant}}{{$.T.Compliant}}{{else}}{{$.T.NotCompliant}}{{if .Failing}}: {{.Failing}}{{end}}{{end}}</td></tr>
<tr><th>{{$.T.LastSeen}}</th><td>{{.LastSeen}}</td></tr>
</table>
{{if .Notice}}<pre>{{.Notice}}</pre>{{end}}
{{if .RemoveID}}<form method="post" action="/my/devices/{{.RemoveID}}/remove"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">{{if eq $.Lang "fr"}}Retirer cet appareil{{else}}Remove this device{{end}}</button></form>{{end}}
</section>
{{else}}<p>{{.T.None}} <a href="/enroll">{{.T.Enroll}}</a></p>{{end}}
</body></html>`))

// myDevicesTexts are the page's words in English and French.
type myDevicesTexts struct {
	Title, SignedInAs, Platform, Ownership, WorkProfile, State, Trust, Compliance string
	Compliant, NotCompliant, LastSeen, Never, None, Enroll, Unavailable           string
	// BrowserNotice is the privacy notice of a device registered in the
	// browser (a passkey, no agent).
	BrowserNotice string
}

var myDevicesWords = map[string]myDevicesTexts{
	"en": {Title: "Your devices", SignedInAs: "Signed in as", Platform: "Platform", Ownership: "Ownership",
		WorkProfile: "work profile only", State: "State", Trust: "Trust level", Compliance: "Compliance",
		Compliant: "compliant", NotCompliant: "not compliant", LastSeen: "Last report", Never: "never",
		None: "No device is enrolled for you.", Enroll: "Enroll a device",
		Unavailable: "What your organization can see on a device cannot be shown right now; ask IT.",
		BrowserNotice: "This device was registered in the browser with a passkey that stays on it; nothing is installed on it.\n" +
			"Your organization sees only what the browser and the passkey tell: the platform (from the browser's User-Agent),\n" +
			"the passkey's authenticator model (AAGUID) and type, when it was registered and when the passkey was last used.\n" +
			"Nothing on the device is collected or managed, and IT can do nothing to it remotely; removing the device from\n" +
			"Portier only stops it from counting as your personal device."},
	"fr": {Title: "Vos appareils", SignedInAs: "Connecté en tant que", Platform: "Système", Ownership: "Propriété",
		WorkProfile: "profil professionnel uniquement", State: "État", Trust: "Niveau de confiance", Compliance: "Conformité",
		Compliant: "conforme", NotCompliant: "non conforme", LastSeen: "Dernier rapport", Never: "jamais",
		None: "Aucun appareil n'est enrôlé à votre nom.", Enroll: "Enrôler un appareil",
		Unavailable: "Ce que votre organisation voit sur un appareil ne peut pas être affiché pour le moment ; contactez le service informatique.",
		BrowserNotice: "Cet appareil a été enregistré dans le navigateur avec une clé d'accès (passkey) qui reste sur l'appareil ; rien n'y est installé.\n" +
			"Votre organisation ne voit que ce que le navigateur et la clé d'accès indiquent : le système (d'après le User-Agent du navigateur),\n" +
			"le modèle d'authentificateur de la clé (AAGUID) et son type, la date d'enregistrement et la dernière utilisation de la clé.\n" +
			"Rien n'est collecté ni géré sur l'appareil, et le service informatique ne peut rien y faire à distance ; retirer l'appareil de\n" +
			"Portier fait seulement qu'il ne compte plus comme votre appareil personnel."},
}

type myDeviceView struct {
	Name, Platform, Ownership, State, Trust, Failing, LastSeen, Notice string
	WorkProfile, Compliant                                             bool
	RemoveID                                                           string // set when the person may remove it (mydevices_remove.go)
}

type myDevicesData struct {
	Lang, Nonce, Email, Error string
	T                         myDevicesTexts
	Devices                   []myDeviceView
	CSRF                      string // for the remove forms (mydevices_remove.go)
}

// myDevicesPage is GET /my/devices: the devices enrolled for the signed-in
// user (and the one their browser session is bound to), each with its
// privacy notice, in French when the browser prefers it.
func (c *Console) myDevicesPage(g *gin.Context) {
	lang := preferredLang(g.GetHeader("Accept-Language"))
	d := myDevicesData{Lang: lang, T: myDevicesWords[lang], Nonce: newNonce()}
	if c.opts.Identity == nil {
		d.Error = "Signing in is not available on this server."
		c.renderMyDevices(g, http.StatusNotFound, d)
		return
	}
	sess, cookie, ok := c.session(g)
	if !ok {
		g.Redirect(http.StatusFound, "/auth/sign_in?"+url.Values{"rd": {"/my/devices"}}.Encode())
		return
	}
	d.Email, d.CSRF = sess.Email, identity.CSRFToken(cookie)
	for _, dev := range c.devicesOf(sess) {
		v := myDeviceView{Name: dev.Name, Platform: dev.Platform, Ownership: string(dev.Ownership), State: string(dev.State),
			Trust: dev.Trust.String(), Failing: strings.Join(dev.FailingChecks, ", "), WorkProfile: dev.WorkProfile,
			Compliant: dev.Compliant, LastSeen: d.T.Never}
		if v.Name == "" {
			v.Name = dev.ID
		}
		if !dev.LastSeen.IsZero() {
			v.LastSeen = dev.LastSeen.UTC().Format("2006-01-02 15:04 UTC")
		}
		if c.ownRemovableDevice(sess, dev.ID) != nil {
			v.RemoveID = dev.ID
		}
		if enrollment.IsBrowserDevice(dev) {
			v.Notice = d.T.BrowserNotice
		} else if n, err := c.opts.Enrollment.PrivacyIn(dev.ID, lang); err == nil {
			v.Notice = posture.NoticeText(n)
		} else {
			d.Error = d.T.Unavailable
		}
		d.Devices = append(d.Devices, v)
	}
	c.renderMyDevices(g, http.StatusOK, d)
}

// devicesOf is the devices enrolled for a session's user, by email, plus
// the device the session is bound to (browser-only BYOD), newest first.
func (c *Console) devicesOf(sess *store.Session) []*store.Device {
	seen := map[string]bool{}
	var out []*store.Device
	add := func(d *store.Device) {
		if d != nil && !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	for _, d := range c.opts.Store.DevicesOwnedBy(sess.Email) { // compared by the mailaddr rule
		add(d)
	}
	if sess.DeviceID != "" {
		d, _ := c.opts.Store.Device(sess.DeviceID)
		add(d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EnrolledAt.After(out[j].EnrolledAt) })
	return out
}

func (c *Console) renderMyDevices(g *gin.Context, status int, d myDevicesData) {
	pageHeaders(g, status, "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if err := myDevicesPages.Execute(g.Writer, d); err != nil {
		c.opts.Log.Error("console: render devices page", "err", err)
	}
}

// preferredLang is "fr" when the browser's first language is French,
// "en" otherwise.
func preferredLang(acceptLanguage string) string {
	first, _, _ := strings.Cut(acceptLanguage, ",")
	first = strings.ToLower(strings.TrimSpace(first))
	if first == "fr" || strings.HasPrefix(first, "fr-") || strings.HasPrefix(first, "fr;") {
		return "fr"
	}
	return "en"
}
