package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/kpi"
	"github.com/portier/portier/store"
)

// dashFleet writes n linux devices of department it, the first compliant
// ones compliant, and takes the day's snapshot at the env's clock.
func dashFleet(t *testing.T, e *env, n, compliant int) {
	t.Helper()
	var ops []store.Op
	for i := range n {
		ops = append(ops, store.Put(&store.Device{ID: "dash" + string(rune('a'+i)), Platform: "linux", Department: "it",
			Ownership: store.OwnershipCorporate, State: store.DeviceActive, Compliant: i < compliant, Trust: store.TrustHigh}))
	}
	if err := e.st.Write(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	if _, err := (&kpi.Snapshotter{Store: e.st, Clock: e.clock.Now}).Take(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardPage: the dashboard shows the latest snapshot's figures
// with their targets and a trend with one run per day of data, filters by
// department, and agrees with GET /api/v1/kpis/history; the help desk may
// read it (kpis:read), an employee may not.
func TestDashboardPage(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	dashFleet(t, e, 4, 2) // yesterday: 2 of 4 compliant
	e.clock.Advance(24 * time.Hour)
	dashFleet(t, e, 4, 3) // today: 3 of 4

	admin := e.addUser(t, "admin@example.com", pw, false)
	e.setRole(t, admin, RoleAdmin)
	b := e.browser(t)
	b.signInPassword("admin@example.com", pw, "")
	e.keyUsed(t, admin)

	p := b.get(extURL + "/dashboard")
	if p.StatusCode != http.StatusOK {
		t.Fatalf("dashboard: %d\n%s", p.StatusCode, p.body)
	}
	for _, want := range []string{`data-kpi="compliance_rate">75 %<`, "Target: at least 90 %", `class="kpi kpi-missed" id="kpi-compliance_rate"`,
		`data-kpi="devices">4<`, `<polyline class="trend-line"`, `<option value="department=it">it</option>`, `href="/dashboard"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	sec := p.body[strings.Index(p.body, `id="kpi-compliance_rate"`):]
	sec = sec[:strings.Index(sec, "</section>")]
	pts := sec[strings.Index(sec, `points="`)+len(`points="`):]
	if strings.Count(sec, "<polyline") != 1 || strings.Count(pts[:strings.IndexByte(pts, '"')], ",") != 2 {
		t.Errorf("compliance trend is not one line through two days:\n%s", sec)
	}
	if p := b.get(extURL + "/dashboard?filter=department%3Dsales&days=90"); p.StatusCode != http.StatusOK || !strings.Contains(p.body, `id="no-snapshot"`) {
		t.Errorf("sales: %d", p.StatusCode)
	}
	if p := b.get(extURL + "/dashboard?days=7"); p.StatusCode != http.StatusBadRequest || !strings.Contains(p.body, "days") {
		t.Errorf("days=7: %d", p.StatusCode)
	}

	api := b.get(extURL + "/api/v1/kpis/history?department=it&since=" + e.clock.Now().AddDate(0, 0, -1).Format("2006-01-02"))
	var board kpi.Board
	if err := json.Unmarshal([]byte(api.body), &board); err != nil || api.StatusCode != http.StatusOK {
		t.Fatalf("history: %d %v\n%s", api.StatusCode, err, api.body)
	}
	if len(board.Snapshots) != 2 || board.Snapshots[0].Counts.Compliant != 2 || board.Latest.Counts.Compliant != 3 || board.Series.Value != "it" {
		t.Errorf("history = %+v", board)
	}
	if bad := b.get(extURL + "/api/v1/kpis/history?since=yesterday"); bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.body, `"field":"since"`) {
		t.Errorf("bad since: %d %s", bad.StatusCode, bad.body)
	}

	help := e.addUser(t, "help@example.com", pw, false)
	e.setRole(t, help, RoleHelpdesk)
	hb := e.browser(t)
	hb.signInPassword("help@example.com", pw, "")
	e.keyUsed(t, help)
	if p := hb.get(extURL + "/dashboard"); p.StatusCode != http.StatusOK || !strings.Contains(p.body, `data-kpi="compliance_rate">75 %<`) {
		t.Errorf("helpdesk: %d", p.StatusCode)
	}
	e.addUser(t, "emp@example.com", pw, false)
	eb := e.browser(t)
	eb.signInPassword("emp@example.com", pw, "")
	if p := eb.get(extURL + "/dashboard"); p.StatusCode != http.StatusForbidden || strings.Contains(p.body, "kpi-value") {
		t.Errorf("employee: %d", p.StatusCode)
	}
	if p := eb.get(extURL + "/api/v1/kpis/history"); p.StatusCode != http.StatusForbidden {
		t.Errorf("employee history: %d", p.StatusCode)
	}
}
