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
// allowed), the requests it would have denied: counts and up to
// MaxListed users and devices.
type WouldDeny struct {
	Policy  string   `json:"policy"`
	Rule    string   `json:"rule"`
	Count   uint64   `json:"count"`
	Users   []string `json:"users"`
	Devices []string `json:"devices"`
	More    bool     `json:"more"` // more users or devices than listed
}

// MaxListed bounds the users and devices a stats or impact group lists.
const MaxListed = 50

// MaxTopReasons bounds the deny reasons a stats answer lists.
const MaxTopReasons = 20

// ComputeDecisionStats scans the records matching q and sums them, with
// rule hits bucketed by bucket (an hour or a day).
func ComputeDecisionStats(ctx context.Context, dl DecisionLog, q DecisionQuery, bucket time.Duration) (*DecisionStats, error) {
	st := &DecisionStats{}
	type reasonAcc struct {
		ReasonCount
		users map[string]bool
	}
	reasons := map[string]*reasonAcc{}
	type ruleKey struct{ rule, outcome string }
	hits := map[ruleKey]map[int64]uint64{}
	type wdKey struct{ policy, rule string }
	would := map[wdKey]*WouldDeny{}
	wouldSets := map[wdKey][2]map[string]bool{}
	err := dl.ScanDecisions(ctx, q, func(r *DecisionRecord) error {
		st.Requests += r.Count
		if r.Outcome == "deny" {
			st.Denied += r.Count
			for _, rs := range r.Reasons {
				a := reasons[rs.Code]
				if a == nil {
					a = &reasonAcc{ReasonCount{Code: rs.Code, Message: rs.Message}, map[string]bool{}}
					reasons[rs.Code] = a
				}
				a.Count += r.Count
				a.users[r.User] = true
			}
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
					w = &WouldDeny{Policy: ro.Policy, Rule: rule, Users: []string{}, Devices: []string{}}
					would[k] = w
					wouldSets[k] = [2]map[string]bool{{}, {}}
				}
				w.Count += r.Count
				sets := wouldSets[k]
				w.Users, w.More = listOnce(sets[0], w.Users, r.User, w.More)
				if r.Device != "" {
					w.Devices, w.More = listOnce(sets[1], w.Devices, r.Device, w.More)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range reasons {
		a.Users = len(a.users)
		st.DenyReasons = append(st.DenyReasons, a.ReasonCount)
	}
	st.DenyReasons = TopReasons(st.DenyReasons, MaxTopReasons)
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
		sort.Strings(w.Users)
		sort.Strings(w.Devices)
		st.WouldDeny = append(st.WouldDeny, *w)
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
