package console

import (
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// myDeviceView is one device on /my/devices, with its privacy notice:
// exactly what the organization collects from it, what it does not, where
// location stands, how long data is kept and what IT can do to it (the
// same text `portier agent privacy` prints).
type myDeviceView struct {
	Name, Platform, Ownership, State, Trust, Failing, LastSeen, Notice string
	WorkProfile, Compliant                                             bool
	RemoveID                                                           string // set when the person may remove it (mydevices_remove.go)
	LostID                                                             string // set when the person may report it lost (mydevices_lost.go)
	// Viewers is who in IT viewed the device's data, newest first
	// (mydata.go).
	Viewers []myViewer
	// Checks are the failing compliance checks in words, each with its
	// fix; NextStep and NextDue what happens, and when, if they stay
	// failing (mydevices_checks.go).
	Checks   []myCheck
	NextStep string
	NextDue  string
	// ReducedStep and ReducedAt are the first step that takes access
	// away, when it is not the next one.
	ReducedStep, ReducedAt string
	// Blocked explains a quarantined, retired or wiped device.
	Blocked string
}

type myDevicesData struct {
	Devices []myDeviceView
}

// myDevicesPage is GET /my/devices: the devices enrolled for the signed-in
// user (and the one their browser session is bound to), each with its
// privacy notice, in French when the browser prefers it.
func (c *Console) myDevicesPage(g *gin.Context) {
	pu, _ := c.pageUser(g)
	lang := ui.Pick(g.GetHeader("Accept-Language"))
	p := &ui.Page{TitleKey: "title.devices"}
	var d myDevicesData
	for _, dev := range c.devicesOf(pu.Session) {
		v := myDeviceView{Name: dev.Name, Platform: dev.Platform, Ownership: string(dev.Ownership), State: string(dev.State),
			Trust: dev.Trust.String(), Failing: strings.Join(dev.FailingChecks, ", "), WorkProfile: dev.WorkProfile,
			Compliant: dev.Compliant}
		if v.Name == "" {
			v.Name = dev.ID
		}
		if !dev.LastSeen.IsZero() {
			v.LastSeen = dev.LastSeen.UTC().Format("2006-01-02 15:04 UTC")
		}
		if dev.State != store.DeviceRetired && dev.State != store.DeviceWiped {
			v.LostID = dev.ID
		}
		viewers, err := c.viewersOf(g.Request.Context(), dev.ID, myViewers)
		if err != nil {
			c.failPage(g, err)
			return
		}
		v.Viewers = viewers
		c.explainForOwner(g, dev, &v)
		if c.ownRemovableDevice(pu.Session, dev.ID) != nil {
			v.RemoveID = dev.ID
		}
		if enrollment.IsBrowserDevice(dev) {
			v.Notice = c.t(g, "devices.browser_notice")
		} else if n, err := c.opts.Enrollment.PrivacyIn(dev.ID, lang); err == nil {
			v.Notice = posture.NoticeText(n)
		} else {
			p.Error = c.t(g, "devices.unavailable")
		}
		d.Devices = append(d.Devices, v)
	}
	p.Data = d
	c.render(g, http.StatusOK, "devices", p)
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
