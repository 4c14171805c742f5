package console

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// TestDevicesPage: a helpdesk person searches the inventory in the
// console, follows the next-page link through every match, and exports
// the same selection as defused CSV; a person without a role is refused.
func TestDevicesPage(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ops []store.Op
	for i := range 60 {
		ops = append(ops, store.Put(&store.Device{ID: fmt.Sprintf("dev_%03d", i), Name: fmt.Sprintf("laptop-%03d", i),
			Platform: []string{"macos", "linux"}[i%2], State: store.DeviceActive, Ownership: store.OwnershipCorporate,
			LastSeen: base.Add(time.Duration(i) * time.Hour)}))
	}
	ops = append(ops, store.Put(&store.Device{ID: "dev_evil", Name: "=evil()", Platform: "macos", State: store.DeviceActive}))
	if err := e.st.Write(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	help := e.addUser(t, "help@example.com", pw, false)
	e.setRole(t, help, RoleHelpdesk)
	b := e.browser(t)
	b.signInPassword("help@example.com", pw, "")
	e.keyUsed(t, help)

	row := regexp.MustCompile(`<tr><td><a href="/devices/dev_[0-9]+">([^<]+)</a></td>`)
	next := regexp.MustCompile(`<a href="([^"]+)" id="next">`)
	u := extURL + "/devices?platform=macos&q=LAPTOP"
	var names []string
	for pages := 0; u != ""; pages++ {
		p := b.get(u)
		if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `href="/devices"`) || pages > 3 {
			t.Fatalf("%s: %d\n%s", u, p.StatusCode, p.body)
		}
		if !strings.Contains(p.body, `value="LAPTOP"`) {
			t.Errorf("the search box lost the query")
		}
		for _, m := range row.FindAllStringSubmatch(p.body, -1) {
			names = append(names, m[1])
		}
		u = ""
		if m := next.FindStringSubmatch(p.body); m != nil {
			u = extURL + html.UnescapeString(m[1])
		}
	}
	if len(names) != 30 || names[0] != "laptop-058" || names[29] != "laptop-000" {
		t.Errorf("%d devices: %v", len(names), names)
	}

	p := b.get(extURL + "/devices?platform=macos")
	m := regexp.MustCompile(`<a href="([^"]+)" id="export">`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no export link:\n%s", p.body)
	}
	ex := b.get(extURL + html.UnescapeString(m[1]))
	rows, err := csv.NewReader(strings.NewReader(ex.body)).ReadAll()
	if ex.StatusCode != http.StatusOK || err != nil || len(rows) != 32 {
		t.Fatalf("export %s: %d %v %d rows", m[1], ex.StatusCode, err, len(rows))
	}
	if rows[len(rows)-1][0] != "dev_evil" || rows[len(rows)-1][1] != "'=evil()" {
		t.Errorf("last row: %q", rows[len(rows)-1])
	}
	if p := b.get(extURL + "/devices?last_seen_after=yesterday"); p.StatusCode != http.StatusBadRequest || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
		t.Errorf("bad filter: %d %s", p.StatusCode, p.Header.Get("Content-Type"))
	}

	e.addUser(t, "ada@example.com", pw, false)
	ada := e.browser(t)
	ada.signInPassword("ada@example.com", pw, "")
	for _, path := range []string{"/devices", "/devices/export"} {
		if p := ada.get(extURL + path); p.StatusCode != http.StatusForbidden {
			t.Errorf("%s without a role: %d", path, p.StatusCode)
		}
	}
}
