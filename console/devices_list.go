package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// Device list page sizes: without ?limit=, and the most one page holds.
const (
	defaultDevicePage = 100
	maxDevicePage     = 1000
)

// deviceFilter reads the filters shared by the device list and its export:
// state, ownership, owner, serial, pending, q, platform, trust, compliant,
// failing_check, department, last_seen_before and last_seen_after.
func deviceFilter(g *gin.Context) (enrollment.DeviceFilter, error) {
	return deviceFilterOf(g.Query, "")
}

// deviceFilterOf reads the device list's filters from get (a query
// string's, or a bulk action's filter object); an error names the
// parameter after prefix ("filter." in a bulk action's body).
func deviceFilterOf(get func(string) string, prefix string) (enrollment.DeviceFilter, error) {
	f := enrollment.DeviceFilter{State: store.DeviceState(get("state")), Ownership: store.Ownership(get("ownership")),
		Owner: get("owner"), Serial: get("serial"), Query: get("q"), Platform: get("platform"),
		FailingCheck: get("failing_check"), Department: get("department")}
	var err error
	if f.Pending, err = boolValue(prefix+"pending", get("pending")); err != nil {
		return f, err
	}
	switch f.State {
	case "", store.DevicePending, store.DeviceActive, store.DeviceQuarantined, store.DeviceRetired, store.DeviceWiped:
	default:
		return f, apperr.Field(prefix+"state", "state must be pending, active, quarantined, retired or wiped")
	}
	if f.Ownership != "" {
		if _, err := store.ParseOwnership(string(f.Ownership)); err != nil {
			return f, apperr.Field(prefix+"ownership", "%s", err.Error())
		}
	}
	if v := get("trust"); v != "" {
		t, err := store.ParseTrust(v)
		if err != nil {
			return f, apperr.Field(prefix+"trust", "trust must be untrusted, low, medium or high")
		}
		f.Trust = &t
	}
	if v := get("compliant"); v != "" {
		b, err := boolValue(prefix+"compliant", v)
		if err != nil {
			return f, err
		}
		f.Compliant = &b
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"last_seen_before", &f.LastSeenBefore}, {"last_seen_after", &f.LastSeenAfter}} {
		if v := get(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				return f, apperr.Field(prefix+t.name, "%s must be an RFC 3339 time such as 2026-01-31T00:00:00Z", t.name)
			}
		}
	}
	return f, nil
}

// deviceFilterNames are the filters deviceFilterOf reads.
var deviceFilterNames = []string{"state", "ownership", "owner", "serial", "pending", "q", "platform", "trust", "compliant",
	"failing_check", "department", "last_seen_before", "last_seen_after"}

// boolValue reads a parameter that is true, false or empty (false).
func boolValue(name, v string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, apperr.Field(name, "%s must be true or false", name)
}

// deviceList reads a device list request: the filters, sort, cursor and
// limit (def when absent).
func deviceList(g *gin.Context, def int) (enrollment.DeviceList, error) {
	f, err := deviceFilter(g)
	l := enrollment.DeviceList{Filter: f, Sort: g.DefaultQuery("sort", enrollment.DefaultDeviceSort), Cursor: g.Query("cursor"), Limit: def}
	if err != nil {
		return l, err
	}
	if !enrollment.ValidDeviceSort(l.Sort) {
		return l, apperr.Field("sort", "sort must be last_seen, hostname or enrolled_at, with - first for descending")
	}
	if v := g.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDevicePage {
			return l, apperr.Field("limit", "limit must be a number from 1 to %d", maxDevicePage)
		}
		l.Limit = n
	}
	return l, nil
}

// listDevices is GET /api/v1/devices: one page of the inventory matching
// the filters, in the requested order, with next_cursor ("" at the end).
func (c *Console) listDevices(g *gin.Context) {
	l, err := deviceList(g, defaultDevicePage)
	if err != nil {
		c.fail(g, err)
		return
	}
	devs, next, err := c.opts.Enrollment.ListDevices(l)
	if err != nil {
		c.fail(g, listError(err))
		return
	}
	out := make([]deviceSummary, 0, len(devs))
	for _, d := range devs {
		out = append(out, summarize(d))
	}
	g.JSON(http.StatusOK, gin.H{"devices": out, "next_cursor": next})
}

// listError names the cursor when the listing refused it.
func listError(err error) error {
	if errors.Is(err, enrollment.ErrBadCursor) {
		return apperr.Field("cursor", "%s", err.Error())
	}
	return err
}

// deviceCSVColumns are the columns of the device CSV export, in order.
var deviceCSVColumns = []string{"id", "name", "hostname", "serial", "platform", "model", "os_version", "ownership", "owner_email",
	"department", "state", "trust", "compliant", "failing_checks", "key_protection", "enrolled_at", "last_seen"}

// exportDevices is GET /api/v1/devices/export?format=csv: every device
// matching the filters, in the requested order, as CSV with formula cells
// defused. No limit; ?cursor= starts after a page of the list. The export
// holds owners' e-mail addresses: it is audited before anything is sent.
func (c *Console) exportDevices(g *gin.Context) { c.writeDevicesCSV(g, c.fail) }

// writeDevicesCSV is the device export for the API and the devices page;
// fail answers an error before anything is sent (JSON or an HTML page).
func (c *Console) writeDevicesCSV(g *gin.Context, fail func(*gin.Context, error)) {
	l, err := deviceList(g, 0)
	if err != nil {
		fail(g, err)
		return
	}
	if g.Query("limit") != "" {
		fail(g, apperr.Field("limit", "the export has no limit"))
		return
	}
	if f := g.DefaultQuery("format", "csv"); f != "csv" {
		fail(g, apperr.Field("format", "format must be csv"))
		return
	}
	devs, _, err := c.opts.Enrollment.ListDevices(l)
	if err != nil {
		fail(g, listError(err))
		return
	}
	detail := exportDetail(g)
	x, ok := c.startExport(g, fail, "device.export", "devices", "csv", detail, deviceCSVColumns)
	if !ok {
		return
	}
	defer x.flush()
	for _, d := range devs {
		if err := x.write(d, func() []string { return deviceCSVRow(d) }); err != nil {
			return
		}
	}
}

// exportDetail is the audit detail of a CSV export: its filters as asked.
func exportDetail(g *gin.Context) map[string]string {
	detail := map[string]string{"format": "csv"}
	for k := range g.Request.URL.Query() {
		if k != "format" {
			detail[k] = g.Query(k)
		}
	}
	return detail
}

// deviceCSVRow is one device as defused CSV cells: hostnames, names and
// serials are text the device reported.
func deviceCSVRow(d *store.Device) []string {
	return defuseCSV([]string{d.ID, d.Name, d.Hostname, d.Serial, d.Platform, d.Model, d.OSVersion, string(d.Ownership), d.OwnerEmail,
		d.Department, string(d.State), d.Trust.String(), strconv.FormatBool(d.Compliant), strings.Join(d.FailingChecks, ";"),
		keyProtection(d), csvTime(d.EnrolledAt), csvTime(d.LastSeen)})
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
