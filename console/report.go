package console

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/kpi"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// execReport is the executive report of one month or quarter: the KPIs
// against their targets, the incidents, the fleet's growth and the cost
// view. The page, the JSON and the CSV export all show this one value.
type execReport struct {
	Period    string         `json:"period"`
	Since     time.Time      `json:"since"`
	Until     time.Time      `json:"until"` // exclusive
	KPIs      []reportKPI    `json:"kpis"`
	Incidents reportIncident `json:"incidents"`
	Fleet     reportFleet    `json:"fleet"`
	Cost      reportCost     `json:"cost"`
}

// reportKPI is one KPI over the period: its value on the last day with a
// snapshot (End), and the lowest and mean of the days with data.
type reportKPI struct {
	Key    string      `json:"key"`
	Unit   string      `json:"unit"`
	Target *kpi.Target `json:"target,omitempty"`
	Known  bool        `json:"known"` // some day had data
	End    float64     `json:"end"`
	Min    float64     `json:"min"`
	Avg    float64     `json:"avg"`
	Days   int         `json:"days"` // days with data
	Met    bool        `json:"met"`  // End reaches Target
}

// reportIncident lists the period's incidents.
type reportIncident struct {
	Rooted []reportDevice `json:"rooted"` // found rooted or jailbroken
	Lost   []reportDevice `json:"lost"`   // reported lost or stolen
	Wipes  reportWipes    `json:"wipes"`
	// DenyMedian is the median of denied requests per day; Bursts the
	// days whose denies exceed BurstFactor times it.
	DenyMedian float64       `json:"deny_median"`
	Bursts     []reportBurst `json:"bursts"`
}

// reportDevice is a device an incident names, and when.
type reportDevice struct {
	Device   string    `json:"device"`
	Hostname string    `json:"hostname"`
	At       time.Time `json:"at"`
}

// reportWipes are the wipes (full or selective) requested in the period,
// with the request-to-acknowledgement times of those acknowledged.
type reportWipes struct {
	Requested     int          `json:"requested"`
	Acknowledged  int          `json:"acknowledged"`
	MedianSeconds float64      `json:"median_seconds"`
	MaxSeconds    float64      `json:"max_seconds"`
	List          []reportWipe `json:"list"`
}

// reportWipe is one wipe request.
type reportWipe struct {
	Device      string    `json:"device"`
	Hostname    string    `json:"hostname"`
	Type        string    `json:"type"`
	Status      string    `json:"status"`
	RequestedAt time.Time `json:"requested_at"`
	Seconds     float64   `json:"response_seconds"` // 0 unless acknowledged
}

// reportBurst is a day of unusually many denied requests.
type reportBurst struct {
	Day    time.Time `json:"day"`
	Denied uint64    `json:"denied"`
}

// reportFleet is the managed fleet on the first and last days of the
// period that have a snapshot.
type reportFleet struct {
	Known    bool      `json:"known"`
	StartDay time.Time `json:"start_day"`
	EndDay   time.Time `json:"end_day"`
	Start    int       `json:"start"`
	End      int       `json:"end"`
	Change   int       `json:"change"`
	Expected int       `json:"expected"` // pre-registered devices at the end
}

// BurstFactor: a day is a burst of denied access when its denies exceed
// this many times the period's daily median.
const BurstFactor = 3

// reportRange parses a period: a month (2026-11) or a quarter (2026-Q4),
// and returns its first day and the day after its last.
func reportRange(p string) (since, until time.Time, err error) {
	bad := apperr.Field("period", "period is a month such as 2026-11 or a quarter such as 2026-Q4")
	m := periodRe.FindStringSubmatch(p)
	if m == nil {
		return since, until, bad
	}
	y, _ := strconv.Atoi(m[1])
	if m[2] != "" {
		mo, _ := strconv.Atoi(m[2])
		if mo < 1 || mo > 12 {
			return since, until, bad
		}
		since = time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
		return since, since.AddDate(0, 1, 0), nil
	}
	q, _ := strconv.Atoi(m[3])
	if q < 1 || q > 4 {
		return since, until, bad
	}
	since = time.Date(y, time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC)
	return since, since.AddDate(0, 3, 0), nil
}

