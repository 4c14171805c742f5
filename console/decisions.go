package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
)

// defaultDecisionPage is the page size of GET /api/v1/decisions without ?limit=.
const defaultDecisionPage = 100

// defaultStatsWindow is the window of GET /api/v1/decisions/stats without ?since=.
const defaultStatsWindow = 24 * time.Hour

// decisionParams are the query parameters the decision endpoints take.
var decisionParams = map[string]bool{"since": true, "until": true, "user": true, "device": true, "route": true,
	"outcome": true, "rule": true, "reason": true, "report_only": true, "cursor": true, "limit": true, "format": true, "bucket": true}

// ParseDecisionQuery reads the decision explorer's filters from a URL
// query: since, until (RFC 3339), user, device, route, outcome, rule,
// reason (a reason code), report_only (true or false), cursor and limit. An error names the
// parameter at fault.
func ParseDecisionQuery(v url.Values) (store.DecisionQuery, error) {
	q := store.DecisionQuery{User: v.Get("user"), Device: v.Get("device"), Route: strings.TrimSuffix(v.Get("route"), "/"),
		Rule: v.Get("rule"), Reason: v.Get("reason"), Limit: defaultDecisionPage}
	for k, vals := range v {
		if k == "" {
			return q, apperr.Field("query", "a parameter has no name")
		}
		if !decisionParams[k] {
			return q, apperr.Field(k, "unknown parameter %q", k)
		}
		if len(vals) > 1 {
			return q, apperr.Field(k, "%s is given more than once", k)
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, apperr.Field(f.name, "%s must be an RFC 3339 time such as 2026-01-31T00:00:00Z", f.name)
			}
			*f.dst = t.UTC()
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, apperr.Field("until", "until must be after since")
	}
	if s := v.Get("outcome"); s != "" {
		var o policy.Outcome
		if err := o.UnmarshalText([]byte(s)); err != nil {
			return q, apperr.Field("outcome", "outcome must be allow, deny, step-up or allow-restricted")
		}
		q.Outcome = s
	}
	switch s := v.Get("report_only"); s {
	case "":
	case "true", "false":
		b := s == "true"
		q.ReportOnly = &b
	default:
		return q, apperr.Field("report_only", "report_only must be true or false")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxDecisionPage {
			return q, apperr.Field("limit", "limit must be a number from 1 to %d", store.MaxDecisionPage)
		}
		q.Limit = n
	}
	if s := v.Get("cursor"); s != "" {
		c, err := store.ParseDecisionCursor(s)
		if err != nil {
			return q, apperr.Field("cursor", "cursor must be a next_cursor this API returned")
		}
		q.After = c
	}
	return q, nil
}

// decisionLog is the store's decision log, or a 503 when the backend keeps none.
func (c *Console) decisionLog() (store.DecisionLog, error) {
	dl, err := c.opts.Store.Decisions()
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "this server keeps no recorded access")
	}
	return dl, nil
}

// listDecisions answers one page of recorded access, newest first, with
// next_cursor set when more records match.
func (c *Console) listDecisions(g *gin.Context) {
	v := g.Request.URL.Query()
	for _, k := range []string{"format", "bucket"} {
		if v.Has(k) {
			c.fail(g, apperr.Field(k, "unknown parameter %q (the export and the stats take it)", k))
			return
		}
	}
	q, err := ParseDecisionQuery(v)
	if err != nil {
		c.fail(g, err)
		return
	}
	dl, err := c.decisionLog()
	if err != nil {
		c.fail(g, err)
		return
	}
	recs, next, err := decisionPage(g.Request.Context(), dl, q)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"decisions": recs, "next_cursor": next})
}

// decisionPage is one page of recorded access for q, newest first, and the
// cursor of the next page ("" when no more records match): the API's list
// and the explorer page.
func decisionPage(ctx context.Context, dl store.DecisionLog, q store.DecisionQuery) ([]*store.DecisionRecord, string, error) {
	recs, err := dl.QueryDecisions(ctx, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) == q.PageLimit() {
		probe := q
		probe.After, probe.Limit = store.CursorOf(recs[len(recs)-1]), 1
		more, err := dl.QueryDecisions(ctx, probe)
		if err != nil {
			return nil, "", err
		}
		if len(more) > 0 {
			next = probe.After.String()
		}
	}
	if recs == nil {
		recs = []*store.DecisionRecord{}
	}
	return recs, next, nil
}

