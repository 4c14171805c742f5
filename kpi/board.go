package kpi

import (
	"context"
	"sort"
	"time"

	"github.com/portier/portier/store"
)

// Units of a figure's value.
const (
	UnitRatio   = "ratio"
	UnitSeconds = "seconds"
	UnitCount   = "count"
)

// Target is what a figure should reach: at least (">=") or at most ("<=")
// Value.
type Target struct {
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

// Met reports whether v reaches the target.
func (t Target) Met(v float64) bool {
	if t.Op == "<=" {
		return v <= t.Value
	}
	return v >= t.Value
}

// Definition is one KPI: its key (also its catalogue key on the
// dashboard), unit, target (nil when the guide sets none) and how a
// snapshot's counts give its value (ok false when there is no data).
type Definition struct {
	Key    string
	Unit   string
	Target *Target
	Value  func(c *store.KPICounts) (v float64, ok bool)
}

func ratio(n, d int) (float64, bool) {
	if d == 0 {
		return 0, false
	}
	return float64(n) / float64(d), true
}

func count(n int) (float64, bool) { return float64(n), true }

func seconds(v float64, n int) (float64, bool) { return v, n > 0 }

// Definitions are the dashboard's figures in order, with the deployment
// guide's targets.
var Definitions = []Definition{
	{"enrollment_rate", UnitRatio, &Target{">=", 0.95}, func(c *store.KPICounts) (float64, bool) { return ratio(c.ExpectedEnrolled, c.Expected) }},
	{"compliance_rate", UnitRatio, &Target{">=", 0.90}, func(c *store.KPICounts) (float64, bool) { return ratio(c.Compliant, c.Devices) }},
	{"encryption_rate", UnitRatio, &Target{">=", 1}, func(c *store.KPICounts) (float64, bool) { return ratio(c.Encrypted, c.EncryptionKnown) }},
	{"updates_current_rate", UnitRatio, &Target{">=", 0.90}, func(c *store.KPICounts) (float64, bool) {
		return ratio(c.UpdatesBehind[store.UpdatesCurrent]+c.UpdatesBehind[store.UpdatesWeek], c.Devices-c.UpdatesBehind[store.UpdatesUnknown])
	}},
	{"provision_median", UnitSeconds, nil, func(c *store.KPICounts) (float64, bool) { return seconds(c.ProvisionMedian, c.Provisioned) }},
	{"provision_p90", UnitSeconds, nil, func(c *store.KPICounts) (float64, bool) { return seconds(c.ProvisionP90, c.Provisioned) }},
	{"lock_ack_median", UnitSeconds, &Target{"<=", 900}, func(c *store.KPICounts) (float64, bool) { return seconds(c.LockAckMedian, c.Locks) }},
	{"wipe_ack_median", UnitSeconds, &Target{"<=", 900}, func(c *store.KPICounts) (float64, bool) { return seconds(c.WipeAckMedian, c.Wipes) }},
	{"allowed_24h", UnitCount, nil, func(c *store.KPICounts) (float64, bool) { return float64(c.Allowed24h), true }},
	{"denied_24h", UnitCount, nil, func(c *store.KPICounts) (float64, bool) { return float64(c.Denied24h), true }},
	{"devices", UnitCount, nil, func(c *store.KPICounts) (float64, bool) { return count(c.Devices) }},
	{"attention", UnitCount, &Target{"<=", 0}, func(c *store.KPICounts) (float64, bool) { return count(c.Attention) }},
	{"open_actions", UnitCount, nil, func(c *store.KPICounts) (float64, bool) { return count(c.OpenActions) }},
}

// Point is a figure's value on one day; Known is false when that day had
// no snapshot or no data for the figure.
type Point struct {
	Day   time.Time `json:"day"`
	Value float64   `json:"value"`
	Known bool      `json:"known"`
}

// Figure is one KPI on the board: today's value (the latest snapshot's),
// its target, and one point per day of the range.
type Figure struct {
	Key    string  `json:"key"`
	Unit   string  `json:"unit"`
	Target *Target `json:"target,omitempty"`
	Value  float64 `json:"value"`
	Known  bool    `json:"known"`
	// Met is whether Value reaches Target; false without either.
	Met   bool    `json:"met"`
	Trend []Point `json:"trend"`
}

// Query selects a board: the days from Since's to before Until's next day,
// of one series.
type Query struct {
	Since, Until time.Time
	Series       Series
}

// Board is what the dashboard and GET /api/v1/kpis/history show.
type Board struct {
	Series Series    `json:"series"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	// Latest is the newest snapshot in the range; nil when there is none.
	Latest    *store.KPISnapshot   `json:"latest"`
	Figures   []Figure             `json:"figures"`
	Snapshots []*store.KPISnapshot `json:"snapshots"`
}

// Load reads q's snapshots and builds the board: one point per day of the
// range for every figure.
func Load(ctx context.Context, l store.KPISnapshotLog, q Query) (*Board, error) {
	since, until := store.Day(q.Since), store.Day(q.Until).AddDate(0, 0, 1)
	snaps, err := l.QueryKPISnapshots(ctx, store.KPISnapshotQuery{Since: since, Until: until, Dimension: q.Series.Dimension, Value: q.Series.Value})
	if err != nil {
		return nil, err
	}
	b := &Board{Series: q.Series, Since: since, Until: until, Snapshots: snaps}
	if snaps == nil {
		b.Snapshots = []*store.KPISnapshot{}
	}
	byDay := map[int64]*store.KPISnapshot{}
	for _, s := range snaps {
		byDay[s.Day.Unix()] = s
		b.Latest = s
	}
	for _, d := range Definitions {
		f := Figure{Key: d.Key, Unit: d.Unit, Target: d.Target, Trend: []Point{}}
		for day := since; day.Before(until); day = day.AddDate(0, 0, 1) {
			p := Point{Day: day}
			if s := byDay[day.Unix()]; s != nil {
				p.Value, p.Known = d.Value(&s.Counts)
			}
			f.Trend = append(f.Trend, p)
		}
		if b.Latest != nil {
			f.Value, f.Known = d.Value(&b.Latest.Counts)
			f.Met = f.Known && d.Target != nil && d.Target.Met(f.Value)
		}
		b.Figures = append(b.Figures, f)
	}
	return b, nil
}

// Choices lists, per dimension, the values the latest snapshots (of the
// day of now or the day before) hold, sorted: the dashboard's filters.
func Choices(ctx context.Context, l store.KPISnapshotLog, now time.Time) (map[string][]string, error) {
	snaps, err := l.QueryKPISnapshots(ctx, store.KPISnapshotQuery{Since: store.Day(now).AddDate(0, 0, -1), AllSeries: true})
	if err != nil {
		return nil, err
	}
	seen := map[Series]bool{}
	out := map[string][]string{}
	for _, s := range snaps {
		se := Series{s.Dimension, s.Value}
		if s.Dimension == "" || seen[se] {
			continue
		}
		seen[se] = true
		out[s.Dimension] = append(out[s.Dimension], s.Value)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out, nil
}
