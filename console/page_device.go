package console

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// Bounds of what the device page shows.
const (
	deviceTimelineSize  = 100
	deviceDecisionsSize = 10
	deviceDecisionsAge  = 30 * 24 * time.Hour
)

// devicePageView is the device page: the device, its certificates, its
// posture and compliance, its history, its recent access and the actions
// the person's role may take.
type devicePageView struct {
	Device        *store.Device
	KeyProtection string
	Certs         []deviceCertView
	// Eval is the compliance evaluation now (nil when the server has no
	// posture engine).
	Eval      *posture.Evaluation
	PostureAt time.Time
	Signals   []collect.Signal
	External  []externalView
	Timeline  []timelineEntry
	Decisions []*store.DecisionRecord
	// DecisionsLink opens the decision explorer on this device.
	DecisionsLink string
	Actions       []*store.Action
	// Offered are the action buttons of the person's role; Message,
	// Release and Retire say whether their own forms are shown.
	Offered                  []string
	Message, Release, Retire bool
	// FullWipeRefused says why no full wipe is offered to a role that may
	// wipe (a BYOD device, wipes disabled on the server).
	FullWipeRefused string
	// Confirm is the destructive action waiting for its confirmation
	// ("" when none), with the reason typed.
	Confirm, Reason string
	// StepUp is where to confirm with a security key when the last check
	// is too old for an action.
	StepUp string
	// Idem is the form's idempotency key: a double submit queues one action.
	Idem string
	// Awaiting are the wipes and retires of the device waiting for a
	// second person's approval.
	Awaiting []*store.Approval
}

// deviceCertView is one certificate issued to the device.
type deviceCertView struct {
	Serial              string
	NotBefore, NotAfter time.Time
	Revoked, Expired    bool
	Current             bool
	// Purpose (agent or browser), Person (a browser certificate's local
	// account), and where the key lives with who says so.
	Purpose, Person                    string
	KeyProtection, KeyProtectionSource string
}

// externalView is what an external source (MDM, EDR) last said.
type externalView struct {
	Source, Report string
}

// timelineEntry is one line of the device's history: a lifecycle event or
// an audit entry about the device.
type timelineEntry struct {
	At     time.Time
	What   string
	Who    string
	Detail string
	Audit  bool
}

// confirmed are the actions the page asks to confirm before anything is
// queued: they destroy data or take the device out of management.
var confirmed = map[string]bool{enrollment.ActionWipe: true, enrollment.ActionSelectiveWipe: true,
	enrollment.ActionRevoke: true, "retire": true}

// pageActions are the actions of the device page's buttons.
var pageActions = map[string]bool{enrollment.ActionLock: true, enrollment.ActionMessage: true, enrollment.ActionQuarantine: true,
	enrollment.ActionSelectiveWipe: true, enrollment.ActionWipe: true, enrollment.ActionRevoke: true, "release": true, "retire": true}

// deviceDetailPage is GET /devices/:id: one device in full. Showing it is a view
// of the device's personal data (posture signals), audited as the API's
// GET /api/v1/devices/{id} is.
func (c *Console) deviceDetailPage(g *gin.Context) {
	notice := ""
	if done := g.Query("done"); pageActions[done] {
		notice = c.t(g, "device.done", c.t(g, "device.action."+done))
	}
	if asked := g.Query("requested"); asked == enrollment.ActionWipe || asked == ActionRetire {
		notice = c.t(g, "device.awaiting_approval", c.t(g, "device.action."+asked))
	}
	c.renderDevice(g, http.StatusOK, &devicePageView{}, "", notice)
}

// viewDevice loads a device in full and audits the view (device.view)
// before anything is shown: the one code path of the API's
// GET /api/v1/devices/{id} and the device page.
func (c *Console) viewDevice(g *gin.Context) (*enrollment.DeviceDetail, error) {
	v, err := c.opts.Enrollment.Device(g.Param("id"))
	if err != nil {
		return nil, err
	}
	if err := c.opts.Store.Write(g.Request.Context(), c.audit(g, "device.view", v.ID, nil)); err != nil {
		return nil, err
	}
	return v, nil
}

