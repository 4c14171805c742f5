package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// App states on the signed-in home, as the page's CSS classes and
// catalogue keys (home.state.*) name them.
const (
	appAllowed    = "allowed"
	appRestricted = "restricted"
	appEnroll     = "enroll" // would be allowed from an enrolled, compliant device
	appStepUp     = "step-up"
	appDenied     = "denied"
)

// appView is one application on the home page.
type appView struct {
	Name, URL, State string
	// Restrictions lists the limits of a restricted app (read_only, …).
	Restrictions string
	// Reasons are why it is denied or needs enrollment, with what to do.
	Reasons []string
}

type homeView struct {
	// Device names the enrolled device this request comes from, "" when
	// unmanaged.
	Device string
	Apps   []appView
}

// homePage is GET /: the applications the person may open, each with its
// state for the device this request comes from.
func (c *Console) homePage(g *gin.Context) {
	pu, _ := c.pageUser(g)
	dev := c.requestDevice(g, pu.Session)
	v := homeView{Apps: c.appStates(g, pu.Session, dev)}
	if dev != nil {
		v.Device = dev.Name
		if v.Device == "" {
			v.Device = dev.ID
		}
	}
	c.render(g, http.StatusOK, "home", &ui.Page{TitleKey: "title.home", Data: v})
}

// requestDevice is the device a console request comes from, found as the
// proxy finds it: a valid device certificate on the TLS connection, else
// the device the session was bound to by its device-bound passkey; a
// certificate that does not verify means no device, and so does another
// person's device unless it is shared.
func (c *Console) requestDevice(g *gin.Context, s *store.Session) *store.Device {
	var d *store.Device
	if tls := g.Request.TLS; tls != nil && len(tls.PeerCertificates) > 0 {
		if c.opts.Enrollment != nil {
			d, _ = c.opts.Enrollment.Authenticate(tls.PeerCertificates)
		}
	} else if s.DeviceID != "" {
		if sd, ok := c.opts.Store.Device(s.DeviceID); ok && sd.State != store.DeviceRetired && sd.State != store.DeviceWiped {
			d = sd
		}
	}
	if d != nil && !d.Shared && (d.OwnerEmail == "" || !mailaddr.EqualFold(d.OwnerEmail, strings.TrimSpace(s.Email))) {
		return nil
	}
	return d
}

// appStates asks the what-if simulator (the live proxy's decision code)
// about every route for this person on this device. A denied route that
// an enrolled, compliant, high-trust device would open needs enrollment.
func (c *Console) appStates(g *gin.Context, s *store.Session, dev *store.Device) []appView {
	if c.opts.Routes == nil || c.opts.Simulate == nil {
		return nil
	}
	q := sessionQuery(s, dev, g.RemoteIP(), c.now())
	ideal := q
	ideal.DeviceTrust, ideal.Ownership, ideal.Compliant, ideal.KeyProtection = store.TrustHigh.String(), string(store.OwnershipCorporate), true, store.KeyHardware
	var out []appView
	for _, from := range c.opts.Routes() {
		target := from
		if u, err := url.Parse(from); err == nil && u.Path == "" {
			target += "/"
		}
		sim, err := c.opts.Simulate(target, q)
		if err != nil {
			c.opts.Log.Warn("console: home cannot evaluate a route", "route", from, "err", err)
			continue
		}
		a := appView{Name: strings.TrimPrefix(from, "https://"), URL: target}
		switch dec := sim.Decision; dec.Outcome {
		case policy.Allow:
			a.State = appAllowed
		case policy.AllowRestricted:
			a.State, a.Restrictions = appRestricted, strings.ReplaceAll(dec.Restrictions.String(), ",", ", ")
		case policy.StepUp:
			a.State = appStepUp
		default:
			a.State, a.Reasons = appDenied, reasons(dec)
			if alt, err := c.opts.Simulate(target, ideal); err == nil && alt.Decision.Outcome.Allowed() {
				a.State = appEnroll
			}
		}
		out = append(out, a)
	}
	return out
}

// sessionQuery is the what-if query of a request from this session and
// device: the live proxy's inputs (identity, MFA and sign-in time, the
// device's facts, the client address).
func sessionQuery(s *store.Session, dev *store.Device, ip string, now time.Time) proxy.Query {
	q := proxy.Query{Email: s.Email, Groups: strings.Join(s.Groups, ","), IdP: s.IdP, IP: ip, Method: http.MethodGet}
	if !s.MFAAt.IsZero() {
		q.MFAAge = max(now.Sub(s.MFAAt), 0).String()
	}
	signedIn := s.SignedInAt
	if signedIn.IsZero() {
		signedIn = s.CreatedAt
	}
	q.SessionAge = max(now.Sub(signedIn), 0).String()
	if dev != nil {
		q = withDevice(q, dev)
	}
	return q
}

// reasons are a decision's reasons as the deny page words them.
func reasons(dec policy.Decision) []string {
	var out []string
	for _, r := range dec.Reasons {
		s := r.Message
		if r.Remediation != "" {
			s += " " + r.Remediation
		}
		out = append(out, s)
	}
	return out
}
