package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// whatIfForm is the what-if page's form: a route URL and the facts of a
// request.
type whatIfForm struct {
	Route string
	proxy.Query
}

type whatIfView struct {
	Form   whatIfForm
	Result *proxy.Simulation
	// ErrField and ErrMsg name the field at fault.
	ErrField, ErrMsg string
	// Trusts, Ownerships are the select's choices.
	Trusts, Ownerships []string
	// Person is the real person the form started from (?user=), and
	// Devices their devices, each a link that pre-fills its facts.
	Person  string
	Devices []whatIfDevice
}

// whatIfDevice is one of the person's devices, as the picker lists it.
type whatIfDevice struct {
	ID, Name, Platform, Trust, Ownership string
	Picked                               bool
}

// whatIfPage is GET /whatif: the what-if form, pre-filled from a real
// person (?user=email: their groups) and one of their devices (?device=id:
// its current trust, ownership, platform and checks).
func (c *Console) whatIfPage(g *gin.Context) {
	if c.opts.Simulate == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "The what-if is not served on this server."))
		return
	}
	f := whatIfForm{Route: g.Query("route")}
	if email := g.Query("user"); email != "" {
		u, ok := c.opts.Store.UserByEmail(email)
		if !ok {
			c.failPage(g, apperr.New(apperr.NotFound, "There is no person %q.", email))
			return
		}
		f.Email, f.Groups = u.Email, strings.Join(u.Groups, ",")
	}
	v := &whatIfView{Form: f, Person: f.Email}
	if id := g.Query("device"); id != "" {
		dev, ok := c.opts.Store.Device(id)
		if !ok || f.Email != "" && !strings.EqualFold(dev.OwnerEmail, f.Email) {
			c.failPage(g, apperr.New(apperr.NotFound, "There is no device %q of this person.", id))
			return
		}
		v.Form.Query = withDevice(v.Form.Query, dev)
		if v.Form.Email == "" {
			v.Form.Email = dev.OwnerEmail
		}
	}
	if v.Person != "" {
		for _, d := range c.opts.Store.DevicesOwnedBy(v.Person) {
			v.Devices = append(v.Devices, whatIfDevice{ID: d.ID, Name: d.Name, Platform: d.Platform,
				Trust: d.Trust.String(), Ownership: string(d.Ownership), Picked: d.ID == g.Query("device")})
		}
	}
	c.renderWhatIf(g, http.StatusOK, v)
}

// whatIfSubmit is POST /whatif: the decision for the form's request,
// through Options.Simulate as POST /api/v1/policy/simulate answers it.
func (c *Console) whatIfSubmit(g *gin.Context) {
	f := whatIfForm{Route: g.PostForm("route"), Query: proxy.Query{Email: g.PostForm("email"), Groups: g.PostForm("groups"),
		IdP: g.PostForm("idp"), MFAAge: g.PostForm("mfa_age"), DeviceTrust: g.PostForm("device_trust"), Ownership: g.PostForm("ownership"),
		Platform: g.PostForm("platform"), Compliant: g.PostForm("compliant") != "", Checks: g.PostForm("checks"),
		IP: g.PostForm("ip"), Country: g.PostForm("country"), At: g.PostForm("at"), Method: g.PostForm("method"),
		KeyProtection: g.PostForm("key_protection")}}
	v := &whatIfView{Form: f}
	if c.opts.Simulate == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "The what-if is not served on this server."))
		return
	}
	if f.Route == "" {
		v.ErrField, v.ErrMsg = "route", "route is required: the URL to test, e.g. https://wiki.example.com/page"
		c.renderWhatIf(g, http.StatusUnprocessableEntity, v)
		return
	}
	res, err := c.opts.Simulate(f.Route, f.Query)
	var fe *proxy.FieldError
	switch {
	case errors.As(err, &fe):
		v.ErrField, v.ErrMsg = fe.Field, fe.Msg
		c.renderWhatIf(g, http.StatusUnprocessableEntity, v)
		return
	case err != nil:
		v.ErrField, v.ErrMsg = "route", err.Error()
		c.renderWhatIf(g, http.StatusUnprocessableEntity, v)
		return
	}
	v.Result = res
	c.renderWhatIf(g, http.StatusOK, v)
}

func (c *Console) renderWhatIf(g *gin.Context, status int, v *whatIfView) {
	v.Trusts = []string{"", store.TrustUntrusted.String(), store.TrustLow.String(), store.TrustMedium.String(), store.TrustHigh.String()}
	v.Ownerships = []string{"", string(store.OwnershipCorporate), string(store.OwnershipCOPE), string(store.OwnershipBYOD), string(store.OwnershipUnmanaged)}
	c.render(g, status, "whatif", &ui.Page{TitleKey: "title.whatif", Data: v})
}

// withDevice is q with a device's current facts, as the proxy sees them.
func withDevice(q proxy.Query, dev *store.Device) proxy.Query {
	q.DeviceTrust, q.Ownership, q.Platform = dev.Trust.String(), string(dev.Ownership), dev.Platform
	q.Compliant, q.Checks, q.KeyProtection = dev.Compliant, strings.Join(dev.PassingChecks, ","), dev.KeyProtection
	return q
}