// renderDevice completes v with the device and renders the device page.
func (c *Console) renderDevice(g *gin.Context, status int, v *devicePageView, errMsg, notice string) {
	d, err := c.viewDevice(g)
	if err != nil {
		c.failPage(g, err)
		return
	}
	v.Device, v.KeyProtection, v.Actions = d.Device, keyProtection(d.Device), d.Actions
	if err := c.deviceCerts(v); err != nil {
		c.failPage(g, err)
		return
	}
	if ev, err := c.opts.Enrollment.Explain(d.ID); err == nil {
		v.Eval = &ev
	}
	if d.Posture != nil {
		v.PostureAt = d.Posture.ReportedAt
		v.Signals, _ = posture.DecodeSignals(d.Posture.Signals)
		for src, raw := range d.Posture.External {
			v.External = append(v.External, externalView{Source: src, Report: string(raw)})
		}
		sort.Slice(v.External, func(i, j int) bool { return v.External[i].Source < v.External[j].Source })
	}
	if v.Timeline, err = c.deviceTimeline(g, d); err != nil {
		c.failPage(g, err)
		return
	}
	v.DecisionsLink = "/decisions?" + url.Values{"device": {d.ID}}.Encode()
	if dl, err := c.opts.Store.Decisions(); err == nil {
		if v.Decisions, err = dl.QueryDecisions(g.Request.Context(), store.DecisionQuery{Device: d.ID, Since: c.now().Add(-deviceDecisionsAge), Limit: deviceDecisionsSize}); err != nil {
			c.failPage(g, err)
			return
		}
	}
	c.offerActions(g, v)
	v.Awaiting = c.awaitingApproval(d.ID)
	c.render(g, status, "device_detail", &ui.Page{TitleKey: "title.device_detail", Error: errMsg, Notice: notice, Data: v})
}

// deviceCerts lists the device's certificates, the one it uses now first.
func (c *Console) deviceCerts(v *devicePageView) error {
	certs, err := c.opts.Enrollment.Certificates(v.Device.ID)
	if err != nil {
		return err
	}
	now := c.now()
	for _, crt := range certs {
		cv := enrollment.ViewCertificate(crt, c.opts.Enrollment.Revoked(crt.ID))
		v.Certs = append(v.Certs, deviceCertView{Serial: crt.ID, NotBefore: crt.NotBefore, NotAfter: crt.NotAfter,
			Revoked: cv.Revoked, Expired: !now.Before(crt.NotAfter), Current: crt.ID == v.Device.CertSerial,
			Purpose: cv.Purpose, Person: cv.Person, KeyProtection: cv.KeyProtection, KeyProtectionSource: cv.KeyProtectionSource})
	}
	sort.SliceStable(v.Certs, func(i, j int) bool { return v.Certs[i].Current && !v.Certs[j].Current })
	return nil
}

// deviceTimeline merges the device's history with the audit entries about
// it, newest first.
func (c *Console) deviceTimeline(g *gin.Context, d *enrollment.DeviceDetail) ([]timelineEntry, error) {
	var out []timelineEntry
	for _, ev := range d.History {
		out = append(out, timelineEntry{At: ev.At, What: ev.Type, Detail: details(ev.Detail)})
	}
	evs, err := c.opts.Store.QueryAudit(g.Request.Context(), store.AuditQuery{Target: d.ID, Limit: deviceTimelineSize})
	if err != nil && !errors.Is(err, store.ErrNoAuditLog) {
		return nil, err
	}
	for _, ev := range evs {
		out = append(out, timelineEntry{At: ev.At, What: ev.Action, Who: ev.Actor, Detail: details(ev.Detail), Audit: true})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	if len(out) > deviceTimelineSize {
		out = out[:deviceTimelineSize]
	}
	return out, nil
}

// details is a history entry's detail as "key=value" pairs, by key.
func details(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// offerActions sets the buttons the person's role may use on this device:
// the server refuses the others regardless (deviceAction, requirePage).
func (c *Console) offerActions(g *gin.Context, v *devicePageView) {
	d, role := v.Device, who(g).Role
	if d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		return
	}
	if v.Idem == "" {
		v.Idem = newFormKey()
	}
	if perms[role][PermDevicesAct] {
		v.Offered = append(v.Offered, enrollment.ActionLock, enrollment.ActionQuarantine)
		v.Message = true
		v.Release = d.State == store.DeviceQuarantined
	}
	if perms[role][PermDevicesWipe] {
		v.Offered = append(v.Offered, enrollment.ActionSelectiveWipe)
		switch {
		case d.Ownership == store.OwnershipBYOD || d.WorkProfile:
			v.FullWipeRefused = c.t(g, "device.byod_no_wipe")
		case !c.opts.Enrollment.Config().WipeEnabled:
			v.FullWipeRefused = c.t(g, "device.wipe_disabled")
		default:
			v.Offered = append(v.Offered, enrollment.ActionWipe)
		}
		v.Offered = append(v.Offered, enrollment.ActionRevoke)
		v.Retire = true
	}
}

// newFormKey is a random idempotency key for one rendering of a form:
// submitting the same form twice queues one action.
func newFormKey() string { return "page-" + randomID(16) }
