package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// Bounds of the personal-data download: the newest records of each
// kind, so that a person with years of history still gets a file.
const (
	myDataDecisions = 10_000
	myDataAudit     = 5_000
	myDataWindow    = 365 * 24 * time.Hour
	// myViewers is how many "who viewed this device" entries /my/devices
	// lists per device.
	myViewers = 20
)

// myData is everything Portier holds about one person, as GET /my/data
// downloads it (the GDPR right of access). Secrets are left out: password
// hash, session and token secrets, sealed IdP tokens, key material.
type myData struct {
	GeneratedAt time.Time               `json:"generated_at"`
	Person      myPerson                `json:"person"`
	Links       []myLink                `json:"identity_links"`
	Keys        []myKey                 `json:"security_keys"`
	Sessions    []mySession             `json:"sessions"`
	Devices     []myDataDevice          `json:"devices"`
	Decisions   []*store.DecisionRecord `json:"access_decisions"`
	Audit       []*store.AuditEvent     `json:"audit"`
	// Truncated names the lists cut at their bound (newest kept).
	Truncated []string `json:"truncated,omitempty"`
}

type myPerson struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role,omitempty"`
	Groups    []string  `json:"groups,omitempty"`
	Disabled  bool      `json:"disabled,omitempty"`
	Password  bool      `json:"has_password"`
	CreatedAt time.Time `json:"created_at"`
}

type myLink struct {
	Provider  string    `json:"provider"`
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Email     string    `json:"email,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type myKey struct {
	Name      string    `json:"name,omitempty"`
	Purpose   string    `json:"purpose"`
	DeviceID  string    `json:"device_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	LastUsed  time.Time `json:"last_used,omitzero"`
}

