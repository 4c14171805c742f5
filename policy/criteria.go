package policy

import (
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"
)

var criteria = []string{"email", "domain", "group", "idp", "mfa", "device", "ip", "country", "time", "method", "path"}

// criterion compiles one `name: value` criterion into a leaf, or into an and
// of leaves for criteria with several independent parts (device, ip).
func (p *parser) criterion(f field) (node, bool) {
	before := len(p.Errs)
	var leaves []*leaf
	switch f.key {
	case "email":
		leaves = p.email(f)
	case "domain":
		leaves = p.setCriterion(f, kDomain, true, "is", "in")
	case "group":
		leaves = p.group(f)
	case "idp":
		leaves = p.setCriterion(f, kIdP, false, "is", "in")
	case "mfa":
		leaves = p.mfa(f)
	case "device":
		leaves = p.device(f)
	case "ip":
		leaves = p.ip(f)
	case "country":
		leaves = p.country(f)
	case "time":
		leaves = p.timeWindow(f)
	case "method":
		leaves = p.setCriterion(f, kMethod, true, "is", "in")
	case "path":
		leaves = p.path(f)
	default:
		if isOneOf(f.key, deviceKeys) {
			p.errorf(f.keyPos, "unknown criterion %q (did you mean device: {%s: ...}?)", f.key, f.key)
			return node{}, false
		}
		p.errorf(f.keyPos, "unknown criterion or operator %q (want and, or, not, nor or one of %s)", f.key, strings.Join(criteria, ", "))
		return node{}, false
	}
	if len(p.Errs) > before || len(leaves) == 0 {
		return node{}, false
	}
	if len(leaves) == 1 {
		return node{op: opLeaf, leaf: leaves[0]}, true
	}
	n := node{op: opAnd}
	for _, l := range leaves {
		n.kids = append(n.kids, node{op: opLeaf, leaf: l})
	}
	return n, true
}

// opFields reads a criterion's `{operator: value}` mapping. A scalar value
// is shorthand for the operator named by shorthand, when there is one.
func (p *parser) opFields(f field, shorthand string, allowed ...string) ([]field, bool) {
	v := p.resolve(f.val)
	if v == nil {
		return nil, false
	}
	if v.Kind == yaml.ScalarNode && shorthand != "" && v.ShortTag() != "!!null" {
		return []field{{key: shorthand, keyPos: v, val: v}}, true
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s must be a mapping of operators (%s), not %s", f.key, strings.Join(allowed, ", "), describeNode(v))
		return nil, false
	}
	fs, ok := p.fields(v, f.key)
	if !ok {
		return nil, false
	}
	if len(fs) == 0 {
		p.errorf(v, "%s needs an operator (%s)", f.key, strings.Join(allowed, ", "))
		return nil, false
	}
	good := true
	for _, g := range fs {
		if !isOneOf(g.key, allowed) {
			p.errorf(g.keyPos, "unknown operator %q for %s (want %s)", g.key, f.key, strings.Join(allowed, ", "))
			good = false
		}
	}
	return fs, good
}

// oneOp is opFields for criteria that take exactly one operator.
func (p *parser) oneOp(f field, shorthand string, allowed ...string) (field, bool) {
	fs, ok := p.opFields(f, shorthand, allowed...)
	if !ok {
		return field{}, false
	}
	if len(fs) > 1 {
		p.errorf(fs[1].keyPos, "%s takes one operator; found %s and %s (combine criteria with and/or)", f.key, fs[0].key, fs[1].key)
		return field{}, false
	}
	return fs[0], true
}

// values reads an operator's value: one string for `is`/`has`, a list (or
// one string) for the others.
func (p *parser) values(g field, what string) ([]string, []*yaml.Node, bool) {
	if g.key == "is" || g.key == "has" {
		v := p.resolve(g.val)
		s, ok := p.nonEmpty(v, what+" "+g.key)
		return []string{s}, []*yaml.Node{v}, ok
	}
	return p.strList(g.val, what+" "+g.key)
}

// setCriterion compiles an is/in criterion into a set leaf.
func (p *parser) setCriterion(f field, k kind, fold bool, ops ...string) []*leaf {
	g, ok := p.oneOp(f, ops[0], ops...)
	if !ok {
		return nil
	}
	vals, nodes, ok := p.values(g, f.key)
	if !ok {
		return nil
	}
	for i, v := range vals {
		switch k {
		case kDomain:
			if strings.Contains(v, "@") {
				p.errorf(nodes[i], "domain %q must be a bare domain such as example.com", v)
			}
		case kMethod:
			if !validID(v) {
				p.errorf(nodes[i], "bad HTTP method %q", v)
			}
		}
	}
	return []*leaf{{kind: k, set: newStrSet(vals, fold), strs: vals}}
}

