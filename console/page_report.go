package console

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/store"
)

// reportView is what the report page shows: the report with its figures
// formatted, the what-if form's values and the export links.
type reportView struct {
	R            *execReport
	Range        string
	KPIs         []reportKPIRow
	Wipes        []reportWipeRow
	WipeMedian   string
	WipeMax      string
	DenyMedian   string
	Query        string // the page's query, for the export links
	Currency     string
	Initial      string
	Licences     string
	Hosting      string
	Savings      []savingRow
	YearlyCosts  string
	YearlySaving string
	ThreeYear    string
	PerDevice    string
	ROI          string
}

// savingRow is one savings category of the page, its amount written out.
type savingRow struct{ Category, Amount string }

// reportKPIRow is one KPI row of the page.
type reportKPIRow struct {
	Key, Name, Target, End, Min, Avg, State string
}

// reportWipeRow is one wipe of the page.
type reportWipeRow struct {
	Device, Hostname, Type, Status, RequestedAt, Response string
}

// reportFor builds the report the request asks for: ?period= (a month or
// a quarter; the current month when absent) and the cost overrides.
func (c *Console) reportFor(g *gin.Context) (*execReport, error) {
	p := g.Query("period")
	if p == "" {
		p = c.now().UTC().Format("2006-01")
	}
	since, until, err := reportRange(p)
	if err != nil {
		return nil, err
	}
	in, err := costInputsOf(c.opts.Report, g.Request.URL.Query())
	if err != nil {
		return nil, err
	}
	return c.buildReport(g.Request.Context(), p, since, until, c.now(), in)
}

// reportPage is GET /report: the printable executive report.
func (c *Console) reportPage(g *gin.Context) {
	r, err := c.reportFor(g)
	if err != nil {
		c.failPage(g, err)
		return
	}
	fr := ui.Pick(g.GetHeader("Accept-Language")) == "fr"
	q := g.Request.URL.Query()
	q.Set("period", r.Period)
	v := reportView{R: r, Range: periodLabel(r.Since, r.Until), Query: q.Encode(), Currency: r.Cost.Currency,
		Initial: num(r.Cost.Initial), Licences: num(r.Cost.Licences), Hosting: num(r.Cost.Hosting),
		YearlyCosts: num(r.Cost.YearlyCosts), YearlySaving: num(r.Cost.YearlySavings), ThreeYear: num(r.Cost.ThreeYearCost),
		DenyMedian: num(r.Incidents.DenyMedian), PerDevice: "–", ROI: "–"}
	for _, sv := range r.Cost.Savings {
		v.Savings = append(v.Savings, savingRow{sv.Category, num(sv.Amount)})
	}
	for _, k := range r.KPIs {
		row := reportKPIRow{Key: k.Key, Name: c.t(g, "kpi."+k.Key), End: "–", Min: "–", Avg: "–"}
		if k.Known {
			row.End, row.Min, row.Avg = c.formatKPI(g, k.Unit, k.End, fr), c.formatKPI(g, k.Unit, k.Min, fr), c.formatKPI(g, k.Unit, round2(k.Avg), fr)
		}
		row.Target, row.State = c.kpiTarget(g, k.Unit, k.Target, k.Known, k.Met, fr)
		v.KPIs = append(v.KPIs, row)
	}
	for _, w := range r.Incidents.Wipes.List {
		row := reportWipeRow{Device: w.Device, Hostname: w.Hostname, Type: w.Type, Status: w.Status,
			RequestedAt: w.RequestedAt.UTC().Format("2006-01-02 15:04 UTC"), Response: "–"}
		if w.Status == store.ActionAcknowledged {
			row.Response = c.formatDuration(g, w.Seconds)
		}
		v.Wipes = append(v.Wipes, row)
	}
	if r.Incidents.Wipes.Acknowledged > 0 {
		v.WipeMedian, v.WipeMax = c.formatDuration(g, r.Incidents.Wipes.MedianSeconds), c.formatDuration(g, r.Incidents.Wipes.MaxSeconds)
	}
	if r.Cost.PerDeviceKnown {
		v.PerDevice = num(r.Cost.PerDevice) + " " + r.Cost.Currency
	}
	if r.Cost.ROIKnown {
		v.ROI = num(r.Cost.ROI*100) + " %"
	}
	c.render(g, http.StatusOK, "report", &ui.Page{TitleKey: "title.report", Data: v})
}

// round2 rounds to two decimals (a mean of counts).
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// exportReport is GET /api/v1/report?period=…&format=json|csv.
func (c *Console) exportReport(g *gin.Context) { c.sendReport(g, c.fail) }

// exportReportPage is GET /report/export: the same file for the page's
// links (session-authenticated).
func (c *Console) exportReportPage(g *gin.Context) { c.sendReport(g, c.failPage) }