var periodRe = regexp.MustCompile(`^(2\d{3})-(?:(\d{2})|Q(\d))$`)

// buildReport computes the report of [since, until) as of now.
func (c *Console) buildReport(ctx context.Context, period string, since, until, now time.Time, in costInputs) (*execReport, error) {
	r := &execReport{Period: period, Since: since, Until: until, KPIs: []reportKPI{}}
	snaps, err := c.reportSnapshots(ctx, since, until)
	if err != nil {
		return nil, err
	}
	r.KPIs = reportKPIs(snaps)
	if n := len(snaps); n > 0 {
		first, last := snaps[0], snaps[n-1]
		r.Fleet = reportFleet{Known: true, StartDay: first.Day, EndDay: last.Day, Start: first.Counts.Devices, End: last.Counts.Devices,
			Change: last.Counts.Devices - first.Counts.Devices, Expected: last.Counts.Expected}
	}
	if r.Incidents, err = c.reportIncidents(ctx, since, until, now); err != nil {
		return nil, err
	}
	r.Cost = computeCost(in, r.Fleet.End)
	return r, nil
}

// reportSnapshots reads the whole fleet's snapshots of the period, oldest
// first; none when the backend keeps none.
func (c *Console) reportSnapshots(ctx context.Context, since, until time.Time) ([]*store.KPISnapshot, error) {
	l, err := c.opts.Store.KPISnapshots()
	if errors.Is(err, store.ErrNoKPISnapshots) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return l.QueryKPISnapshots(ctx, store.KPISnapshotQuery{Since: since, Until: until})
}

// reportKPIs sums each KPI over the snapshots.
func reportKPIs(snaps []*store.KPISnapshot) []reportKPI {
	out := make([]reportKPI, 0, len(kpi.Definitions))
	for _, d := range kpi.Definitions {
		k := reportKPI{Key: d.Key, Unit: d.Unit, Target: d.Target}
		sum := 0.0
		for _, s := range snaps {
			v, ok := d.Value(&s.Counts)
			if !ok {
				continue
			}
			if !k.Known || v < k.Min {
				k.Min = v
			}
			k.Known, k.End = true, v
			k.Days++
			sum += v
		}
		if k.Known {
			k.Avg = sum / float64(k.Days)
			k.Met = d.Target != nil && d.Target.Met(k.End)
		}
		out = append(out, k)
	}
	return out
}

// reportIncidents gathers the period's incidents.
func (c *Console) reportIncidents(ctx context.Context, since, until, now time.Time) (reportIncident, error) {
	st := c.opts.Store
	in := reportIncident{Rooted: []reportDevice{}, Lost: []reportDevice{}, Bursts: []reportBurst{}, Wipes: reportWipes{List: []reportWipe{}}}
	host := func(id string) string {
		if d, ok := st.Device(id); ok {
			return d.Hostname
		}
		return ""
	}
	within := func(t time.Time) bool { return !t.Before(since) && t.Before(until) }
	// Rooted or jailbroken: the not_rooted check starting to fail.
	seen := map[string]bool{}
	for _, ev := range st.AllDeviceEvents() {
		if ev.Type == posture.EventCheckFailing && ev.Detail["check"] == posture.CheckNotRooted && within(ev.At) && !seen[ev.DeviceID] {
			seen[ev.DeviceID] = true
			in.Rooted = append(in.Rooted, reportDevice{Device: ev.DeviceID, Hostname: host(ev.DeviceID), At: ev.At})
		}
	}
	sort.Slice(in.Rooted, func(i, j int) bool { return in.Rooted[i].At.Before(in.Rooted[j].At) })
	// Lost or stolen: the audit log's device.reported_lost.
	q := store.AuditQuery{Since: since, Until: until, Action: "device.reported_lost", Ascending: true}
	for {
		evs, err := st.QueryAudit(ctx, q)
		if errors.Is(err, store.ErrNoAuditLog) {
			break
		}
		if err != nil {
			return in, err
		}
		for _, ev := range evs {
			in.Lost = append(in.Lost, reportDevice{Device: ev.Target, Hostname: host(ev.Target), At: ev.At})
		}
		if len(evs) < q.PageLimit() {
			break
		}
		q.After = evs[len(evs)-1].Pos
	}
	in.Wipes = reportWipesOf(st, within, host)
	var err error
	in.DenyMedian, in.Bursts, err = c.denyBursts(ctx, since, until, now)
	return in, err
}

