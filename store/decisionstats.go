package store

import (
	"context"
	"sort"
	"time"
)

// DecisionStats summarises recorded decisions: totals, the top deny
// reasons, per-rule hits over time, and what report-only policies would
// have denied, per rule.
type DecisionStats struct {
	Requests    uint64        `json:"requests"`
	Denied      uint64        `json:"denied"`
	DenyReasons []ReasonCount `json:"deny_reasons"`
	Rules       []RuleHits    `json:"rules"`
	WouldDeny   []WouldDeny   `json:"would_deny"`
}

// ReasonCount is how many denied requests (and distinct users) a reason
// code had.
type ReasonCount struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Count   uint64 `json:"count"`
	Users   int    `json:"users"`
}

// RuleHits is one rule's decisions per time bucket.
type RuleHits struct {
	Rule    string      `json:"rule"`
	Outcome string      `json:"outcome"`
	Total   uint64      `json:"total"`
	Buckets []HitBucket `json:"buckets"`
}

// HitBucket is a count in the bucket starting at At.
type HitBucket struct {
	At    time.Time `json:"at"`
	Count uint64    `json:"count"`
}

// WouldDeny is, for one rule of a report-only policy (or "" when no rule
// allowed), the requests it would have denied: counts, up to MaxListed
// users and devices, the people with the most requests (their devices
// and counts) and the reasons the report-only decision gave.
type WouldDeny struct {
	Policy      string        `json:"policy"`
	Rule        string        `json:"rule"`
	Count       uint64        `json:"count"`
	Users       []string      `json:"users"`
	Devices     []string      `json:"devices"`
	More        bool          `json:"more"` // more users or devices than listed
	UserCount   int           `json:"user_count"`
	DeviceCount int           `json:"device_count"`
	People      []PersonCount `json:"people"`  // most requests first, up to MaxListed
	Reasons     []ReasonCount `json:"reasons"` // most requests first
}

// PersonCount is one person's requests in a group, with the devices
// they came from.
type PersonCount struct {
	User    string   `json:"user"`
	Devices []string `json:"devices"`
	Count   uint64   `json:"count"`
}

// MaxListed bounds the users and devices a stats or impact group lists.
const MaxListed = 50

// MaxTopReasons bounds the deny reasons a stats answer lists.
const MaxTopReasons = 20

