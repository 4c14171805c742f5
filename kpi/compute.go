package kpi

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// Window is how far back provisioning and lock/wipe acknowledgement times
// of a snapshot reach.
const Window = 30 * 24 * time.Hour

// Silent is how long a managed device may go without reporting before it
// needs attention.
const Silent = 7 * 24 * time.Hour

// TopOS bounds the OS versions a snapshot names; the rest count as "other".
const TopOS = 8

// TopReasons bounds the deny reasons a snapshot keeps.
const TopReasons = 5

// OtherOS is the OS version bucket of the versions past TopOS.
const OtherOS = "other"

// Series names one breakdown: a dimension and its value (both "" for the
// whole fleet).
type Series struct {
	Dimension string `json:"dimension"`
	Value     string `json:"value"`
}

// Fleet is the whole fleet's series.
var Fleet = Series{}

// acc accumulates one series' counts.
type acc struct {
	c       store.KPICounts
	prov    []float64
	locks   []float64
	wipes   []float64
	reasons map[string]*reasonAcc
}

type reasonAcc struct {
	store.ReasonCount
	users map[string]bool
}

// Compute counts every series of the fleet as of now: the read model's
// devices, expected devices, postures and actions, and the decision log's
// last 24 hours when the store keeps one. waves names the rollout waves
// of an owner (by e-mail address): a device and an expected device count
// in each of their owner's waves; nil means no one is in any.
func Compute(ctx context.Context, st *store.Store, now time.Time, waves func(owner string) []string) (map[Series]*store.KPICounts, error) {
	accs := map[Series]*acc{Fleet: newAcc()}
	get := func(s Series) *acc {
		a := accs[s]
		if a == nil {
			a = newAcc()
			accs[s] = a
		}
		return a
	}
	groups := userGroups(st)
	wavesOf := func(owner string) []string {
		if waves == nil || owner == "" {
			return nil
		}
		return waves(owner)
	}
	for _, e := range st.ExpectedDevices() {
		for _, s := range seriesOf(e.Department, e.Platform, e.Ownership, e.Groups, groups[mailaddr.Fold(e.OwnerEmail)], wavesOf(e.OwnerEmail)) {
			a := get(s)
			a.c.Expected++
			if e.EnrolledAs != "" {
				a.c.ExpectedEnrolled++
			}
		}
	}
	devSeries := map[string][]Series{}
	for _, d := range st.Devices() {
		ss := seriesOf(d.Department, d.Platform, d.Ownership, d.Groups, groups[mailaddr.Fold(d.OwnerEmail)], wavesOf(d.OwnerEmail))
		devSeries[d.ID] = ss
		if d.State != store.DeviceActive && d.State != store.DeviceQuarantined {
			continue
		}
		f := facts(st, d, now)
		for _, s := range ss {
			get(s).addDevice(d, f, now)
		}
	}
	for _, x := range st.Actions() {
		open := x.Status == store.ActionQueued || x.Status == store.ActionDelivered
		ack := x.Status == store.ActionAcknowledged && !x.DoneAt.Before(x.RequestedAt) && now.Sub(x.DoneAt) <= Window && !x.DoneAt.After(now)
		secs := x.DoneAt.Sub(x.RequestedAt).Seconds()
		ss := devSeries[x.DeviceID]
		if len(ss) == 0 {
			ss = []Series{Fleet}
		}
		for _, s := range ss {
			a := get(s)
			if open {
				a.c.OpenActions++
			}
			switch {
			case !ack:
			case x.Type == enrollment.ActionLock:
				a.locks = append(a.locks, secs)
			case x.Type == enrollment.ActionWipe || x.Type == enrollment.ActionSelectiveWipe:
				a.wipes = append(a.wipes, secs)
			}
		}
	}
	if err := addDecisions(ctx, st, now, devSeries, get); err != nil {
		return nil, err
	}
	out := make(map[Series]*store.KPICounts, len(accs))
	for s, a := range accs {
		out[s] = a.finish()
	}
	return out, nil
}

func newAcc() *acc {
	return &acc{c: store.KPICounts{Trust: map[string]int{}, OSVersions: map[string]int{}, UpdatesBehind: map[string]int{},
		DenyReasons: []store.ReasonCount{}}, reasons: map[string]*reasonAcc{}}
}

// userGroups maps each person's folded email to their groups.
func userGroups(st *store.Store) map[string][]string {
	out := map[string][]string{}
	for _, u := range st.Users() {
		if len(u.Groups) > 0 {
			out[mailaddr.Fold(u.Email)] = u.Groups
		}
	}
	return out
}

// seriesOf lists the series a device (or an expected device) counts in:
// the fleet, then one per dimension it has a value for; its groups are the
// device's own and its owner's.
func seriesOf(dept, platform string, own store.Ownership, devGroups, ownerGroups, waves []string) []Series {
	out := []Series{Fleet}
	add := func(dim, v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, Series{dim, v})
		}
	}
	add(store.DimDepartment, dept)
	add(store.DimPlatform, platform)
	add(store.DimOwnership, string(own))
	for _, w := range waves {
		add(store.DimWave, w)
	}
	seen := map[string]bool{}
	for _, g := range append(append([]string{}, devGroups...), ownerGroups...) {
		if !seen[g] {
			seen[g] = true
			add(store.DimGroup, g)
		}
	}
	return out
}

