package console

import (
	"context"
	"encoding/csv"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// statsRecord is a recorded decision hoursAgo hours before now.
func statsRecord(now time.Time, hoursAgo int, user, device, outcome string, count uint64) *store.DecisionRecord {
	at := now.Add(-time.Duration(hoursAgo)*time.Hour - time.Minute)
	r := &store.DecisionRecord{First: at, Last: at, Count: count, Route: "https://wiki.localhost", Policy: "staff",
		UserID: "u_" + user, User: user + "@example.com", Device: device, Outcome: outcome, Rules: []string{"staff-any-device"},
		Reasons: []store.DecisionReason{}}
	if outcome == "deny" {
		r.Rules = []string{}
		r.Reasons = []store.DecisionReason{{Code: "device_unmanaged", Message: "This device is not enrolled.", Remediation: "Enroll it."}}
	}
	store.RecordTimes(r)
	return r
}

// wouldDenyBYOD makes r's report-only policy "strict" deny it.
func wouldDenyBYOD(r *store.DecisionRecord) *store.DecisionRecord {
	r.ReportOnly = &store.Observed{Policy: "strict", Outcome: "deny", Rules: []string{"strict/deny-byod"},
		Reasons: []store.DecisionReason{{Code: "device.ownership", Message: "Personal devices may not open this."}}}
	return r
}

// linkWith is the first href in body starting with prefix, unescaped.
func linkWith(t *testing.T, body, prefix string) string {
	t.Helper()
	i := strings.Index(body, `href="`+prefix)
	if i < 0 {
		t.Fatalf("no link to %s in:\n%s", prefix, body)
	}
	link := body[i+len(`href="`):]
	return html.UnescapeString(link[:strings.IndexByte(link, '"')])
}

// TestDecisionStatsPage: the statistics page sums the recorded decisions
// of the chosen window (totals, top deny reasons with their people, each
// rule's hits as SVG bars), lists per report-only policy who would be
// denied with devices, counts and reasons and links to the policy editor
// and the explorer; the explorer link of a reason lists exactly its
// records; the API answers the same numbers; a bad window is a 400 page
// naming it; the help desk gets the 403 page.
func TestDecisionStatsPage(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	dl, err := e.st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	recs := []*store.DecisionRecord{
		statsRecord(now, 1, "ann", "dev_a", "allow", 2),
		statsRecord(now, 2, "ann", "dev_a", "allow", 5),
		statsRecord(now, 3, "bob", "", "deny", 3),
		wouldDenyBYOD(statsRecord(now, 4, "cy", "dev_c", "allow", 4)),
		wouldDenyBYOD(statsRecord(now, 5, "cy", "dev_c2", "allow", 1)),
		wouldDenyBYOD(statsRecord(now, 6, "dan", "dev_d", "allow", 1)),
		statsRecord(now, 72, "eve", "dev_e", "deny", 7), // three days ago: in 7d only
	}
	if err := dl.AppendDecisions(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	// A report-only policy no record names would deny nobody.
	if _, err := newTestRules(t, e.st).Put(context.Background(), rules.Actor{Name: "user:owner@example.com"}, rules.Change{Type: store.RulePolicy,
		ID: "quiet", Body: []byte("mode: report-only\nallow:\n  group: {has: staff}\n")}); err != nil {
		t.Fatal(err)
	}
	b := e.signedInAs(t, "sec@example.com", RoleSecurity)

	p := b.get(extURL + "/decisions/stats")
	if p.StatusCode != http.StatusOK {
		t.Fatalf("stats: %d\n%s", p.StatusCode, p.body)
	}
	// 24 h: 2+5+3+4+1+1 requests, 3 denied (bob); eve is older.
	if !strings.Contains(p.body, "16 requests, 3 denied.") || strings.Contains(p.body, "eve@example.com") {
		t.Fatalf("24 h totals:\n%s", p.body)
	}
	if !strings.Contains(p.body, `<tr data-reason="device_unmanaged"><td>`) || !strings.Contains(p.body, "<td>3</td><td>1</td>") {
		t.Errorf("deny reasons: want device_unmanaged with 3 requests from 1 person:\n%s", p.body)
	}
	// The report-only list: policy strict, rule strict/deny-byod, cy (5
	// requests from two devices) before dan (1), with the reason.
	for _, want := range []string{`href="/rules/policies/strict"`, "6 requests would be denied", "6 requests; people: 2; devices: 3",
		"<tr><td>cy@example.com</td><td><code>dev_c</code> <code>dev_c2</code> </td><td>5</td></tr>",
		"<tr><td>dan@example.com</td><td><code>dev_d</code> </td><td>1</td></tr>", "device.ownership", "Personal devices may not open this."} {
		if !strings.Contains(p.body, want) {
			t.Errorf("would-deny list lacks %q", want)
		}
	}
	if !strings.Contains(p.body, "<code>quiet</code> — would deny nobody in this window <a href=\"/rules/policies/quiet\">") {
		t.Error("the quiet report-only policy is not listed")
	}
	if strings.Index(p.body, "cy@example.com") > strings.Index(p.body, "dan@example.com") {
		t.Error("the person with the most requests is not first")
	}
	// One chart per rule and outcome, one bar per hour with hits.
	if n := strings.Count(p.body, `<figure class="rule-chart" data-rule="staff-any-device" data-outcome="allow">`); n != 1 {
		t.Errorf("%d staff-any-device charts", n)
	}
	chart := p.body[strings.Index(p.body, `data-rule="staff-any-device"`):]
	chart = chart[:strings.Index(chart, "</svg>")]
	if n := strings.Count(chart, `<rect class="bar bar-allow"`); n != 5 || !strings.Contains(chart, "13 requests, at most 5 in one bar") {
		t.Errorf("staff-any-device chart: %d bars\n%s", n, chart)
	}
	if strings.Contains(p.body, " style=") || strings.Contains(p.body, "<script>") {
		t.Error("inline style or script on the statistics page")
	}

	// The reason's link opens the explorer on its records only.
	wl := linkWith(t, p.body[strings.Index(p.body, `class="would-deny"`):], "/decisions?")
	if wp := b.get(extURL + wl); !strings.Contains(wp.body, "cy@example.com") || !strings.Contains(wp.body, "dan@example.com") ||
		strings.Contains(wp.body, "ann@example.com") || strings.Contains(wp.body, "bob@example.com") {
		t.Errorf("explorer from the would-deny link %s:\n%s", wl, wp.body)
	}
	link := linkWith(t, p.body[strings.Index(p.body, `id="deny-reasons"`):], "/decisions?")
	u, _ := url.Parse(link)
	if q := u.Query(); q.Get("reason") != "device_unmanaged" || q.Get("outcome") != "deny" || q.Get("since") == "" {
		t.Fatalf("reason link %s", link)
	}
	ex := b.get(extURL + link)
	if ex.StatusCode != http.StatusOK || !strings.Contains(ex.body, "bob@example.com") || strings.Contains(ex.body, "ann@example.com") ||
		!strings.Contains(ex.body, "reason=device_unmanaged") {
		t.Fatalf("explorer from the reason link: %d\n%s", ex.StatusCode, ex.body)
	}
	// Its CSV export carries the same filters.
	exp := b.get(extURL + linkWith(t, ex.body, "/decisions/export?"))
	rows, err := csv.NewReader(strings.NewReader(exp.body)).ReadAll()
	if err != nil || exp.StatusCode != http.StatusOK || !strings.HasPrefix(exp.Header.Get("Content-Type"), "text/csv") ||
		len(rows) != 2 || rows[1][6] != "bob@example.com" {
		t.Fatalf("export: %d %v %q", exp.StatusCode, err, exp.body)
	}

	week := b.get(extURL + "/decisions/stats?window=7d&user=")
	if !strings.Contains(week.body, "23 requests, 10 denied.") || !strings.Contains(week.body, "One bar per hour") {
		t.Errorf("7 d totals:\n%s", week.body)
	}
	month := b.get(extURL + "/decisions/stats?window=30d&user=eve%40example.com")
	if !strings.Contains(month.body, "7 requests, 7 denied.") || !strings.Contains(month.body, "One bar per day") ||
		strings.Contains(month.body, "<code>strict</code>") || !strings.Contains(month.body, "<code>quiet</code> — would deny nobody") {
		t.Errorf("30 d, eve only:\n%s", month.body)
	}
	if bad := b.get(extURL + "/decisions/stats?window=1y"); bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.body, "window") {
		t.Errorf("bad window: %d\n%s", bad.StatusCode, bad.body)
	}

	// The API answers the same numbers from the same code.
	req, err := ParseStatsQuery(url.Values{"window": {"24h"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.ComputeDecisionStats(context.Background(), dl, req.Q, req.Bucket)
	if err != nil || st.Requests != 16 || st.Denied != 3 || len(st.WouldDeny) != 1 || st.WouldDeny[0].UserCount != 2 {
		t.Fatalf("stats: %+v, %v", st, err)
	}

	hb := e.signedInAs(t, "help@example.com", RoleHelpdesk)
	for _, path := range []string{"/decisions/stats", "/decisions/export"} {
		if p := hb.get(extURL + path); p.StatusCode != http.StatusForbidden || strings.Contains(p.body, "bob@example.com") {
			t.Errorf("helpdesk %s: %d", path, p.StatusCode)
		}
	}
}

// FuzzParseStatsQuery: any query string either gives a non-empty window
// with an hour or day bucket, or is refused as a 400 naming a parameter;
// it never panics.
func FuzzParseStatsQuery(f *testing.F) {
	for _, s := range []string{"", "window=7d", "window=30d&route=https://wiki.localhost", "window=1y", "window=24h&since=2026-01-01T00:00:00Z",
		"since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z&bucket=hour", "bucket=week", "outcome=deny", "window=7d&window=30d",
		"user=ann@example.com&device=dev_1", "until=2020-01-01T00:00:00Z"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := ParseStatsQuery(v, now)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field == "" {
				t.Fatalf("%q: error %v is not a 400 naming a parameter", raw, err)
			}
			return
		}
		if !req.Q.Since.Before(req.Q.Until) || (req.Bucket != time.Hour && req.Bucket != 24*time.Hour) {
			t.Fatalf("%q: window %v–%v, bucket %v", raw, req.Q.Since, req.Q.Until, req.Bucket)
		}
		if req.Window != "" && !req.Q.Until.Equal(now) {
			t.Fatalf("%q: a window that does not end now", raw)
		}
	})
}