func (p *parser) email(f field) []*leaf {
	g, ok := p.oneOp(f, "is", "is", "in", "ends_with")
	if !ok {
		return nil
	}
	vals, nodes, ok := p.values(g, "email")
	if !ok {
		return nil
	}
	if g.key == "ends_with" {
		for i, v := range vals {
			if !strings.HasPrefix(v, "@") && !strings.HasPrefix(v, ".") {
				p.errorf(nodes[i], "email ends_with %q would also match look-alike domains; write \"@%s\" (this domain) or \".%s\" (its subdomains)", v, v, v)
			}
		}
		return []*leaf{{kind: kEmailSuffix, strs: vals}}
	}
	for i, v := range vals {
		if !strings.Contains(v, "@") {
			p.errorf(nodes[i], "%q is not an email address", v)
		}
	}
	return []*leaf{{kind: kEmail, set: newStrSet(vals, true), strs: vals}}
}

func (p *parser) group(f field) []*leaf {
	g, ok := p.oneOp(f, "has", "has", "any", "all")
	if !ok {
		return nil
	}
	vals, _, ok := p.values(g, "group")
	if !ok {
		return nil
	}
	if g.key == "all" {
		return []*leaf{{kind: kGroupAll, strs: vals}}
	}
	return []*leaf{{kind: kGroupAny, set: newStrSet(vals, false), strs: vals}}
}

// mfa compiles `mfa: true` (any multi-factor sign-in in this session) or
// `mfa: {max_age: 15m}`.
func (p *parser) mfa(f field) []*leaf {
	v := p.resolve(f.val)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		b, ok := p.boolean(v, "mfa")
		if ok && !b {
			p.errorf(v, "mfa: false is not a condition; use not: [{mfa: true}] if you mean it")
		}
		return []*leaf{{kind: kMFA}}
	}
	g, ok := p.oneOp(f, "", "max_age")
	if !ok {
		return nil
	}
	d, _ := p.duration(g.val, "mfa max_age")
	return []*leaf{{kind: kMFA, dur: d}}
}

// ip compiles `ip: {in: [...], not_in: [...]}`; a bare list means in.
func (p *parser) ip(f field) []*leaf {
	var fs []field
	if v := p.resolve(f.val); v != nil && v.Kind == yaml.SequenceNode {
		fs = []field{{key: "in", keyPos: v, val: v}}
	} else {
		var ok bool
		if fs, ok = p.opFields(f, "", "in", "not_in"); !ok {
			return nil
		}
	}
	var out []*leaf
	for _, g := range fs {
		vals, nodes, ok := p.strList(g.val, "ip "+g.key)
		if !ok {
			return nil
		}
		l := &leaf{kind: kIPIn}
		if g.key == "not_in" {
			l.kind = kIPNotIn
		}
		for i, v := range vals {
			pfx, err := parsePrefix(v)
			if err != nil {
				p.errorf(nodes[i], "bad network %q (want a CIDR such as 10.0.0.0/8 or an address)", v)
				continue
			}
			if pfx.Addr().Is4() {
				mask := uint32(0)
				if pfx.Bits() > 0 {
					mask = ^uint32(0) << (32 - pfx.Bits())
				}
				l.nets4 = append(l.nets4, net4{addr: ipv4Int(pfx.Addr()), mask: mask})
			} else {
				l.prefixes = append(l.prefixes, pfx)
			}
		}
		out = append(out, l)
	}
	return out
}

// parsePrefix reads a CIDR or a single address; IPv4-mapped forms are unmapped.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		return pfx.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// country compiles `country: {is|in|not_in: ...}` over ISO 3166-1 alpha-2
// codes; ZZ stands for an unknown location.
func (p *parser) country(f field) []*leaf {
	g, ok := p.oneOp(f, "is", "is", "in", "not_in")
	if !ok {
		return nil
	}
	vals, nodes, ok := p.values(g, "country")
	if !ok {
		return nil
	}
	l := &leaf{kind: kCountryIn}
	if g.key == "not_in" {
		l.kind = kCountryNotIn
	}
	for i, v := range vals {
		if !isCountryCode(v) {
			p.errorf(nodes[i], "bad country code %q (want an ISO 3166-1 alpha-2 code such as FR, or ZZ for unknown)", v)
			continue
		}
		l.country.add(countryIndex(v))
	}
	return []*leaf{l}
}

func isCountryCode(s string) bool {
	return len(s) == 2 && isLetter(s[0]) && isLetter(s[1])
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// path compiles `path: {is|in|prefix: ...}`. Paths are case-sensitive.
func (p *parser) path(f field) []*leaf {
	g, ok := p.oneOp(f, "", "is", "in", "prefix")
	if !ok {
		return nil
	}
	vals, nodes, ok := p.values(g, "path")
	if !ok {
		return nil
	}
	for i, v := range vals {
		if !strings.HasPrefix(v, "/") {
			p.errorf(nodes[i], "path %q must start with /", v)
		}
	}
	if g.key == "prefix" {
		return []*leaf{{kind: kPathPrefix, strs: vals}}
	}
	return []*leaf{{kind: kPathIs, set: newStrSet(vals, false), strs: vals}}
}
