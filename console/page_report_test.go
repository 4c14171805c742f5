package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// reportInputs are the cost inputs the report tests configure.
var reportInputs = config.Report{Currency: "EUR", InitialCost: 50000, YearlyLicences: 12000, YearlyHosting: 3000,
	Savings: map[string]float64{"helpdesk": 30000, "lost_devices": 10000}}

// withReport serves the console with the report's cost inputs.
func (e *env) withReport(t *testing.T) {
	t.Helper()
	e.srv.Config.Handler = New(Options{Store: e.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: e.clock.Now,
		ExternalURL: extURL, Roots: http.NotFoundHandler(), CRL: http.NotFoundHandler(),
		Ready: func(context.Context) error { return nil }, Identity: e.id, Report: reportInputs})
}

// seedReportMonth fills the month starting at since with known data: three
// fleet snapshots (and two that must not count), a rooted device, a lost
// one, three wipes, and denied requests of 10 a day with bursts of 50 on
// the 8th (and 25, not a burst, on the 9th).
func seedReportMonth(t *testing.T, e *env, since time.Time) {
	t.Helper()
	ctx := context.Background()
	until := since.AddDate(0, 1, 0)
	last := until.AddDate(0, 0, -1)
	snap := func(day time.Time, dim string, devices, compliant, expected, enrolled int) *store.KPISnapshot {
		return &store.KPISnapshot{Day: day, Dimension: dim, Value: map[bool]string{true: "it"}[dim != ""], TakenAt: day.Add(time.Hour),
			Counts: store.KPICounts{Devices: devices, Compliant: compliant, Expected: expected, ExpectedEnrolled: enrolled}}
	}
	l, err := e.st.KPISnapshots()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutKPISnapshots(ctx, []*store.KPISnapshot{
		snap(since.AddDate(0, 0, -1), "", 1, 0, 20, 1), // the month before
		snap(since, "", 10, 8, 20, 10),
		snap(since.AddDate(0, 0, 14), "", 16, 15, 20, 16),
		snap(last, "", 20, 19, 20, 19),
		snap(last, store.DimDepartment, 3, 0, 3, 3), // a department, not the fleet
		snap(until, "", 99, 99, 99, 99),             // the month after
	}); err != nil {
		t.Fatal(err)
	}
	at := func(day int, h, m int) time.Time {
		return since.AddDate(0, 0, day-1).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	wipe := func(id, dev, typ, status string, req time.Time, secs int) *store.Action {
		return &store.Action{ID: id, DeviceID: dev, Type: typ, Status: status, RequestedBy: "user:admin@example.com", RequestedAt: req,
			DoneAt: map[bool]time.Time{true: req.Add(time.Duration(secs) * time.Second)}[secs > 0], ExpiresAt: req.Add(72 * time.Hour)}
	}
	lost := store.NewAuditEvent(at(4, 9, 0), "user:bo@example.com", "device.reported_lost", "lostd")
	before := store.NewAuditEvent(at(0, 9, 0), "user:bo@example.com", "device.reported_lost", "old")
	if err := e.st.Write(ctx,
		store.Put(&store.Device{ID: "rootd", Hostname: "=HYPERLINK(\"http://x\")", Platform: "android", State: store.DeviceActive}),
		store.Put(&store.Device{ID: "lostd", Hostname: "bo-phone", Platform: "ios", State: store.DeviceActive}),
		store.Put(store.NewDeviceEvent(at(2, 8, 0), "rootd", posture.EventCheckFailing, map[string]string{"check": posture.CheckNotRooted})),
		store.Put(store.NewDeviceEvent(at(3, 8, 0), "rootd", posture.EventCheckFailing, map[string]string{"check": posture.CheckNotRooted})),
		store.Put(store.NewDeviceEvent(at(2, 8, 0), "lostd", posture.EventCheckFailing, map[string]string{"check": "disk_encrypted"})),
		store.Put(store.NewDeviceEvent(at(0, 8, 0), "lostd", posture.EventCheckFailing, map[string]string{"check": posture.CheckNotRooted})),
		store.Put(lost), store.Put(before),
		store.Put(wipe("w1", "lostd", enrollment.ActionWipe, store.ActionAcknowledged, at(3, 10, 0), 300)),
		store.Put(wipe("w2", "rootd", enrollment.ActionSelectiveWipe, store.ActionAcknowledged, at(5, 10, 0), 900)),
		store.Put(wipe("w3", "rootd", enrollment.ActionWipe, store.ActionQueued, at(6, 10, 0), 0)),
		store.Put(wipe("w0", "rootd", enrollment.ActionWipe, store.ActionAcknowledged, at(0, 10, 0), 60)), // the month before
	); err != nil {
		t.Fatal(err)
	}
	dl, err := e.st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	var recs []*store.DecisionRecord
	for d := since; d.Before(until); d = d.AddDate(0, 0, 1) {
		n := uint64(10)
		switch d.Day() {
		case 8:
			n = 50
		case 9:
			n = 25
		}
		h := d.Add(10 * time.Hour)
		recs = append(recs, &store.DecisionRecord{Hour: h, First: h, Last: h, Count: n, Route: "https://wiki.localhost/", User: "bo@example.com", Device: "lostd", Outcome: "deny"},
			&store.DecisionRecord{Hour: h, First: h, Last: h, Count: 100, Route: "https://wiki.localhost/", User: "cy@example.com", Device: "rootd", Outcome: "allow"})
	}
	if err := dl.AppendDecisions(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

// reportMonth is the month two months before now: wholly in the past.
func reportMonth(now time.Time) time.Time {
	y, m, _ := now.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -2, 0)
}

// reportAdmin serves the report over a seeded month and signs an
// administrator in; it returns the month's first day and its period.
func reportAdmin(t *testing.T) (*env, *browser, time.Time, string) {
	t.Helper()
	e := newEnv(t)
	e.withReport(t)
	since := reportMonth(e.clock.Now())
	seedReportMonth(t, e, since)
	admin := e.addUser(t, "admin@example.com", pw, false)
	e.setRole(t, admin, RoleAdmin)
	b := e.browser(t)
	b.signInPassword("admin@example.com", pw, "")
	e.keyUsed(t, admin)
	return e, b, since, since.Format("2006-01")
}

// TestReportFigures: the report of a seeded month gives the KPIs (end,
// lowest, average against targets), incidents, fleet growth and cost
// view a reader can check by hand, on the page, in JSON and in CSV; the
// page's what-if inputs override the config.
func TestReportFigures(t *testing.T) {
	_, b, since, period := reportAdmin(t)

	api := b.get(extURL + "/api/v1/report?period=" + period)
	if api.StatusCode != http.StatusOK {
		t.Fatalf("report: %d\n%s", api.StatusCode, api.body)
	}
	var r execReport
	if err := json.Unmarshal([]byte(api.body), &r); err != nil {
		t.Fatalf("%v\n%s", err, api.body)
	}
	kp := map[string]reportKPI{}
	for _, k := range r.KPIs {
		kp[k.Key] = k
	}
	if c := kp["compliance_rate"]; !c.Known || c.End != 0.95 || c.Min != 0.8 || c.Days != 3 || !c.Met || c.Avg < 0.8958 || c.Avg > 0.8959 {
		t.Errorf("compliance = %+v", c)
	}
	if c := kp["enrollment_rate"]; c.End != 0.95 || c.Min != 0.5 || !c.Met {
		t.Errorf("enrollment = %+v", c)
	}
	if f := r.Fleet; !f.Known || f.Start != 10 || f.End != 20 || f.Change != 10 || f.Expected != 20 || !f.StartDay.Equal(since) {
		t.Errorf("fleet = %+v", f)
	}
	in := r.Incidents
	if len(in.Rooted) != 1 || in.Rooted[0].Device != "rootd" || len(in.Lost) != 1 || in.Lost[0].Device != "lostd" || in.Lost[0].Hostname != "bo-phone" {
		t.Errorf("rooted %+v, lost %+v", in.Rooted, in.Lost)
	}
	if w := in.Wipes; w.Requested != 3 || w.Acknowledged != 2 || w.MedianSeconds != 600 || w.MaxSeconds != 900 {
		t.Errorf("wipes = %+v", w)
	}
	if in.DenyMedian != 10 || len(in.Bursts) != 1 || in.Bursts[0].Day.Day() != 8 || in.Bursts[0].Denied != 50 {
		t.Errorf("deny median %v, bursts %+v", in.DenyMedian, in.Bursts)
	}
	co := r.Cost
	if co.YearlyCosts != 15000 || co.YearlySavings != 40000 || co.ThreeYearCost != 95000 || num(co.ROI*100) != "26.32" || num(co.PerDevice) != "1583.33" {
		t.Errorf("cost = %+v", co)
	}
	if co.ROIFormula != "(3 × 40000 − (50000 + 3 × 15000)) / (50000 + 3 × 15000) = 26.32 %" {
		t.Errorf("roi formula = %q", co.ROIFormula)
	}

	p := b.get(extURL + "/report?period=" + period)
	if p.StatusCode != http.StatusOK {
		t.Fatalf("page: %d\n%s", p.StatusCode, p.body)
	}
	for _, want := range []string{`data-end="compliance_rate">95 %<`, `<tr class="kpi-met" id="report-kpi-compliance_rate"><td>Compliance rate</td><td>Target: at least 90 %</td>`,
		"Rooted or jailbroken devices found: 1", "Devices reported lost or stolen: 1", "Wipes requested: 3, acknowledged: 2",
		"median 10 min, longest 15 min", "Bursts of denied access: 1", "10 managed devices on " + period + "-01, 20 on",
		`id="report-roi">26.32 %<`, `id="report-per-device">1583.33 EUR<`, "(3 × yearly savings − (initial + 3 × yearly costs)) / (initial + 3 × yearly costs)",
		`<span id="roi-formula">(3 × 40000 − (50000 + 3 × 15000)) / (50000 + 3 × 15000) = 26.32 %</span>`, `href="/report"`} {
		if !strings.Contains(html.UnescapeString(p.body), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// What-if: no initial cost and no help-desk savings.
	w := b.get(extURL + "/report?period=" + period + "&initial_cost=0&savings.helpdesk=0")
	if !strings.Contains(w.body, `id="report-roi">-33.33 %<`) || !strings.Contains(w.body, `name="savings.helpdesk" value="0"`) {
		t.Errorf("what-if lacks ROI -33.33 %%:\n%s", w.body)
	}
	fr := b.getLang(extURL+"/report?period="+period, "fr")
	if !strings.Contains(fr.body, "Appareils rootés ou jailbreakés détectés : 1") || !strings.Contains(fr.body, `data-end="compliance_rate">95 %<`) {
		t.Errorf("French page lacks its strings")
	}
}

// TestReportExportCSV: the CSV export is audited as report.export and its
// cells are defused (a hostname starting with = is quoted).
func TestReportExportCSV(t *testing.T) {
	e, b, since, period := reportAdmin(t)

	x := b.get(extURL + "/api/v1/report?format=csv&period=" + period)
	if x.StatusCode != http.StatusOK {
		t.Fatalf("csv: %d\n%s", x.StatusCode, x.body)
	}
	rows, err := csv.NewReader(strings.NewReader(x.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[strings.Join(r[:3], "|")] = r[3]
	}
	for k, want := range map[string]string{"kpi|compliance_rate|end": "0.95", "kpi|compliance_rate|min": "0.8", "incident|rooted|count": "1",
		"wipes|response|median_seconds": "600", "denied|burst|" + period + "-08": "50", "fleet|devices|end": "20", "cost|roi|" + ROIFormula: "0.2631578947368421",
		"incident|rooted|rootd": since.AddDate(0, 0, 1).Add(8 * time.Hour).Format(time.RFC3339), "section|item|measure": "value"} {
		if v, ok := got[k]; !ok || (want != "" && v != want) {
			t.Errorf("csv %s = %q (present %v), want %q", k, v, ok, want)
		}
	}
	if h := rows[len(rows)-1]; len(h) != 5 {
		t.Errorf("last row %q has not 5 cells", h)
	}
	if !strings.Contains(x.body, `,"'=HYPERLINK(""http://x"")"`) {
		t.Errorf("the hostname is not defused:\n%s", x.body)
	}
	for _, r := range rows {
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q is not defused", cell)
			}
		}
	}
	evs, err := e.st.QueryAudit(context.Background(), store.AuditQuery{Action: "report.export"})
	if err != nil || len(evs) != 1 || evs[0].Detail["period"] != period || evs[0].Detail["format"] != "csv" || evs[0].Actor != "user:admin@example.com" {
		t.Errorf("audit = %+v, %v", evs, err)
	}
	if p := b.get(extURL + "/report/export?format=json&period=" + period); p.StatusCode != http.StatusOK || !strings.Contains(p.body, `"roi_formula"`) {
		t.Errorf("page export: %d", p.StatusCode)
	}
}

// TestReportBadInputAndAuthz: a bad period, amount or format is a 400
// naming it; the help desk may read the report (kpis:read), an employee
// may not.
func TestReportBadInputAndAuthz(t *testing.T) {
	e := newEnv(t)
	e.withReport(t)
	admin := e.addUser(t, "admin@example.com", pw, false)
	e.setRole(t, admin, RoleAdmin)
	b := e.browser(t)
	b.signInPassword("admin@example.com", pw, "")
	e.keyUsed(t, admin)
	for q, field := range map[string]string{"period=2026-13": "period", "period=2026-Q5": "period", "period=nov": "period", "period=2026-11&initial_cost=-5": "initial_cost",
		"period=2026-11&savings.helpdesk=lots": "savings.helpdesk", "period=2026-11&currency=euro": "currency", "period=2026-11&format=xml": "format"} {
		if r := b.get(extURL + "/api/v1/report?" + q); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, `"field":"`+field+`"`) {
			t.Errorf("api %s: %d %s", q, r.StatusCode, r.body)
		}
		if !strings.Contains(q, "format") {
			if r := b.get(extURL + "/report?" + q); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, field) {
				t.Errorf("page %s: %d", q, r.StatusCode)
			}
		}
	}
	if r := b.get(extURL + "/report"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `value="`+e.clock.Now().UTC().Format("2006-01")+`"`) {
		t.Errorf("default period: %d", r.StatusCode)
	}
	if r := b.get(extURL + "/report?period=" + e.clock.Now().UTC().Format("2006") + "-Q1"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "-01-01 – ") {
		t.Errorf("quarter: %d", r.StatusCode)
	}

	hd := e.addUser(t, "hd@example.com", pw, false)
	e.setRole(t, hd, RoleHelpdesk)
	h := e.browser(t)
	h.signInPassword("hd@example.com", pw, "")
	e.keyUsed(t, hd)
	if r := h.get(extURL + "/report"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `href="/report"`) {
		t.Errorf("help desk page: %d", r.StatusCode)
	}
	if r := h.get(extURL + "/api/v1/report?format=csv"); r.StatusCode != http.StatusOK {
		t.Errorf("help desk export: %d", r.StatusCode)
	}
	e.addUser(t, "emp@example.com", pw, false)
	m := e.browser(t)
	m.signInPassword("emp@example.com", pw, "")
	for _, u := range []string{"/report", "/api/v1/report", "/report/export?format=csv"} {
		if r := m.get(extURL + u); r.StatusCode != http.StatusForbidden {
			t.Errorf("employee %s: %d", u, r.StatusCode)
		}
	}
	if r := m.get(extURL + "/"); strings.Contains(r.body, `href="/report"`) {
		t.Error("employee menu shows Report")
	}
}

// FuzzReportRange: the period parser never panics, and what it accepts is
// a month or a quarter that starts on the first of a month and ends after
// it.
func FuzzReportRange(f *testing.F) {
	for _, s := range []string{"2026-11", "2026-Q4", "2026-00", "2026-Q0", "", "2026-1", "9999-99", "2026-Q44"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		since, until, err := reportRange(s)
		if err != nil {
			return
		}
		if since.Day() != 1 || !until.After(since) || until.Sub(since) > 92*24*time.Hour {
			t.Errorf("%q: %v – %v", s, since, until)
		}
	})
}
