package console

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/kpi"
	"github.com/portier/portier/store"
)

// dashView is what the dashboard shows.
type dashView struct {
	Days     int
	Series   kpi.Series
	Filters  []dashFilter
	AsOf     string // when the latest snapshot was taken, "" for none
	Figures  []dashFigure
	Trust    []dashBar
	OS       []dashBar
	Updates  []dashBar
	Reasons  []dashBar
	Snapshot bool
}

// dashFilter is one dimension's select: its values and the chosen one.
type dashFilter struct {
	Name, LabelKey, Chosen string
	Values                 []string
}

// dashFigure is one KPI card.
type dashFigure struct {
	Key, Name, Definition, Target, Value string
	// State is "met", "missed" or "none" (no target or no data): the
	// card's CSS class.
	State string
	Chart dashChart
}

// dashChart is a trend as SVG geometry: polylines (one per run of days
// with data), the target line's y, and the labels of the axis ends.
type dashChart struct {
	Lines     []string
	Target    bool
	TargetY   string
	From, To  string
	Top, Zero string
	// LastX and LastY mark the newest day with data ("" when none).
	LastX, LastY string
	top          float64
}

// dashBar is one row of a distribution: a label, a count and its share as
// the width (0 to 100) of an SVG bar.
type dashBar struct {
	Label string
	Count uint64
	Width string
}

// Chart size in SVG user units.
const (
	chartW, chartH, chartPad = 300.0, 60.0, 3.0
)

// dashboardPage is GET /dashboard: each KPI with its definition, target,
// latest value and 30- or 90-day trend, from the daily snapshots, for the
// whole fleet or one department, group, platform, ownership or wave.
func (c *Console) dashboardPage(g *gin.Context) {
	days := 30
	if d := g.Query("days"); d != "" {
		if d != "30" && d != "90" {
			c.failPage(g, apperr.Field("days", "days is 30 or 90"))
			return
		}
		days, _ = strconv.Atoi(d)
	}
	v := g.Request.URL.Query()
	for _, k := range []string{"since", "until"} {
		v.Del(k) // the page shows the days up to today
	}
	// The page's one select names the series as dimension=value.
	if f := g.Query("filter"); f != "" {
		dim, val, ok := strings.Cut(f, "=")
		if !ok || !slices.Contains(kpiDimensions, dim) {
			c.failPage(g, apperr.Field("filter", "filter is one of %s, then = and a value", strings.Join(kpiDimensions, ", ")))
			return
		}
		v.Set(dim, val)
	}
	q, err := parseKPIQuery(v, c.now(), days)
	if err != nil {
		c.failPage(g, err)
		return
	}
	b, err := c.kpiBoard(g.Request.Context(), q)
	if err != nil {
		c.failPage(g, err)
		return
	}
	l, _ := c.opts.Store.KPISnapshots() // kpiBoard found it
	choices, err := kpi.Choices(g.Request.Context(), l, c.now())
	if err != nil {
		c.failPage(g, err)
		return
	}
	view := dashView{Days: days, Series: q.Series}
	for _, d := range kpiDimensions {
		f := dashFilter{Name: d, LabelKey: "dashboard.dim." + d, Values: choices[d]}
		if q.Series.Dimension == d {
			f.Chosen = q.Series.Value
		}
		if len(f.Values) > 0 || f.Chosen != "" {
			view.Filters = append(view.Filters, f)
		}
	}
	fr := ui.Pick(g.GetHeader("Accept-Language")) == "fr"
	for _, f := range b.Figures {
		view.Figures = append(view.Figures, c.dashFigure(g, f, fr))
	}
	if s := b.Latest; s != nil {
		view.Snapshot = true
		view.AsOf = s.TakenAt.UTC().Format("2006-01-02 15:04 UTC")
		view.Trust = bars(s.Counts.Trust, []string{"high", "medium", "low", "untrusted"})
		view.OS = bars(s.Counts.OSVersions, nil)
		view.Updates = bars(s.Counts.UpdatesBehind, store.UpdateBuckets)
		for i := range view.Updates {
			view.Updates[i].Label = c.t(g, "dashboard.updates."+view.Updates[i].Label)
		}
		view.Reasons = reasonBars(s.Counts.DenyReasons)
	}
	c.render(g, http.StatusOK, "dashboard", &ui.Page{TitleKey: "title.dashboard", Data: view})
}

// dashFigure formats one figure for its card.
func (c *Console) dashFigure(g *gin.Context, f kpi.Figure, fr bool) dashFigure {
	out := dashFigure{Key: f.Key, Name: c.t(g, "kpi."+f.Key), Definition: c.t(g, "kpi."+f.Key+".def"),
		Value: c.t(g, "dashboard.no_data")}
	if f.Known {
		out.Value = c.formatKPI(g, f.Unit, f.Value, fr)
	}
	out.Target, out.State = c.kpiTarget(g, f.Unit, f.Target, f.Known, f.Met, fr)
	out.Chart = chart(f)
	if f.Unit != kpi.UnitRatio {
		out.Chart.Top = c.formatKPI(g, f.Unit, out.Chart.top, fr)
	}
	if n := len(f.Trend); n > 0 {
		out.Chart.From, out.Chart.To = f.Trend[0].Day.Format("01-02"), f.Trend[n-1].Day.Format("01-02")
	}
	return out
}

