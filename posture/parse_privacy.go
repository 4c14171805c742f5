package posture

import (
	"sort"
	"strings"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// Privacy defaults, documented in docs/privacy.md.
const (
	DefaultPostureRetention  = 90 * 24 * time.Hour
	DefaultActionRetention   = 365 * 24 * time.Hour
	DefaultEventRetention    = 365 * 24 * time.Hour
	DefaultLocationRetention = 30 * 24 * time.Hour
)

// defaultProfiles are the signal groups each ownership allows by default:
// corporate devices report everything but location; COPE devices keep their
// owner's personal use private, so no application inventory; BYOD work
// profiles report only the security state.
var defaultProfiles = map[store.Ownership][]string{
	store.OwnershipCorporate: {GroupSecurity, GroupSystem, GroupApps, GroupOther},
	store.OwnershipCOPE:      {GroupSecurity, GroupSystem},
	store.OwnershipBYOD:      {GroupSecurity},
}

var (
	privacyKeys   = []string{"profiles", "location", "retention", "contact"}
	profileKeys   = []string{"corporate", "cope", "byod"}
	locationKeys  = []string{"enabled", "ownership", "purpose", "working_hours", "retention"}
	hoursKeys     = []string{"days", "from", "to"}
	retentionKeys = []string{"posture", "actions", "events"}
)

// defaultHours is Monday to Friday, 08:00 to 19:00.
func defaultHours() Hours { return Hours{Days: 0b0111110, From: 8 * 60, To: 19 * 60} }

func (p *parser) privacy(n *yaml.Node) Privacy {
	pv := Privacy{
		Profiles:  map[store.Ownership]collect.Allowed{},
		Location:  Location{Ownership: []store.Ownership{store.OwnershipCorporate}, Hours: defaultHours(), Retention: DefaultLocationRetention},
		Retention: Retention{Posture: DefaultPostureRetention, Actions: DefaultActionRetention, Events: DefaultEventRetention},
	}
	for o, groups := range defaultProfiles {
		pv.Profiles[o] = expand(groups)
	}
	if absent(n) || isNull(p.resolve(n)) {
		return pv
	}
	fs, ok := p.fields(n, "privacy")
	if !ok {
		return pv
	}
	for _, f := range fs {
		switch f.key {
		case "profiles":
			p.profiles(f.val, pv.Profiles)
		case "location":
			p.location(f.val, &pv.Location)
		case "retention":
			p.retention(f.val, &pv.Retention)
		case "contact":
			pv.Contact, _ = p.str(f.val, "contact")
		default:
			p.unknownKey(f, "privacy", privacyKeys)
		}
	}
	return pv
}

// expand turns group and signal names into an allowed set.
func expand(names []string) collect.Allowed {
	a := collect.Allowed{}
	for _, n := range names {
		if isGroup(n) {
			for _, m := range groupMembers(n) {
				if catalog[m].group != GroupLocation { // location only through privacy.location
					a[m] = struct{}{}
				}
			}
			continue
		}
		a[n] = struct{}{}
	}
	return a
}

func (p *parser) profiles(n *yaml.Node, out map[store.Ownership]collect.Allowed) {
	fs, ok := p.fields(n, "privacy profiles")
	if !ok {
		return
	}
	for _, f := range fs {
		if !contains(profileKeys, f.key) {
			p.unknownKey(f, "privacy profiles", profileKeys)
			continue
		}
		o := store.Ownership(f.key)
		names, nodes, ok := p.strList(f.val, "profile "+f.key, true)
		if !ok {
			continue
		}
		for i, s := range names {
			switch {
			case s == GroupLocation || catalog[s].group == GroupLocation:
				p.errorf(nodes[i], "location is not part of a data profile: it is collected only under privacy.location (purpose, working hours)")
			case o == store.OwnershipBYOD && (s == GroupApps || s == GroupAll || s == collect.AppsInstalled):
				p.errorf(nodes[i], "the byod profile may not include the application inventory (%q): personal devices report only their security state", s)
			case o == store.OwnershipBYOD && (s == GroupSystem || s == GroupOther):
				p.errorf(nodes[i], "the byod profile may include only security-relevant signals (the security group or its names), not %q", s)
			case o == store.OwnershipBYOD && !isGroup(s) && KnownSignal(s) && catalog[s].group != GroupSecurity:
				p.errorf(nodes[i], "the byod profile may include only security-relevant signals; %q is in the %s group", s, catalog[s].group)
			case !isGroup(s) && !KnownSignal(s):
				p.errorf(nodes[i], "unknown signal or group %q (groups: security, system, apps, other, all; signals: %s)", s, strings.Join(knownNames(), ", "))
			}
		}
		out[o] = expand(names)
	}
}

func knownNames() []string {
	out := make([]string, 0, len(catalog))
	for n := range catalog {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (p *parser) location(n *yaml.Node, l *Location) {
	fs, ok := p.fields(n, "privacy location")
	if !ok {
		return
	}
	var purposeSeen bool
	var enabledNode *yaml.Node
	for _, f := range fs {
		switch f.key {
		case "enabled":
			l.Enabled, _ = p.boolean(f.val, "location enabled")
			enabledNode = f.keyPos
		case "ownership":
			names, nodes, _ := p.strList(f.val, "location ownership", false)
			l.Ownership = nil
			for i, s := range names {
				o, err := store.ParseOwnership(s)
				switch {
				case err != nil:
					p.errorf(nodes[i], "%v", err)
				case o == store.OwnershipBYOD || o == store.OwnershipUnmanaged:
					p.errorf(nodes[i], "location may never be collected from %s devices", o)
				default:
					l.Ownership = append(l.Ownership, o)
				}
			}
		case "purpose":
			purposeSeen = true
			if s, ok := p.str(f.val, "location purpose"); ok {
				if len(s) < 10 {
					p.errorf(p.resolve(f.val), "location purpose must state the legitimate purpose in a sentence, not %q", s)
				}
				l.Purpose = s
			}
		case "working_hours":
			p.hours(f.val, &l.Hours)
		case "retention":
			l.Retention, _ = p.duration(f.val, "location retention", false)
		default:
			p.unknownKey(f, "privacy location", locationKeys)
		}
	}
	if l.Enabled && !purposeSeen {
		p.errorf(enabledNode, "location is enabled but has no purpose: name the legitimate purpose (e.g. \"locate a lost or stolen laptop\")")
	}
}

func (p *parser) hours(n *yaml.Node, h *Hours) {
	fs, ok := p.fields(n, "working_hours")
	if !ok {
		return
	}
	for _, f := range fs {
		switch f.key {
		case "days":
			names, nodes, ok := p.strList(f.val, "working_hours days", false)
			if !ok {
				continue
			}
			h.Days = 0
			for i, s := range names {
				m, err := parseDays(s)
				if err != nil {
					p.errorf(nodes[i], "%v", err)
				}
				h.Days |= m
			}
		case "from", "to":
			s, ok := p.str(f.val, "working_hours "+f.key)
			if !ok {
				continue
			}
			m, err := parseClock(s)
			if err != nil {
				p.errorf(p.resolve(f.val), "%v", err)
				continue
			}
			if f.key == "from" {
				h.From = m
			} else {
				h.To = m
			}
		default:
			p.unknownKey(f, "working_hours", hoursKeys)
		}
	}
	if h.From == h.To {
		p.errorf(p.resolve(n), "working_hours from and to are equal: the window would be empty")
	}
}

func (p *parser) retention(n *yaml.Node, r *Retention) {
	fs, ok := p.fields(n, "privacy retention")
	if !ok {
		return
	}
	for _, f := range fs {
		var d time.Duration
		var ok bool
		if contains(retentionKeys, f.key) {
			d, ok = p.duration(f.val, "retention "+f.key, false)
		}
		switch {
		case f.key == "posture" && ok:
			r.Posture = d
		case f.key == "actions" && ok:
			r.Actions = d
		case f.key == "events" && ok:
			r.Events = d
		case !contains(retentionKeys, f.key):
			p.unknownKey(f, "privacy retention", retentionKeys)
		}
	}
}