// decisionStats answers the top deny reasons, per-rule hits per hour or
// day, and what report-only policies would deny, over a window (the last
// 24 hours by default): the numbers of the statistics page.
func (c *Console) decisionStats(g *gin.Context) {
	req, st, err := c.statsFor(g.Request.Context(), g.Request.URL.Query())
	if err != nil {
		c.fail(g, err)
		return
	}
	q := req.Q
	g.JSON(http.StatusOK, gin.H{"since": q.Since, "until": q.Until, "window": req.Window, "route": q.Route, "user": q.User,
		"device": q.Device, "bucket": req.BucketName(), "stats": st})
}

// decisionCSVColumns are the columns of the decisions CSV export.
var decisionCSVColumns = []string{"hour", "first", "last", "count", "route", "policy", "user", "user_id", "device",
	"outcome", "rules", "reasons", "remediation", "report_only_policy", "report_only_outcome", "report_only_rules",
	"groups", "idp", "mfa_age", "session_age", "trust", "ownership", "platform", "compliant", "checks", "key",
	"ip", "country", "method", "path"}

// exportDecisions streams every record matching the filters, newest
// first, as CSV (or JSON lines with format=jsonl). The export is audited
// before anything is sent: it holds personal data.
func (c *Console) exportDecisions(g *gin.Context) {
	c.writeDecisionsExport(g, g.Request.URL.Query(), c.fail)
}

// writeDecisionsExport is the export of the records matching v's filters,
// for the API and the explorer page (fail answers an error each its way).
func (c *Console) writeDecisionsExport(g *gin.Context, v url.Values, fail func(*gin.Context, error)) {
	format := v.Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "jsonl" {
		fail(g, apperr.Field("format", "format must be csv or jsonl"))
		return
	}
	q, err := ParseDecisionQuery(v)
	if err != nil {
		fail(g, err)
		return
	}
	if v.Get("cursor") != "" || v.Get("limit") != "" {
		fail(g, apperr.Field("cursor", "the export takes the filters only, not cursor or limit"))
		return
	}
	dl, err := c.decisionLog()
	if err != nil {
		fail(g, err)
		return
	}
	ctx := g.Request.Context()
	detail := map[string]string{"format": format}
	for k := range decisionParams {
		if s := v.Get(k); s != "" && k != "format" {
			detail[k] = s
		}
	}
	x, ok := c.startExport(g, fail, "decisions.export", "decisions", format, detail, decisionCSVColumns)
	if !ok {
		return
	}
	err = dl.ScanDecisions(ctx, q, func(r *store.DecisionRecord) error {
		return x.write(r, func() []string { return decisionRow(r) })
	})
	x.flush()
	if err != nil {
		// The status line is sent: end the body short; the log says why.
		c.opts.Log.Error("console: decisions export stopped", "err", err)
	}
}

// decisionRow is one record as CSV cells, defused like the audit export.
func decisionRow(r *store.DecisionRecord) []string {
	var codes, fixes []string
	for _, rs := range r.Reasons {
		codes = append(codes, rs.Code)
		if rs.Remediation != "" {
			fixes = append(fixes, rs.Remediation)
		}
	}
	var roPolicy, roOutcome, roRules string
	if ro := r.ReportOnly; ro != nil {
		roPolicy, roOutcome, roRules = ro.Policy, ro.Outcome, strings.Join(ro.Rules, " ")
	}
	f := &r.Facts
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	return defuseCSV([]string{ts(r.Hour), ts(r.First), ts(r.Last), strconv.FormatUint(r.Count, 10), r.Route, r.Policy,
		r.User, r.UserID, r.Device, r.Outcome, strings.Join(r.Rules, " "), strings.Join(codes, " "), strings.Join(fixes, " | "),
		roPolicy, roOutcome, roRules, strings.Join(f.Groups, " "), f.IdP, f.MFAAge, f.SessionAge, f.Trust, f.Ownership,
		f.Platform, strconv.FormatBool(f.Compliant), strings.Join(f.Checks, " "), f.Key, f.IP, f.Country, f.Method, f.Path})
}