// reportColumns are the CSV export's columns.
var reportColumns = []string{"section", "item", "measure", "value", "hostname"}

// sendReport writes the report as one JSON document or as CSV rows of
// section, item, measure and value; audited as report.export.
func (c *Console) sendReport(g *gin.Context, fail func(*gin.Context, error)) {
	format := g.DefaultQuery("format", "json")
	if format != "json" && format != "csv" {
		fail(g, apperr.Field("format", "format is json or csv"))
		return
	}
	r, err := c.reportFor(g)
	if err != nil {
		fail(g, err)
		return
	}
	x, ok := c.startExport(g, fail, "report.export", "report-"+r.Period, format, map[string]string{"period": r.Period, "format": format}, reportColumns)
	if !ok {
		return
	}
	if format == "json" {
		g.Header("Content-Type", "application/json")
		_ = json.NewEncoder(g.Writer).Encode(r)
		return
	}
	for _, row := range reportRows(r) {
		if err := x.write(nil, func() []string { return defuseCSV(row) }); err != nil {
			return
		}
	}
	x.flush()
}

// reportRows are the report as CSV rows.
func reportRows(r *execReport) [][]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	rows := [][]string{{"period", r.Period, "since", r.Since.Format("2006-01-02")}, {"period", r.Period, "until", r.Until.Format("2006-01-02")}}
	for _, k := range r.KPIs {
		if k.Target != nil {
			rows = append(rows, []string{"kpi", k.Key, "target", k.Target.Op + " " + f(k.Target.Value)})
		}
		if k.Known {
			rows = append(rows, []string{"kpi", k.Key, "end", f(k.End)}, []string{"kpi", k.Key, "min", f(k.Min)},
				[]string{"kpi", k.Key, "avg", f(k.Avg)}, []string{"kpi", k.Key, "met", strconv.FormatBool(k.Met)})
		}
	}
	in := r.Incidents
	rows = append(rows, []string{"incident", "rooted", "count", strconv.Itoa(len(in.Rooted))})
	for _, d := range in.Rooted {
		rows = append(rows, []string{"incident", "rooted", d.Device, ts(d.At), d.Hostname})
	}
	rows = append(rows, []string{"incident", "lost", "count", strconv.Itoa(len(in.Lost))})
	for _, d := range in.Lost {
		rows = append(rows, []string{"incident", "lost", d.Device, ts(d.At), d.Hostname})
	}
	w := in.Wipes
	rows = append(rows, []string{"wipes", "requested", "count", strconv.Itoa(w.Requested)}, []string{"wipes", "acknowledged", "count", strconv.Itoa(w.Acknowledged)},
		[]string{"wipes", "response", "median_seconds", f(w.MedianSeconds)}, []string{"wipes", "response", "max_seconds", f(w.MaxSeconds)})
	for _, x := range w.List {
		rows = append(rows, []string{"wipe", x.Device, x.Type + " " + x.Status, f(x.Seconds), x.Hostname})
	}
	rows = append(rows, []string{"denied", "daily", "median", f(in.DenyMedian)})
	for _, b := range in.Bursts {
		rows = append(rows, []string{"denied", "burst", b.Day.Format("2006-01-02"), strconv.FormatUint(b.Denied, 10)})
	}
	fl, co := r.Fleet, r.Cost
	rows = append(rows, []string{"fleet", "devices", "start", strconv.Itoa(fl.Start)}, []string{"fleet", "devices", "end", strconv.Itoa(fl.End)},
		[]string{"fleet", "devices", "change", strconv.Itoa(fl.Change)}, []string{"fleet", "expected", "end", strconv.Itoa(fl.Expected)},
		[]string{"cost", "currency", "code", co.Currency}, []string{"cost", "initial_cost", "amount", f(co.Initial)},
		[]string{"cost", "yearly_licences", "amount", f(co.Licences)}, []string{"cost", "yearly_hosting", "amount", f(co.Hosting)})
	for _, s := range co.Savings {
		rows = append(rows, []string{"cost", "savings." + s.Category, "amount", f(s.Amount)})
	}
	rows = append(rows, []string{"cost", "three_year_cost", "amount", f(co.ThreeYearCost)},
		[]string{"cost", "cost_per_device_per_year", PerDeviceFormula, fmt.Sprint(map[bool]string{true: num(co.PerDevice)}[co.PerDeviceKnown])},
		[]string{"cost", "roi", ROIFormula, fmt.Sprint(map[bool]string{true: f(co.ROI)}[co.ROIKnown])})
	for i := range rows {
		if len(rows[i]) < len(reportColumns) {
			rows[i] = append(rows[i], "")
		}
	}
	return rows
}