// reportWipesOf lists the wipes requested in the period.
func reportWipesOf(st *store.Store, within func(time.Time) bool, host func(string) string) reportWipes {
	w := reportWipes{List: []reportWipe{}}
	var secs []float64
	for _, a := range st.Actions() {
		if (a.Type != enrollment.ActionWipe && a.Type != enrollment.ActionSelectiveWipe) || !within(a.RequestedAt) {
			continue
		}
		x := reportWipe{Device: a.DeviceID, Hostname: host(a.DeviceID), Type: a.Type, Status: a.Status, RequestedAt: a.RequestedAt}
		if a.Status == store.ActionAcknowledged && !a.DoneAt.Before(a.RequestedAt) {
			x.Seconds = a.DoneAt.Sub(a.RequestedAt).Seconds()
			secs = append(secs, x.Seconds)
			w.MaxSeconds = max(w.MaxSeconds, x.Seconds)
		}
		w.List = append(w.List, x)
	}
	sort.Slice(w.List, func(i, j int) bool { return w.List[i].RequestedAt.Before(w.List[j].RequestedAt) })
	w.Requested, w.Acknowledged = len(w.List), len(secs)
	w.MedianSeconds = enrollment.Quantile(secs, 0.5)
	return w
}

// denyBursts counts denied requests per day of the period (up to today)
// from the decision log, and returns the daily median and the days above
// BurstFactor times it.
func (c *Console) denyBursts(ctx context.Context, since, until, now time.Time) (float64, []reportBurst, error) {
	bursts := []reportBurst{}
	end := until
	if t := store.Day(now).AddDate(0, 0, 1); t.Before(end) {
		end = t
	}
	if !end.After(since) {
		return 0, bursts, nil
	}
	dl, err := c.opts.Store.Decisions()
	if errors.Is(err, store.ErrNoDecisionLog) {
		return 0, bursts, nil
	}
	if err != nil {
		return 0, nil, err
	}
	perDay := map[int64]uint64{}
	err = dl.ScanDecisions(ctx, store.DecisionQuery{Since: since, Until: end, Outcome: "deny"}, func(r *store.DecisionRecord) error {
		if r.Outcome == "deny" && !r.Hour.Before(since) && r.Hour.Before(end) {
			perDay[store.Day(r.Hour).Unix()] += r.Count
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	var days []float64
	for d := since; d.Before(end); d = d.AddDate(0, 0, 1) {
		days = append(days, float64(perDay[d.Unix()]))
	}
	med := enrollment.Quantile(days, 0.5)
	for d := since; d.Before(end); d = d.AddDate(0, 0, 1) {
		if n := perDay[d.Unix()]; n > 0 && float64(n) > BurstFactor*med {
			bursts = append(bursts, reportBurst{Day: d, Denied: n})
		}
	}
	return med, bursts, nil
}

// periodLabel is the period as written in the report's title.
func periodLabel(since, until time.Time) string {
	return fmt.Sprintf("%s – %s", since.Format("2006-01-02"), until.AddDate(0, 0, -1).Format("2006-01-02"))
}
