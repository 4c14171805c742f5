package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// listFleet writes n devices straight into the store; device i was
// enrolled i minutes and last seen i hours after the base time.
func listFleet(t *testing.T, e *mdmEnv, n int) {
	t.Helper()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ops []store.Op
	for i := range n {
		ops = append(ops, store.Put(&store.Device{ID: fmt.Sprintf("dev_%03d", i), Hostname: fmt.Sprintf("host-%03d", (i*7)%n),
			Serial: fmt.Sprintf("SN%03d", i), State: store.DeviceActive, Ownership: store.OwnershipCorporate,
			EnrolledAt: base.Add(time.Duration(i) * time.Minute), LastSeen: base.Add(time.Duration(i) * time.Hour)}))
	}
	if err := e.st.Write(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
}

// pageOf gets a device list as role and decodes the answer.
func (e *mdmEnv) pageOf(t *testing.T, role, path string) (ids []string, next string) {
	t.Helper()
	code, body := e.call(t, role, "GET", path, "", nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var p struct {
		Devices []struct {
			ID string `json:"id"`
		} `json:"devices"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.NextCursor == nil {
		t.Fatalf("answer without devices and next_cursor: %s", body)
	}
	for _, d := range p.Devices {
		ids = append(ids, d.ID)
	}
	return ids, *p.NextCursor
}

// TestDeviceListPagesThroughEveryDevice pages with limit=7 in the default
// order (most recently seen first) and checks every device comes once, in
// order, though a device enrolls between two pages.
func TestDeviceListPagesThroughEveryDevice(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	listFleet(t, e, 30)
	var want []string
	for i := 29; i >= 0; i-- {
		want = append(want, fmt.Sprintf("dev_%03d", i))
	}
	var got []string
	cursor, pages := "", 0
	for {
		ids, next := e.pageOf(t, RoleHelpdesk, "/api/v1/devices?limit=7&cursor="+url.QueryEscape(cursor))
		got = append(got, ids...)
		if pages++; pages == 1 {
			// Seen most recently: it sorts before the first page's end.
			d := &store.Device{ID: "dev_new", State: store.DeviceActive, LastSeen: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
			if err := e.st.Write(context.Background(), store.Put(d)); err != nil {
				t.Fatal(err)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || pages != 5 {
		t.Errorf("%d pages:\n got %v\nwant %v", pages, got, want)
	}
	// Without a limit: 100 at most, the newest first.
	ids, next := e.pageOf(t, RoleHelpdesk, "/api/v1/devices")
	if len(ids) != 31 || ids[0] != "dev_new" || next != "" {
		t.Errorf("default page: %v next %q", ids, next)
	}
	// Other orders page the same way.
	ids, next = e.pageOf(t, RoleHelpdesk, "/api/v1/devices?sort=hostname&limit=2&state=active&q=host")
	if !slices.Equal(ids, []string{"dev_000", "dev_013"}) || next == "" {
		t.Fatalf("by hostname: %v", ids)
	}
	ids, _ = e.pageOf(t, RoleHelpdesk, "/api/v1/devices?sort=hostname&limit=2&state=active&q=host&cursor="+next)
	if !slices.Equal(ids, []string{"dev_026", "dev_009"}) {
		t.Errorf("by hostname, page 2: %v", ids)
	}
}

// TestDeviceListFilters checks each filter of GET /api/v1/devices.
func TestDeviceListFilters(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	seen := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	devs := []*store.Device{
		{ID: "dev_a", Name: "Ada laptop", Hostname: "ADA-MacBook", Serial: "C02XYZ", OwnerEmail: "ada@example.com", Platform: "macos",
			Trust: store.TrustHigh, Compliant: true, Department: "Engineering", LastSeen: seen, State: store.DeviceActive},
		{ID: "dev_b", Hostname: "bob-pc", Serial: "5CG123", OwnerEmail: "bob@example.com", Platform: "windows", Trust: store.TrustLow,
			FailingChecks: []string{"disk_encryption", "firewall"}, Department: "Sales", LastSeen: seen.Add(-48 * time.Hour), State: store.DeviceActive},
		{ID: "dev_c", Hostname: "cleo-phone", Serial: "F17ABC", OwnerEmail: "cleo@example.org", Platform: "ios", Trust: store.TrustMedium,
			Compliant: true, Department: "sales", LastSeen: seen.Add(-time.Hour), State: store.DeviceQuarantined},
	}
	for _, d := range devs {
		if err := e.st.Write(context.Background(), store.Put(d)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"dev_a", "dev_c", "dev_b"}},
		{"q=macbook", []string{"dev_a"}},        // hostname, case-insensitive
		{"q=5cg", []string{"dev_b"}},            // serial
		{"q=EXAMPLE.ORG", []string{"dev_c"}},    // owner e-mail
		{"q=dev_b", []string{"dev_b"}},          // id
		{"q=laptop", []string{"dev_a"}},         // name
		{"q=nothing-like-it", nil},              //
		{"platform=Windows", []string{"dev_b"}}, //
		{"trust=medium", []string{"dev_c"}},     //
		{"compliant=true", []string{"dev_a", "dev_c"}},
		{"compliant=false", []string{"dev_b"}},
		{"failing_check=firewall", []string{"dev_b"}},
		{"failing_check=fire", nil},
		{"department=SALES", []string{"dev_c", "dev_b"}},
		{"state=quarantined", []string{"dev_c"}},
		{"last_seen_before=2026-12-01T11:30:00Z", []string{"dev_c", "dev_b"}},
		{"last_seen_after=2026-12-01T10:00:00Z", []string{"dev_a", "dev_c"}},
		{"last_seen_after=2026-11-01T00:00:00Z&last_seen_before=2026-12-01T11:30:00Z&department=sales&sort=last_seen", []string{"dev_b", "dev_c"}},
		{"sort=hostname", []string{"dev_a", "dev_b", "dev_c"}},
		{"sort=-hostname", []string{"dev_c", "dev_b", "dev_a"}},
	} {
		ids, _ := e.pageOf(t, RoleAuditor, "/api/v1/devices?"+c.query)
		if !slices.Equal(ids, c.want) {
			t.Errorf("%s: got %v, want %v", c.query, ids, c.want)
		}
	}
}

// TestDeviceListBadParameters checks each malformed parameter is a 400
// naming it, on the list and on the export.
func TestDeviceListBadParameters(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	listFleet(t, e, 3)
	_, next := e.pageOf(t, RoleAdmin, "/api/v1/devices?limit=1")
	tampered := []byte(next)
	tampered[len(tampered)/2] ^= 1
	for _, c := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"},
		{"cursor=%21%21", "cursor"}, {"cursor=" + string(tampered), "cursor"}, {"cursor=" + next + "&sort=hostname", "cursor"},
		{"sort=serial", "sort"}, {"trust=total", "trust"}, {"compliant=yes", "compliant"}, {"pending=maybe", "pending"},
		{"state=lost", "state"}, {"ownership=mine", "ownership"},
		{"last_seen_before=yesterday", "last_seen_before"}, {"last_seen_after=2026-12-01", "last_seen_after"},
	} {
		for _, path := range []string{"/api/v1/devices?", "/api/v1/devices/export?"} {
			code, body := e.call(t, RoleAdmin, "GET", path+c.query, "", nil)
			if code != http.StatusBadRequest || jsonField(body, "field") != c.field {
				t.Errorf("%s%s: %d %s, want 400 naming %s", path, c.query, code, body, c.field)
			}
		}
	}
	if code, body := e.call(t, RoleAdmin, "GET", "/api/v1/devices/export?limit=5", "", nil); code != http.StatusBadRequest || jsonField(body, "field") != "limit" {
		t.Errorf("export with a limit: %d %s", code, body)
	}
	if code, body := e.call(t, RoleAdmin, "GET", "/api/v1/devices/export?format=xlsx", "", nil); code != http.StatusBadRequest || jsonField(body, "field") != "format" {
		t.Errorf("export as xlsx: %d %s", code, body)
	}
}

// TestDeviceExportCSV checks the export: every matching device past any
// page size, filters applied, formula cells defused, the export audited,
// and who may read it.
func TestDeviceExportCSV(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	listFleet(t, e, 120)
	evil := &store.Device{ID: "dev_evil", Hostname: "=HYPERLINK(\"http://evil\")", Serial: "+1", Name: "@SUM(A1)", OwnerEmail: "eve@example.com",
		State: store.DeviceActive, FailingChecks: []string{"-x", "firewall"}, LastSeen: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	if err := e.st.Write(context.Background(), store.Put(evil)); err != nil {
		t.Fatal(err)
	}
	code, body := e.call(t, RoleAuditor, "GET", "/api/v1/devices/export?format=csv", "", nil)
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != http.StatusOK || err != nil {
		t.Fatalf("export: %d %v %.200s", code, err, body)
	}
	if len(rows) != 122 || strings.Join(rows[0], ",") != strings.Join(deviceCSVColumns, ",") {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	if r := rows[1]; r[0] != "dev_evil" || r[1] != "'@SUM(A1)" || r[2] != `'=HYPERLINK("http://evil")` || r[3] != "'+1" || r[13] != "'-x;firewall" {
		t.Errorf("first row not defused: %q", r)
	}
	code, body = e.call(t, RoleAuditor, "GET", "/api/v1/devices/export?q=eve@&sort=hostname", "", nil)
	if rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll(); code != http.StatusOK || len(rows) != 2 || rows[1][0] != "dev_evil" {
		t.Errorf("filtered export: %d %q", code, rows)
	}
	events, err := e.st.QueryAudit(context.Background(), store.AuditQuery{Action: "device.export", Limit: 10})
	if err != nil || len(events) != 2 || events[0].Detail["q"] != "eve@" || events[0].Actor != "token:tok_auditor" {
		t.Errorf("export not audited: %v %+v", err, events)
	}
	for role, want := range map[string]int{RoleOwner: 200, RoleAdmin: 200, RoleHelpdesk: 200, RoleAuditor: 200, "nobody": 403, "": 401} {
		for _, path := range []string{"/api/v1/devices/export", "/api/v1/devices?limit=1"} {
			if code, body := e.call(t, role, "GET", path, "", nil); code != want {
				t.Errorf("%s as %q: %d, want %d (%.100s)", path, role, code, want, body)
			}
		}
	}
}
