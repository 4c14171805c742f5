package policy

import (
	"strings"

	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

var deviceKeys = []string{"trust", "ownership", "platform", "compliant", "check", "id", "seen_within", "managed", "key"}

// device compiles `device: {...}`: each key is its own condition and all
// must hold, so reasons name each failing one separately.
func (p *parser) device(f field) []*leaf {
	fs, ok := p.fields(f.val, "device criterion")
	if !ok {
		return nil
	}
	if len(fs) == 0 {
		p.errorf(p.resolve(f.val), "device needs at least one of %s", strings.Join(deviceKeys, ", "))
		return nil
	}
	var out []*leaf
	for _, g := range fs {
		switch g.key {
		case "trust":
			out = append(out, p.trust(g)...)
		case "ownership":
			out = append(out, p.ownership(g)...)
		case "platform":
			out = append(out, p.setCriterion(g, kPlatform, true, "is", "in")...)
		case "id":
			out = append(out, p.setCriterion(g, kDeviceID, false, "is", "in")...)
		case "compliant", "managed":
			b, _ := p.boolean(g.val, "device "+g.key)
			k := kCompliant
			if g.key == "managed" {
				k = kManaged
			}
			out = append(out, &leaf{kind: k, b: b})
		case "check":
			names, _, ok := p.strList(g.val, "device check")
			if ok {
				v := p.resolve(g.val)
				for _, n := range names {
					out = append(out, &leaf{kind: kCheck, check: n})
					p.checks = append(p.checks, CheckRef{Name: n, File: p.File, Line: v.Line, Col: v.Column})
				}
			}
		case "key":
			out = append(out, p.keyProtection(g)...)
		case "seen_within":
			d, _ := p.duration(g.val, "device seen_within")
			out = append(out, &leaf{kind: kSeenWithin, dur: d})
		default:
			p.unknownKey(g, "device criterion", deviceKeys...)
		}
	}
	return out
}

// trust compiles `trust: {gte|lte|is: level}`; gte and lte together give a range.
func (p *parser) trust(f field) []*leaf {
	fs, ok := p.opFields(f, "", "gte", "lte", "is")
	if !ok {
		return nil
	}
	l := &leaf{kind: kTrust, lo: store.TrustUntrusted, hi: store.TrustHigh}
	for _, g := range fs {
		v := p.resolve(g.val)
		s, ok := p.str(v, "trust "+g.key)
		if !ok {
			return nil
		}
		t, err := store.ParseTrust(s)
		if err != nil {
			p.errorf(v, "%v", err)
			return nil
		}
		switch g.key {
		case "gte":
			l.lo = max(l.lo, t)
		case "lte":
			l.hi = min(l.hi, t)
		case "is":
			if len(fs) > 1 {
				p.errorf(g.keyPos, "trust is cannot be combined with gte or lte")
				return nil
			}
			l.lo, l.hi = t, t
		}
	}
	if l.lo > l.hi {
		p.errorf(p.resolve(f.val), "trust range is empty: nothing is both %s or higher and %s or lower", l.lo, l.hi)
		return nil
	}
	return []*leaf{l}
}

func (p *parser) ownership(f field) []*leaf {
	g, ok := p.oneOp(f, "is", "is", "in")
	if !ok {
		return nil
	}
	vals, nodes, ok := p.values(g, "ownership")
	if !ok {
		return nil
	}
	for i, v := range vals {
		o, err := store.ParseOwnership(v)
		if err != nil {
			p.errorf(nodes[i], "%v", err)
			continue
		}
		vals[i] = string(o)
	}
	return []*leaf{{kind: kOwnership, set: newStrSet(vals, false), strs: vals}}
}

// KeyAttested is the `key` value that holds for a hardware key Portier
// verified (TPM key attestation), not only the agent's word.
const KeyAttested = "attested"

// keyProtection compiles `key: hardware|attested|software` (or
// `key: {is: ...}`): where the device's private key lives, and for
// attested, that Portier verified it.
func (p *parser) keyProtection(f field) []*leaf {
	g, ok := p.oneOp(f, "is", "is")
	if !ok {
		return nil
	}
	vals, nodes, ok := p.values(g, "key")
	if !ok {
		return nil
	}
	switch strings.ToLower(vals[0]) {
	case store.KeyHardware:
		return []*leaf{{kind: kKey, b: true}}
	case store.KeySoftware:
		return []*leaf{{kind: kKey, b: false}}
	case KeyAttested:
		return []*leaf{{kind: kKeyAttested}}
	}
	p.errorf(nodes[0], "device key must be hardware, attested or software, not %q", vals[0])
	return nil
}

var timeKeys = []string{"weekdays", "from", "to", "tz"}

// timeWindow compiles `time: {weekdays, from, to, tz}`.
func (p *parser) timeWindow(f field) []*leaf {
	fs, ok := p.fields(f.val, "time criterion")
	if !ok {
		return nil
	}
	w := &window{Window: confyaml.Window{Days: confyaml.AllDays}}
	var fromNode, toNode *yaml.Node
	before := len(p.Errs)
	for _, g := range fs {
		switch g.key {
		case "weekdays":
			names, nodes, ok := p.strList(g.val, "weekdays")
			if !ok {
				continue
			}
			w.Days = 0
			for i, n := range names {
				m, err := confyaml.ParseDays(n)
				if err != nil {
					p.errorf(nodes[i], "%v", err)
				}
				w.Days |= m
			}
		case "from", "to":
			v := p.resolve(g.val)
			s, ok := p.str(v, "time "+g.key)
			if !ok {
				continue
			}
			m, err := parseClock(s, g.key == "to")
			if err != nil {
				p.errorf(v, "%v", err)
				continue
			}
			if g.key == "from" {
				w.From, fromNode = m, g.keyPos
			} else {
				w.To, toNode = m, g.keyPos
			}
		case "tz":
			v := p.resolve(g.val)
			if s, ok := p.str(v, "tz"); ok {
				loc, err := loadLocation(s)
				if err != nil {
					p.errorf(v, "%v", err)
				}
				w.Loc = loc
			}
		default:
			p.unknownKey(g, "time criterion", timeKeys...)
		}
	}
	if len(p.Errs) > before {
		return nil
	}
	switch {
	case fromNode == nil && toNode == nil:
		if !hasKey(fs, "weekdays") {
			p.errorf(p.resolve(f.val), "time needs weekdays, or from and to")
			return nil
		}
	case fromNode == nil:
		p.errorf(toNode, "time has to but no from")
		return nil
	case toNode == nil:
		p.errorf(fromNode, "time has from but no to")
		return nil
	case w.From == w.To:
		p.errorf(toNode, "time from and to are equal; the window would be empty (use weekdays alone for whole days)")
		return nil
	default:
		w.clock = true
	}
	if w.Loc == nil {
		w.Loc, _ = loadLocation("UTC")
	}
	return []*leaf{{kind: kTime, win: w}}
}
