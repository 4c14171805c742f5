package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// TestInventoryCounts: the fleet in service counted by type, OS and
// version, model, department and ownership, from the API, the page and
// the audited CSV export; retired devices left the fleet; a filter
// narrows the counts; roles without devices:read are refused.
func TestInventoryCounts(t *testing.T) {
	e, con, _, _ := devicePageEnv(t)
	var ops []store.Op
	for i, d := range []store.Device{
		{Platform: "macos", OSVersion: "15.1", Model: "MacBookPro18,1", Department: "Finance", Ownership: store.OwnershipCorporate},
		{Platform: "macos", OSVersion: "15.1", Model: "MacBookPro18,1", Department: "Finance", Ownership: store.OwnershipCorporate},
		{Platform: "windows", OSVersion: "11 23H2", Model: "=HYPERLINK()", Department: "Sales", Ownership: store.OwnershipCorporate},
		{Platform: "macos", OSVersion: "14.7", Department: "Sales", Ownership: store.OwnershipBYOD, State: store.DeviceRetired},
	} {
		d.ID = "dev_inv_" + string(rune('a'+i))
		if d.State == "" {
			d.State = store.DeviceActive
		}
		ops = append(ops, store.Put(&d))
	}
	if err := e.st.Write(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	code, body := e.call(t, RoleAuditor, "GET", "/api/v1/inventory", "", nil)
	var n inventoryCounts
	if err := json.Unmarshal([]byte(body), &n); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/inventory: %d %v %s", code, err, body)
	}
	// Two devices enrolled through the agent (linux, no model) plus three in service here.
	if n.Total != 5 {
		t.Errorf("counts: %+v", n)
	}
	want := map[string]inventoryCount{"platform": {"linux", 2}, "os": {"macos 15.1", 2}, "model": {"MacBookPro18,1", 2}, "department": {"Finance", 2}, "ownership": {"corporate", 4}}
	for dim, w := range want {
		found := false
		for _, c := range n.By[dim] {
			found = found || c == w
		}
		if !found {
			t.Errorf("%s: want %+v in %+v", dim, w, n.By[dim])
		}
	}
	code, body = e.call(t, RoleHelpdesk, "GET", "/api/v1/inventory?department=sales", "", nil)
	if code != http.StatusOK || !strings.Contains(body, `"total":1`) {
		t.Errorf("filtered on a department: %d %s", code, body)
	}
	if code, _ := e.call(t, "nobody", "GET", "/api/v1/inventory", "", nil); code != http.StatusForbidden {
		t.Errorf("a role without devices:read: %d", code)
	}

	help := pageSession(t, con, "counter", RoleHelpdesk, 0)
	code, body = help.callBody(con, "GET", "/inventory", "")
	if code != http.StatusOK || !strings.Contains(body, `id="by-os"`) || !strings.Contains(body, "Devices in service: 5") ||
		!strings.Contains(body, `<a href="/devices?department=Finance">Finance</a>`) || !strings.Contains(body, `href="/inventory"`) {
		t.Errorf("/inventory: %d\n%s", code, body)
	}
	code, body = help.callBody(con, "GET", "/inventory/export?format=csv", "")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != http.StatusOK || err != nil || len(rows) < 3 || rows[0][0] != "dimension" || rows[1][0] != "total" || rows[1][2] != "5" {
		t.Fatalf("export: %d %v %q", code, err, rows)
	}
	if !strings.Contains(body, "model,'=HYPERLINK(),1") {
		t.Errorf("a formula cell is not defused:\n%s", body)
	}
	if !audited(e.st, "user:counter@example.com", "inventory.export", "") {
		t.Error("the export is not audited")
	}
	if code, _ := pageSession(t, con, "nobody", "", 0).callBody(con, "GET", "/inventory", ""); code != http.StatusForbidden {
		t.Errorf("employee: /inventory = %d", code)
	}
}