// kpiTarget writes a figure's target ("no target" without one) and its
// state: "met" or "missed", or "none" without a target or a value.
func (c *Console) kpiTarget(g *gin.Context, unit string, t *kpi.Target, known, met, fr bool) (text, state string) {
	if t == nil {
		return c.t(g, "dashboard.no_target"), "none"
	}
	key := "dashboard.target_ge"
	if t.Op == "<=" {
		key = "dashboard.target_le"
	}
	state = "none"
	if known {
		state = map[bool]string{true: "met", false: "missed"}[met]
	}
	return c.t(g, key, c.formatKPI(g, unit, t.Value, fr)), state
}

// formatKPI writes a value in its unit: a percentage, a duration or a
// count (with a decimal comma in French).
func (c *Console) formatKPI(g *gin.Context, unit string, v float64, fr bool) string {
	var s string
	switch unit {
	case kpi.UnitRatio:
		s = strconv.FormatFloat(math.Round(v*1000)/10, 'f', -1, 64) + " %"
	case kpi.UnitSeconds:
		s = c.formatDuration(g, v)
	default:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if fr {
		s = strings.ReplaceAll(s, ".", ",")
	}
	return s
}

// formatDuration writes seconds as its two largest units (2 d 4 h,
// 3 min 20 s).
func (c *Console) formatDuration(g *gin.Context, secs float64) string {
	n := int64(math.Round(secs))
	units := []struct {
		size int64
		key  string
	}{{86400, "dashboard.unit.d"}, {3600, "dashboard.unit.h"}, {60, "dashboard.unit.min"}, {1, "dashboard.unit.s"}}
	var parts []string
	for _, u := range units {
		if q := n / u.size; q > 0 || (u.size == 1 && len(parts) == 0) {
			parts = append(parts, fmt.Sprintf("%d %s", q, c.t(g, u.key)))
			n -= q * u.size
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

// chart draws a figure's trend: y from 0 to 1 for a ratio, else from 0 to
// a little above the highest value or target.
func chart(f kpi.Figure) dashChart {
	top := 1.0
	if f.Unit != kpi.UnitRatio {
		for _, p := range f.Trend {
			top = max(top, p.Value)
		}
		if f.Target != nil {
			top = max(top, f.Target.Value)
		}
		top *= 1.1
	}
	y := func(v float64) float64 { return chartH - chartPad - (chartH-2*chartPad)*min(max(v/top, 0), 1) }
	step := 0.0
	if len(f.Trend) > 1 {
		step = (chartW - 2*chartPad) / float64(len(f.Trend)-1)
	}
	var ch dashChart
	var cur []string
	flush := func() {
		if len(cur) == 1 { // a lone day: a short flat line, so it shows
			x, yy, _ := strings.Cut(cur[0], ",")
			xv, _ := strconv.ParseFloat(x, 64)
			cur = append(cur, fmt.Sprintf("%.1f,%s", xv+2, yy))
		}
		if len(cur) > 0 {
			ch.Lines = append(ch.Lines, strings.Join(cur, " "))
		}
		cur = nil
	}
	for i, p := range f.Trend {
		if !p.Known {
			flush()
			continue
		}
		ch.LastX, ch.LastY = fmt.Sprintf("%.1f", chartPad+float64(i)*step), fmt.Sprintf("%.1f", y(p.Value))
		cur = append(cur, ch.LastX+","+ch.LastY)
	}
	flush()
	if f.Target != nil {
		ch.Target, ch.TargetY = true, fmt.Sprintf("%.1f", y(f.Target.Value))
	}
	ch.top = math.Round(top)
	if f.Unit == kpi.UnitRatio {
		ch.Top, ch.Zero = "100 %", "0 %"
	} else {
		ch.Zero = "0"
	}
	return ch
}

// bars lists a distribution in order (or by count, highest first, when
// order is nil), with each share as a bar width.
func bars(m map[string]int, order []string) []dashBar {
	total := 0
	for _, n := range m {
		total += n
	}
	keys := order
	if keys == nil {
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	}
	var out []dashBar
	for _, k := range keys {
		if n := m[k]; n > 0 {
			out = append(out, dashBar{Label: k, Count: uint64(n), Width: fmt.Sprintf("%.1f", 100*float64(n)/float64(total))})
		}
	}
	return out
}

// reasonBars lists the top deny reasons, each bar relative to the first.
func reasonBars(rs []store.ReasonCount) []dashBar {
	var out []dashBar
	for _, r := range rs {
		label := r.Code
		if r.Message != "" {
			label += ": " + r.Message
		}
		out = append(out, dashBar{Label: label, Count: r.Count, Width: fmt.Sprintf("%.1f", 100*float64(r.Count)/float64(rs[0].Count))})
	}
	return out
}
