package console

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// statsView is what the statistics page shows: the numbers of GET
// /api/v1/decisions/stats for the chosen window and filters, with the
// links into the explorer and the policy editor.
type statsView struct {
	// Filter is the page's filters as typed (window, user, route, device).
	Filter      url.Values
	Since       time.Time
	Until       time.Time
	Bucket      string
	Stats       *store.DecisionStats
	DenyReasons []reasonRow
	Charts      []ruleChart
	Policies    []wouldPolicy
}

// Windows are the windows the page offers.
func (statsView) Windows() []string { return []string{"24h", "7d", "30d"} }

// reasonRow is a top deny reason with the explorer's list of its records.
type reasonRow struct {
	store.ReasonCount
	Link string
}

// ruleChart is one rule's hits per bucket as the bars of an inline SVG
// (geometry in viewBox units; the look is portier.css's).
type ruleChart struct {
	Rule, Outcome string
	Total, Max    uint64
	Bars          []chartBar
	Link          string
}

// chartBar is one bucket's bar; Title is its tooltip.
type chartBar struct {
	X, Y, W, H string
	Title      string
}

// Chart geometry, in viewBox units.
const (
	chartWidth  = 720
	chartHeight = 80
)

// ChartWidth is the charts' viewBox width.
func (statsView) ChartWidth() int { return chartWidth }

// ChartHeight is the charts' viewBox height.
func (statsView) ChartHeight() int { return chartHeight }

// wouldPolicy is one report-only policy's would-deny groups (one per
// rule), with the link to its editor.
type wouldPolicy struct {
	Policy string
	Editor string
	Count  uint64
	Rules  []wouldRow
}

// wouldRow is one would-deny group with the explorer's list of its records.
type wouldRow struct {
	store.WouldDeny
	Link string
}

// decisionStatsPage is GET /decisions/stats: over a window (24 h, 7 d or
// 30 d, or since/until) and the explorer's user, route and device
// filters, the top deny reasons, each rule's hits over time, and for each
// report-only policy who would be denied if it were enforced.
func (c *Console) decisionStatsPage(g *gin.Context) {
	v := filledValues(g.Request.URL.Query())
	if !v.Has("window") && !v.Has("since") && !v.Has("until") {
		v.Set("window", "24h")
	}
	req, st, err := c.statsFor(g.Request.Context(), v)
	if err != nil {
		c.failPage(g, err)
		return
	}
	view := statsView{Filter: v, Since: req.Q.Since, Until: req.Q.Until, Bucket: req.BucketName(), Stats: st}
	base := explorerFilter(req.Q)
	for _, r := range st.DenyReasons {
		view.DenyReasons = append(view.DenyReasons, reasonRow{r, explorerLink(base, "outcome", "deny", "reason", r.Code)})
	}
	for _, rh := range st.Rules {
		view.Charts = append(view.Charts, chartOf(rh, req, base))
	}
	view.Policies = groupWouldDeny(st.WouldDeny, base)
	view.Policies = append(view.Policies, c.quietReportOnly(view.Policies)...)
	c.render(g, http.StatusOK, "decision_stats", &ui.Page{TitleKey: "title.decision_stats", Data: view})
}

// explorerFilter is the explorer's filters for the records q summed.
func explorerFilter(q store.DecisionQuery) url.Values {
	v := url.Values{}
	v.Set("since", q.Since.UTC().Format(time.RFC3339))
	v.Set("until", q.Until.UTC().Format(time.RFC3339))
	for k, s := range map[string]string{"user": q.User, "route": q.Route, "device": q.Device} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// explorerLink is the explorer page with base's filters and the pairs kv.
func explorerLink(base url.Values, kv ...string) string {
	v := url.Values{}
	for k, vals := range base {
		v[k] = vals
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "/decisions?" + v.Encode()
}

// chartOf draws rh's buckets over the whole window, empty buckets
// included, the highest bar at the chart's full height.
func chartOf(rh store.RuleHits, req StatsRequest, base url.Values) ruleChart {
	ch := ruleChart{Rule: rh.Rule, Outcome: rh.Outcome, Total: rh.Total,
		Link: explorerLink(base, "rule", rh.Rule, "outcome", rh.Outcome)}
	counts := map[int64]uint64{}
	for _, b := range rh.Buckets {
		counts[b.At.Unix()] = b.Count
		ch.Max = max(ch.Max, b.Count)
	}
	first := req.Q.Since.Truncate(req.Bucket)
	n := int(req.Q.Until.Sub(first)/req.Bucket) + 1
	if !first.Add(time.Duration(n-1) * req.Bucket).Before(req.Q.Until) {
		n-- // until falls on a bucket's start: that bucket is outside
	}
	w := float64(chartWidth) / float64(n)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	layout := "2006-01-02 15:00"
	if req.Bucket > time.Hour {
		layout = "2006-01-02"
	}
	for i := range n {
		at := first.Add(time.Duration(i) * req.Bucket)
		cnt := counts[at.Unix()]
		if cnt == 0 {
			continue
		}
		h := float64(chartHeight) * float64(cnt) / float64(ch.Max)
		ch.Bars = append(ch.Bars, chartBar{X: f(float64(i) * w), Y: f(chartHeight - h), W: f(max(w-1, w*0.8)), H: f(h),
			Title: at.UTC().Format(layout) + " UTC: " + strconv.FormatUint(cnt, 10)})
	}
	return ch
}

// groupWouldDeny groups the would-deny list by policy, the policy with the
// most requests first, with links to its editor and to the explorer.
func groupWouldDeny(list []store.WouldDeny, base url.Values) []wouldPolicy {
	var out []wouldPolicy
	at := map[string]int{}
	for _, w := range list {
		i, ok := at[w.Policy]
		if !ok {
			i = len(out)
			at[w.Policy] = i
			out = append(out, wouldPolicy{Policy: w.Policy, Editor: "/rules/policies/" + url.PathEscape(w.Policy)})
		}
		kv := []string{"report_only", "true", "outcome", "deny"}
		if w.Rule != "" {
			kv = append(kv, "rule", w.Rule)
		}
		out[i].Count += w.Count
		out[i].Rules = append(out[i].Rules, wouldRow{w, explorerLink(base, kv...)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}

// quietReportOnly is the live report-only policies that are not in
// listed: they would have denied nobody in the window.
func (c *Console) quietReportOnly(listed []wouldPolicy) []wouldPolicy {
	seen := map[string]bool{}
	for _, p := range listed {
		seen[p.Policy] = true
	}
	var out []wouldPolicy
	for _, r := range sortedLive(c.opts.Store.Policies()) {
		if !seen[r.ID] && viewRule(r).Mode == rules.ModeReportOnly {
			out = append(out, wouldPolicy{Policy: r.ID, Editor: "/rules/policies/" + url.PathEscape(r.ID)})
		}
	}
	return out
}