// ComputeDecisionStats scans the records matching q and sums them, with
// rule hits bucketed by bucket (an hour or a day).
func ComputeDecisionStats(ctx context.Context, dl DecisionLog, q DecisionQuery, bucket time.Duration) (*DecisionStats, error) {
	st := &DecisionStats{}
	reasons := map[string]*reasonAcc{}
	type ruleKey struct{ rule, outcome string }
	hits := map[ruleKey]map[int64]uint64{}
	type wdKey struct{ policy, rule string }
	would := map[wdKey]*wouldAcc{}
	err := dl.ScanDecisions(ctx, q, func(r *DecisionRecord) error {
		st.Requests += r.Count
		if r.Outcome == "deny" {
			st.Denied += r.Count
			countReasons(reasons, r.Reasons, r)
		}
		at := r.Hour.Truncate(bucket).Unix()
		for _, rule := range r.Rules {
			k := ruleKey{rule, r.Outcome}
			if hits[k] == nil {
				hits[k] = map[int64]uint64{}
			}
			hits[k][at] += r.Count
		}
		if ro := r.ReportOnly; ro != nil && ro.Outcome == "deny" {
			rules := ro.Rules
			if len(rules) == 0 {
				rules = []string{""}
			}
			for _, rule := range rules {
				k := wdKey{ro.Policy, rule}
				w := would[k]
				if w == nil {
					w = newWouldAcc(ro.Policy, rule)
					would[k] = w
				}
				w.add(r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.DenyReasons = TopReasons(sortedReasons(reasons), MaxTopReasons)
	for k, m := range hits {
		rh := RuleHits{Rule: k.rule, Outcome: k.outcome}
		for at, n := range m {
			rh.Total += n
			rh.Buckets = append(rh.Buckets, HitBucket{At: time.Unix(at, 0).UTC(), Count: n})
		}
		sort.Slice(rh.Buckets, func(i, j int) bool { return rh.Buckets[i].At.Before(rh.Buckets[j].At) })
		st.Rules = append(st.Rules, rh)
	}
	sort.Slice(st.Rules, func(i, j int) bool {
		a, b := st.Rules[i], st.Rules[j]
		return a.Rule < b.Rule || (a.Rule == b.Rule && a.Outcome < b.Outcome)
	})
	for _, w := range would {
		st.WouldDeny = append(st.WouldDeny, w.result())
	}
	sort.Slice(st.WouldDeny, func(i, j int) bool {
		a, b := st.WouldDeny[i], st.WouldDeny[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Policy+"/"+a.Rule < b.Policy+"/"+b.Rule)
	})
	if st.DenyReasons == nil {
		st.DenyReasons = []ReasonCount{}
	}
	if st.Rules == nil {
		st.Rules = []RuleHits{}
	}
	if st.WouldDeny == nil {
		st.WouldDeny = []WouldDeny{}
	}
	return st, nil
}

// TopReasons sorts reasons by count, highest first (then by code), and
// keeps the first n.
func TopReasons(rs []ReasonCount, n int) []ReasonCount {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Code < b.Code)
	})
	if len(rs) > n {
		rs = rs[:n]
	}
	return rs
}

// listOnce appends v to list the first time it is seen, up to MaxListed;
// more becomes true when a new value does not fit.
func listOnce(seen map[string]bool, list []string, v string, more bool) ([]string, bool) {
	if seen[v] {
		return list, more
	}
	seen[v] = true
	if len(list) >= MaxListed {
		return list, true
	}
	return append(list, v), more
}

// wouldAcc sums the records of one WouldDeny.
type wouldAcc struct {
	WouldDeny
	users   map[string]bool
	devices map[string]bool
	people  map[string]*personAcc
	reasons map[string]*reasonAcc
}

type personAcc struct {
	PersonCount
	devices map[string]bool
}

type reasonAcc struct {
	ReasonCount
	users map[string]bool
}

func newWouldAcc(policy, rule string) *wouldAcc {
	return &wouldAcc{WouldDeny: WouldDeny{Policy: policy, Rule: rule, Users: []string{}, Devices: []string{}},
		users: map[string]bool{}, devices: map[string]bool{}, people: map[string]*personAcc{}, reasons: map[string]*reasonAcc{}}
}

// add counts a record whose report-only decision would deny.
func (w *wouldAcc) add(r *DecisionRecord) {
	w.Count += r.Count
	w.Users, w.More = listOnce(w.users, w.Users, r.User, w.More)
	if r.Device != "" {
		w.Devices, w.More = listOnce(w.devices, w.Devices, r.Device, w.More)
	}
	p := w.people[r.User]
	if p == nil {
		p = &personAcc{PersonCount{User: r.User, Devices: []string{}}, map[string]bool{}}
		w.people[r.User] = p
	}
	p.Count += r.Count
	if r.Device != "" && !p.devices[r.Device] {
		p.devices[r.Device] = true
		p.Devices = append(p.Devices, r.Device)
	}
	countReasons(w.reasons, r.ReportOnly.Reasons, r)
}

// countReasons adds r's count and user to each of reasons (r's own or its
// report-only decision's).
func countReasons(m map[string]*reasonAcc, reasons []DecisionReason, r *DecisionRecord) {
	for _, rs := range reasons {
		a := m[rs.Code]
		if a == nil {
			a = &reasonAcc{ReasonCount{Code: rs.Code, Message: rs.Message}, map[string]bool{}}
			m[rs.Code] = a
		}
		a.Count += r.Count
		a.users[r.User] = true
	}
}

// result is the WouldDeny with its lists sorted and bounded.
func (w *wouldAcc) result() WouldDeny {
	out := w.WouldDeny
	sort.Strings(out.Users)
	sort.Strings(out.Devices)
	out.UserCount, out.DeviceCount = len(w.users), len(w.devices)
	out.People = make([]PersonCount, 0, len(w.people))
	for _, p := range w.people {
		sort.Strings(p.Devices)
		out.People = append(out.People, p.PersonCount)
	}
	sort.Slice(out.People, func(i, j int) bool {
		a, b := out.People[i], out.People[j]
		return a.Count > b.Count || (a.Count == b.Count && a.User < b.User)
	})
	if len(out.People) > MaxListed {
		out.People = out.People[:MaxListed]
	}
	out.Reasons = sortedReasons(w.reasons)
	return out
}

// sortedReasons is the reasons with their distinct users counted, most
// requests first.
func sortedReasons(m map[string]*reasonAcc) []ReasonCount {
	out := make([]ReasonCount, 0, len(m))
	for _, a := range m {
		a.Users = len(a.users)
		out = append(out, a.ReasonCount)
	}
	return TopReasons(out, len(out))
}