type mySession struct {
	IdP       string    `json:"idp"`
	Host      string    `json:"host,omitempty"`
	DeviceID  string    `json:"device_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
}

type myDataDevice struct {
	*store.Device
	// Notice is what the organization collects from it (the privacy
	// notice shown on /my/devices), absent for a browser device.
	Notice *posture.Notice `json:"privacy_notice,omitempty"`
	// ViewedBy is who in IT viewed the device's data, newest first.
	ViewedBy []myViewer `json:"viewed_by"`
}

// myViewer is one view of a device's data by IT: who, when.
type myViewer struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// errEnough stops a scan at its bound.
var errEnough = errors.New("enough")

// myDataDownload is GET /my/data: the signed-in person's data as one JSON
// file, audited (user.data_export) so the person's own request is on
// record too.
func (c *Console) myDataDownload(g *gin.Context) {
	pu, _ := c.pageUser(g)
	ctx := g.Request.Context()
	u, ok := c.opts.Store.User(pu.Session.UserID)
	if !ok {
		c.failPage(g, apperr.New(apperr.NotFound, "Your account no longer exists."))
		return
	}
	now := c.now().UTC()
	d := myData{GeneratedAt: now, Person: myPerson{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Groups: u.Groups,
		Disabled: u.Disabled, Password: u.PasswordHash != "", CreatedAt: u.CreatedAt},
		Links: []myLink{}, Keys: []myKey{}, Sessions: []mySession{}, Devices: []myDataDevice{}, Decisions: []*store.DecisionRecord{}}
	for _, l := range c.opts.Store.LinksOf(u.ID) {
		d.Links = append(d.Links, myLink{Provider: l.Provider, Issuer: l.Issuer, Subject: l.Subject, Email: l.Email, CreatedAt: l.CreatedAt})
	}
	for _, k := range c.opts.Store.CredentialsOf(u.ID) {
		d.Keys = append(d.Keys, myKey{Name: k.Name, Purpose: k.Purpose, DeviceID: k.DeviceID, CreatedAt: k.CreatedAt, LastUsed: k.LastUsed})
	}
	for _, s := range c.opts.Store.SessionsOf(u.ID) {
		d.Sessions = append(d.Sessions, mySession{IdP: s.IdP, Host: s.Host, DeviceID: s.DeviceID, CreatedAt: s.CreatedAt, LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt})
	}
	for _, dev := range c.devicesOf(pu.Session) {
		md := myDataDevice{Device: dev}
		if c.opts.Enrollment != nil && !enrollment.IsBrowserDevice(dev) {
			if n, err := c.opts.Enrollment.Privacy(dev.ID); err == nil {
				md.Notice = &n
			}
		}
		viewers, err := c.viewersOf(ctx, dev.ID, myDataAudit)
		if err != nil {
			c.failPage(g, err)
			return
		}
		md.ViewedBy = viewers
		d.Devices = append(d.Devices, md)
	}
	if dl, err := c.opts.Store.Decisions(); err == nil {
		err := dl.ScanDecisions(ctx, store.DecisionQuery{User: u.Email, Since: now.Add(-myDataWindow)}, func(r *store.DecisionRecord) error {
			if len(d.Decisions) == myDataDecisions {
				d.Truncated = append(d.Truncated, "access_decisions")
				return errEnough
			}
			d.Decisions = append(d.Decisions, r)
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			c.failPage(g, err)
			return
		}
	}
	audit, more, err := c.auditAbout(ctx, u)
	if err != nil {
		c.failPage(g, err)
		return
	}
	d.Audit = audit
	if more {
		d.Truncated = append(d.Truncated, "audit")
	}
	if err := c.opts.Store.Write(ctx, c.audit(g, "user.data_export", u.ID, nil)); err != nil {
		c.failPage(g, err)
		return
	}
	g.Header("Content-Disposition", `attachment; filename="portier-my-data-`+now.Format("2006-01-02")+`.json"`)
	g.Header("Cache-Control", "no-store")
	g.IndentedJSON(http.StatusOK, d)
}

// auditAbout is the audit entries a person made (actor user:<email>, or
// "user:<email> via token …" for each token of theirs) or that name their
// account, newest first, at most myDataAudit of each.
func (c *Console) auditAbout(ctx context.Context, u *store.User) ([]*store.AuditEvent, bool, error) {
	out := []*store.AuditEvent{}
	more := false
	qs := []store.AuditQuery{{Actor: "user:" + u.Email}, {Target: u.ID}}
	for _, t := range c.opts.Store.Tokens() {
		if t.OwnerID == u.ID {
			qs = append(qs, store.AuditQuery{Actor: tokenActor(t)})
		}
	}
	for _, q := range qs {
		evs, m, err := c.auditPages(ctx, q, myDataAudit)
		if err != nil {
			return nil, false, err
		}
		out, more = append(out, evs...), more || m
	}
	return out, more, nil
}

// auditPages reads up to n events of q, page by page, and reports whether
// more matched.
func (c *Console) auditPages(ctx context.Context, q store.AuditQuery, n int) ([]*store.AuditEvent, bool, error) {
	var out []*store.AuditEvent
	for {
		q.Limit = min(store.MaxAuditPage, n-len(out)+1)
		evs, err := c.opts.Store.QueryAudit(ctx, q)
		if err != nil {
			return nil, false, err
		}
		for _, ev := range evs {
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, ev)
		}
		if len(evs) < q.Limit {
			return out, false, nil
		}
		q.After = evs[len(evs)-1].Pos
	}
}

// viewersOf is who in IT viewed a device's data (its device.view audit
// entries: the device page and GET /api/v1/devices/{id}), newest first,
// at most n.
func (c *Console) viewersOf(ctx context.Context, deviceID string, n int) ([]myViewer, error) {
	evs, _, err := c.auditPages(ctx, store.AuditQuery{Action: "device.view", Target: deviceID}, n)
	if err != nil {
		return nil, err
	}
	out := make([]myViewer, 0, len(evs))
	for _, ev := range evs {
		out = append(out, myViewer{By: strings.TrimPrefix(ev.Actor, "user:"), At: ev.At.UTC()})
	}
	return out, nil
}
