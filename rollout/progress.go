package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// WouldDenyWindow is how far back a wave's report-only denials are
// counted.
const WouldDenyWindow = 7 * 24 * time.Hour

// Wave states, as Progress reports them.
const (
	StateScheduled = "scheduled" // its date has not come
	StateDue       = "due"       // its date has come, not applied yet
	StateApplied   = "applied"   // the plan's policies are enforced for it
)

// Exit criteria names, as Criterion.Name.
const (
	CritEnrollment = "enrollment"
	CritCompliance = "compliance"
	CritTickets    = "tickets"
	CritWouldDeny  = "would_deny"
)

// Criterion is one exit criterion of one wave: the wave's figure, the
// plan's limit, and whether the figure meets it. A figure that cannot be
// known (no expected device, no active device, no decision log) does not
// meet its criterion: the go/no-go fails closed.
type Criterion struct {
	Name  string  `json:"name"`
	Known bool    `json:"known"`
	Value float64 `json:"value"` // a rate (0..1) or a count
	Limit float64 `json:"limit"` // the minimum rate or the maximum count
	Met   bool    `json:"met"`
	// Text says it in words, e.g. "compliance 72 % < 90 %".
	Text string `json:"text"`
}

// WaveProgress is one wave's figures as of now.
type WaveProgress struct {
	Name      string    `json:"name"`
	Key       string    `json:"key"` // Key(plan, wave)
	Start     time.Time `json:"start"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	State     string    `json:"state"`
	// People is how many known people are in the wave (accounts, owners
	// of devices and expected devices, and the addresses the wave names).
	People int `json:"people"`
	// Expected and Enrolled count the expected devices of the wave's
	// people and those of them enrolled.
	Expected int `json:"expected"`
	Enrolled int `json:"enrolled"`
	// Devices and Compliant count the wave's people's active (or
	// quarantined) devices and those of them compliant.
	Devices   int `json:"devices"`
	Compliant int `json:"compliant"`
	// WouldDeny counts the requests of the wave's people that the plan's
	// report-only policies would have denied over WouldDenyWindow.
	WouldDeny uint64 `json:"would_deny"`
	Tickets   int    `json:"tickets"`
	// Criteria are the plan's exit criteria against this wave's figures.
	Criteria []Criterion `json:"criteria"`
}

// Met reports whether the wave meets every exit criterion.
func (w *WaveProgress) Met() bool {
	for _, c := range w.Criteria {
		if !c.Met {
			return false
		}
	}
	return true
}

// Progress is a plan's per-wave figures and the go/no-go for its next
// wave.
type Progress struct {
	Plan  string         `json:"plan"`
	At    time.Time      `json:"at"`
	Waves []WaveProgress `json:"waves"`
	// Judged is the wave the go/no-go looks at: the last applied wave, or
	// the pilot before any is applied. Next is the wave it decides on, -1
	// when every wave is applied.
	Judged int `json:"judged"`
	Next   int `json:"next"`
	// Go is true when the judged wave meets every exit criterion; Failing
	// lists, in words, the criteria it does not meet.
	Go      bool     `json:"go"`
	Failing []string `json:"failing"`
	// DecisionLog is false when the store keeps no decision log: the
	// report-only denials are then unknown.
	DecisionLog bool `json:"decision_log"`
}

// ProgressOf computes p's progress as of now from the store's read model
// (people, devices, expected devices) and its decision log (report-only
// denials by the plan's policies over the last WouldDenyWindow). x is the
// membership index of the same store.
func ProgressOf(ctx context.Context, st *store.Store, x *Index, p *store.RolloutPlan, now time.Time) (*Progress, error) {
	out := &Progress{Plan: p.ID, At: now, Waves: make([]WaveProgress, len(p.Waves)), Failing: []string{}}
	for i, w := range p.Waves {
		out.Waves[i] = WaveProgress{Name: w.Name, Key: Key(p.ID, w.Name), Start: w.Start, AppliedAt: w.AppliedAt,
			State: waveState(w, now), Tickets: w.Tickets}
	}
	// The wave of every known person, by folded address.
	wave := map[string]int{}
	person := func(email string) int {
		if email == "" {
			return -1
		}
		k := mailaddr.Fold(email)
		if i, ok := wave[k]; ok {
			return i
		}
		i := x.WaveOf(p, Person{Email: email})
		wave[k] = i
		if i >= 0 {
			out.Waves[i].People++
		}
		return i
	}
	for _, u := range st.Users() {
		person(u.Email)
	}
	for _, w := range p.Waves {
		for _, e := range w.People {
			person(e)
		}
	}
	for _, e := range st.ExpectedDevices() {
		if i := person(e.OwnerEmail); i >= 0 {
			out.Waves[i].Expected++
			if e.EnrolledAs != "" {
				out.Waves[i].Enrolled++
			}
		}
	}
	for _, d := range st.Devices() {
		i := person(d.OwnerEmail)
		if i < 0 || (d.State != store.DeviceActive && d.State != store.DeviceQuarantined) {
			continue
		}
		out.Waves[i].Devices++
		if d.Compliant {
			out.Waves[i].Compliant++
		}
	}
	dl, err := st.Decisions()
	switch {
	case errors.Is(err, store.ErrNoDecisionLog):
	case err != nil:
		return nil, err
	default:
		out.DecisionLog = true
		// Only report-only denials: the store filters them (in SQL on
		// PostgreSQL) rather than handing every record of the week over.
		reportOnly := true
		q := store.DecisionQuery{Since: now.Add(-WouldDenyWindow), Until: now, ReportOnly: &reportOnly, Outcome: "deny"}
		err := dl.ScanDecisions(ctx, q, func(r *store.DecisionRecord) error {
			ro := r.ReportOnly
			if ro == nil || ro.Outcome != "deny" || !slices.Contains(p.Policies, ro.Policy) {
				return nil
			}
			i := x.WaveOf(p, Person{Email: r.User, Groups: r.Facts.Groups})
			if i >= 0 {
				out.Waves[i].WouldDeny += r.Count
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for i := range out.Waves {
		out.Waves[i].Criteria = criteria(&out.Waves[i], p.Exit, out.DecisionLog)
	}
	out.Judged, out.Next = 0, 0
	if cur := Current(p); cur >= 0 {
		out.Judged, out.Next = cur, cur+1
	}
	if out.Next >= len(p.Waves) {
		out.Next = -1
	}
	judged := &out.Waves[out.Judged]
	for _, c := range judged.Criteria {
		if !c.Met {
			out.Failing = append(out.Failing, c.Text)
		}
	}
	out.Go = len(out.Failing) == 0
	return out, nil
}

// waveState is a wave's state at now.
func waveState(w store.RolloutWave, now time.Time) string {
	switch {
	case !w.AppliedAt.IsZero():
		return StateApplied
	case now.Before(w.Start):
		return StateScheduled
	}
	return StateDue
}

// criteria measures a wave against the exit criteria.
func criteria(w *WaveProgress, e store.ExitCriteria, decisionLog bool) []Criterion {
	rate := func(name, none string, n, of int, min float64) Criterion {
		c := Criterion{Name: name, Limit: min, Known: of > 0}
		if !c.Known {
			c.Text = fmt.Sprintf("%s unknown (%s)", name, none)
			return c
		}
		c.Value = float64(n) / float64(of)
		c.Met = c.Value >= min
		op := "≥"
		if !c.Met {
			op = "<"
		}
		c.Text = fmt.Sprintf("%s %s %s %s", name, percent(c.Value), op, percent(min))
		return c
	}
	count := func(name, words string, n float64, known bool, max int) Criterion {
		c := Criterion{Name: name, Known: known, Value: n, Limit: float64(max), Met: known && n <= float64(max)}
		switch {
		case !known:
			c.Text = fmt.Sprintf("%s unknown (no decision log)", words)
		case c.Met:
			c.Text = fmt.Sprintf("%s %d ≤ %d", words, int64(n), max)
		default:
			c.Text = fmt.Sprintf("%s %d > %d", words, int64(n), max)
		}
		return c
	}
	return []Criterion{
		rate(CritEnrollment, "no expected devices", w.Enrolled, w.Expected, e.MinEnrollment),
		rate(CritCompliance, "no active devices", w.Compliant, w.Devices, e.MinCompliance),
		count(CritTickets, "open tickets", float64(w.Tickets), true, e.MaxTickets),
		count(CritWouldDeny, "report-only denials (7 days)", float64(w.WouldDeny), decisionLog, e.MaxWouldDeny),
	}
}

// percent writes a rate as a whole percentage, rounded down so that a
// rate just under its limit never reads as equal to it: "72 %".
func percent(r float64) string {
	return fmt.Sprintf("%d %%", int(math.Floor(r*100+1e-9)))
}
