package posture

import (
	"sort"
	"time"

	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// DataProfile is what may be collected from one device: the agent runs
// only collectors for these signals, and the server drops anything else
// whatever the agent sends.
type DataProfile struct {
	Ownership   store.Ownership `json:"ownership"`
	WorkProfile bool            `json:"work_profile,omitempty"`
	// Signals are the allowed signal names, sorted.
	Signals []string `json:"signals"`
	// Location is set when the device may report its position, and says when.
	Location *LocationRule `json:"location,omitempty"`

	allowed collect.Allowed
}

// LocationRule tells the agent when it may collect the position: only on
// Days between From and To in the device's own time zone.
type LocationRule struct {
	Purpose   string   `json:"purpose"`
	Days      []string `json:"days"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Retention string   `json:"retention"`
	hours     Hours
}

// Allowed returns the profile as the set the collectors take.
func (p DataProfile) Allowed() collect.Allowed { return p.allowed }

// Allows reports whether a signal name may be collected.
func (p DataProfile) Allows(name string) bool { return p.allowed.Has(name) }

type profileKey struct {
	o    store.Ownership
	work bool
}

// Profile returns the effective data profile of a device: its ownership's
// profile; a work profile (BYOD-style enrollment) is further limited to
// what the BYOD profile allows; location is added only where the location
// rules allow it. Unmanaged devices allow nothing.
func (c *Config) Profile(d *store.Device) DataProfile {
	if p, ok := c.profs[profileKey{d.Ownership, d.WorkProfile}]; ok {
		return p
	}
	return c.buildProfile(d.Ownership, d.WorkProfile)
}

func (c *Config) buildProfile(o store.Ownership, work bool) DataProfile {
	p := DataProfile{Ownership: o, WorkProfile: work, allowed: collect.Allowed{}}
	for name := range c.Privacy.Profiles[o] {
		if work && !c.Privacy.Profiles[store.OwnershipBYOD].Has(name) {
			continue
		}
		p.allowed[name] = struct{}{}
	}
	if c.locationAllowed(&store.Device{Ownership: o, WorkProfile: work}) {
		l := c.Privacy.Location
		p.Location = &LocationRule{Purpose: l.Purpose, From: clock(l.Hours.From), To: clock(l.Hours.To), Retention: l.Retention.String(), hours: l.Hours}
		for i := range 7 {
			if l.Hours.Days&(1<<((i+1)%7)) != 0 {
				p.Location.Days = append(p.Location.Days, confyaml.DayName(time.Weekday((i+1)%7)))
			}
		}
		for _, name := range groupMembers(GroupLocation) {
			p.allowed[name] = struct{}{}
		}
	}
	for name := range p.allowed {
		p.Signals = append(p.Signals, name)
	}
	sort.Strings(p.Signals)
	return p
}

// locationAllowed reports whether the location rules cover the device at all.
func (c *Config) locationAllowed(d *store.Device) bool {
	l := c.Privacy.Location
	if !l.Enabled || l.Purpose == "" || d.WorkProfile || d.Ownership == store.OwnershipBYOD {
		return false
	}
	for _, o := range l.Ownership {
		if o == d.Ownership {
			return true
		}
	}
	return false
}

// filter keeps the signals the profile allows. A position is kept only when
// both its collection time and now fall within working hours in the
// device's zone; without a known zone it is dropped. It returns the kept
// signals and the names dropped.
func (p DataProfile) filter(sigs []collect.Signal, zone *time.Location, now time.Time) (kept []collect.Signal, dropped []string) {
	kept = make([]collect.Signal, 0, len(sigs))
	seen := make(map[string]int, len(sigs))
	for _, s := range sigs {
		if !p.allowed.Has(s.Name) {
			dropped = append(dropped, s.Name)
			continue
		}
		if catalog[s.Name].group == GroupLocation && !p.locationNow(s.CollectedAt, zone, now) {
			dropped = append(dropped, s.Name)
			continue
		}
		if i, dup := seen[s.Name]; dup {
			kept[i] = s // the last value of a repeated name wins
			continue
		}
		seen[s.Name] = len(kept)
		kept = append(kept, s)
	}
	return kept, dropped
}

// locationNow reports whether a position collected at `at` may be kept now.
func (p DataProfile) locationNow(at time.Time, zone *time.Location, now time.Time) bool {
	if p.Location == nil || zone == nil || at.IsZero() || at.After(now.Add(time.Minute)) {
		return false
	}
	h := p.Location.hours
	return h.Contains(at.In(zone)) && h.Contains(now.In(zone))
}