// deviceFacts are what a device's posture says about the KPIs.
type deviceFacts struct {
	encKnown, encrypted bool
	updates             string // an UpdatesBehind bucket
	os                  string
}

// facts reads a device's stored posture: disk encryption, days behind on
// security updates, OS version (the record's first).
func facts(st *store.Store, d *store.Device, now time.Time) deviceFacts {
	f := deviceFacts{updates: store.UpdatesUnknown, os: d.OSVersion}
	if p, ok := st.Posture(d.ID); ok {
		sigs, err := posture.DecodeSignals(p.Signals)
		if err == nil {
			readSignals(&f, sigs)
		}
	}
	f.os = strings.TrimSpace(d.Platform + " " + f.os)
	if f.os == "" {
		f.os = "unknown"
	}
	return f
}

func readSignals(f *deviceFacts, sigs []collect.Signal) {
	for _, s := range sigs {
		if s.Error != "" {
			continue
		}
		switch s.Name {
		case collect.DiskEncrypted:
			if b, ok := s.Value.(bool); ok {
				f.encKnown, f.encrypted = true, b
			}
		case collect.UpdatesSecurityOldestDays:
			if n, ok := s.Value.(int64); ok {
				f.updates = store.UpdateBucket(n)
			}
		case collect.OSVersion:
			if v, ok := s.Value.(string); ok && f.os == "" {
				f.os = v
			}
		}
	}
}

// addDevice counts one managed device.
func (a *acc) addDevice(d *store.Device, f deviceFacts, now time.Time) {
	c := &a.c
	c.Devices++
	if d.Compliant {
		c.Compliant++
	}
	if f.encKnown {
		c.EncryptionKnown++
		if f.encrypted {
			c.Encrypted++
		}
	}
	c.Trust[d.Trust.String()]++
	c.OSVersions[f.os]++
	c.UpdatesBehind[f.updates]++
	silent := !d.LastSeen.IsZero() && now.Sub(d.LastSeen) > Silent
	if !d.Compliant || d.State == store.DeviceQuarantined || d.Trust == store.TrustUntrusted || silent {
		c.Attention++
	}
	if !d.ProvisionedAt.IsZero() && !d.ProvisionStart.IsZero() && !d.ProvisionedAt.Before(d.ProvisionStart) &&
		now.Sub(d.ProvisionedAt) <= Window && !d.ProvisionedAt.After(now) {
		a.prov = append(a.prov, d.ProvisionedAt.Sub(d.ProvisionStart).Seconds())
	}
}

// addDecisions counts the decision log's last 24 hours into the series of
// each record's device (the fleet alone for unmanaged devices).
func addDecisions(ctx context.Context, st *store.Store, now time.Time, devSeries map[string][]Series, get func(Series) *acc) error {
	dl, err := st.Decisions()
	if errors.Is(err, store.ErrNoDecisionLog) {
		return nil
	}
	if err != nil {
		return err
	}
	fleet := []Series{Fleet}
	return dl.ScanDecisions(ctx, store.DecisionQuery{Since: now.Add(-24 * time.Hour), Until: now}, func(r *store.DecisionRecord) error {
		ss := devSeries[r.Device]
		if len(ss) == 0 {
			ss = fleet
		}
		for _, s := range ss {
			a := get(s)
			if r.Outcome != "deny" {
				a.c.Allowed24h += r.Count
				continue
			}
			a.c.Denied24h += r.Count
			for _, rs := range r.Reasons {
				ra := a.reasons[rs.Code]
				if ra == nil {
					ra = &reasonAcc{store.ReasonCount{Code: rs.Code, Message: rs.Message}, map[string]bool{}}
					a.reasons[rs.Code] = ra
				}
				ra.Count += r.Count
				ra.users[r.User] = true
			}
		}
		return nil
	})
}

// finish computes the quantiles and the top lists.
func (a *acc) finish() *store.KPICounts {
	c := a.c
	c.Provisioned, c.Locks, c.Wipes = len(a.prov), len(a.locks), len(a.wipes)
	c.ProvisionMedian, c.ProvisionP90 = enrollment.Quantile(a.prov, 0.5), enrollment.Quantile(a.prov, 0.9)
	c.LockAckMedian, c.WipeAckMedian = enrollment.Quantile(a.locks, 0.5), enrollment.Quantile(a.wipes, 0.5)
	for _, r := range a.reasons {
		r.Users = len(r.users)
		c.DenyReasons = append(c.DenyReasons, r.ReasonCount)
	}
	c.DenyReasons = store.TopReasons(c.DenyReasons, TopReasons)
	c.OSVersions = topOS(c.OSVersions)
	return &c
}

// topOS keeps the TopOS most common versions and sums the rest as other.
func topOS(m map[string]int) map[string]int {
	if len(m) <= TopOS {
		return m
	}
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range m {
		all = append(all, kv{k, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || (all[i].n == all[j].n && all[i].k < all[j].k) })
	out := map[string]int{}
	for i, x := range all {
		if i < TopOS {
			out[x.k] = x.n
		} else {
			out[OtherOS] += x.n
		}
	}
	return out
}
