package policy

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Keys a rule may carry beside its condition.
var (
	allowRuleKeys = []string{"id", "description", "restrictions", "require", "mfa_max_age", "session_max_age"}
	denyRuleKeys  = []string{"id", "description", "message", "remediation"}
	operators     = []string{"and", "or", "not", "nor"}
)

// rules compiles an allow or deny value: a list of rules; a block whose
// only key is `or`, each of whose items is then a rule; or a single rule.
func (p *parser) rules(n *yaml.Node, pid, action string, req requirement, restrict Restrictions, refs []ruleRef) ([]*rule, []ruleRef) {
	n = p.resolve(n)
	if n == nil {
		return nil, refs
	}
	items := []*yaml.Node{n}
	switch {
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "or":
		if list := p.resolve(n.Content[1]); list != nil && list.Kind == yaml.SequenceNode {
			items = list.Content
		}
	}
	if len(items) == 0 {
		p.errorf(n, "%s must hold at least one rule", action)
		return nil, refs
	}
	var out []*rule
	for i, item := range items {
		r, ref := p.rule(item, fmt.Sprintf("%s/%s/%d", pid, action, i), action, req, restrict)
		if r != nil {
			out = append(out, r)
			refs = append(refs, ref)
		}
	}
	return out, refs
}

// rule compiles one rule: its condition plus the rule keys.
func (p *parser) rule(n *yaml.Node, defaultID, action string, req requirement, restrict Restrictions) (*rule, ruleRef) {
	n = p.resolve(n)
	fs, ok := p.fields(n, action+" rule")
	if !ok {
		return nil, ruleRef{}
	}
	r := &rule{id: defaultID, restrict: restrict}
	ref := ruleRef{line: n.Line, col: n.Column}
	ruleKeys := allowRuleKeys
	if action == "deny" {
		ruleKeys = denyRuleKeys
	}
	var cond []field
	var local requirement
	for _, f := range fs {
		if !isOneOf(f.key, ruleKeys) {
			if isOneOf(f.key, allowRuleKeys) || isOneOf(f.key, denyRuleKeys) {
				p.errorf(f.keyPos, "%q is not allowed on a %s rule", f.key, action)
				continue
			}
			cond = append(cond, f)
			continue
		}
		switch f.key {
		case "id":
			if id, ok := p.nonEmpty(f.val, "rule id"); ok {
				if !validRuleID(id) {
					p.errorf(p.resolve(f.val), "rule id %q may only hold letters, digits, '-', '_', '.' and '/'", id)
				}
				r.id = id
				ref.line, ref.col = f.keyPos.Line, f.keyPos.Column
			}
		case "description":
			p.str(f.val, "description")
		case "restrictions":
			r.restrict |= p.restrictions(f.val)
		case "require":
			local.parseList(p, f.val)
		case "mfa_max_age":
			local.maxAge, _ = p.duration(f.val, "mfa_max_age")
			local.maxAgeNode = f.keyPos
		case "session_max_age":
			local.sessionMaxAge, _ = p.duration(f.val, "session_max_age")
		case "message":
			r.message, _ = p.nonEmpty(f.val, "message")
		case "remediation":
			r.remediation, _ = p.nonEmpty(f.val, "remediation")
		}
	}
	local.check(p)
	if r.remediation != "" && r.message == "" {
		p.errorf(n, "remediation needs a message beside it")
	}
	ref.id = r.id
	body, ok := p.condition(n, cond, 0, fmt.Sprintf("%s rule", action))
	if !ok {
		return nil, ref
	}
	// require: [mfa] adds an mfa condition to the rule, the rule's own max
	// age taking precedence over the policy's.
	for _, q := range []requirement{req, local} {
		if q.mfa {
			body = node{op: opAnd, kids: []node{body, {op: opLeaf, leaf: &leaf{kind: kMFA, dur: q.maxAge}}}}
		}
	}
	// session_max_age adds a sign-in age condition, last so that it is
	// compared only when the rest of the rule holds; when both the policy and
	// the rule set one, the shorter applies.
	if age := minAge(local.sessionMaxAge, req.sessionMaxAge); age != 0 {
		body = node{op: opAnd, kids: []node{body, {op: opLeaf, leaf: &leaf{kind: kSessionAge, dur: age}}}}
		r.hasSessionAge = true
	}
	r.body = body
	r.ids = []string{r.id}
	body.walkLeaves(func(l *leaf) { r.hasMFA = r.hasMFA || l.kind == kMFA })
	return r, ref
}

// condition compiles the condition keys of a mapping: exactly one
// criterion, or one or more operators (all of which must hold).
func (p *parser) condition(n *yaml.Node, fs []field, depth int, what string) (node, bool) {
	if len(fs) == 0 {
		p.errorf(n, "%s needs a condition: and, or, not, nor or a criterion", what)
		return node{}, false
	}
	var ops, crit []field
	for _, f := range fs {
		if isOneOf(f.key, operators) {
			ops = append(ops, f)
		} else {
			crit = append(crit, f)
		}
	}
	if len(ops) > 0 && len(crit) > 0 || len(crit) > 1 {
		f := fs[1]
		p.errorf(f.keyPos, "%q cannot share a list item with %q: write one criterion per item, inside an and/or list", f.key, fs[0].key)
		return node{}, false
	}
	if len(crit) == 1 {
		return p.criterion(crit[0])
	}
	if depth >= maxDepth {
		p.errorf(n, "conditions are nested too deeply (more than %d levels)", maxDepth)
		return node{}, false
	}
	kids := make([]node, 0, len(ops))
	good := true
	for _, f := range ops {
		k, ok := p.operator(f, depth)
		good = good && ok
		kids = append(kids, k)
	}
	if !good {
		return node{}, false
	}
	if len(kids) == 1 {
		return kids[0], true
	}
	return node{op: opAnd, kids: kids}, true
}

// operator compiles `and|or|not|nor: [items]`.
func (p *parser) operator(f field, depth int) (node, bool) {
	list := p.resolve(f.val)
	if list == nil {
		return node{}, false
	}
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "%s must be a list of conditions, not %s", f.key, describeNode(list))
		return node{}, false
	}
	if len(list.Content) == 0 {
		p.errorf(list, "%s must not be an empty list", f.key)
		return node{}, false
	}
	n := node{op: opFor(f.key)}
	good := true
	for _, item := range list.Content {
		item = p.resolve(item)
		fs, ok := p.fields(item, "condition")
		if !ok {
			good = false
			continue
		}
		itemOK := true
		for _, g := range fs {
			if isOneOf(g.key, allowRuleKeys) || isOneOf(g.key, denyRuleKeys) {
				p.errorf(g.keyPos, "%q is only allowed on a rule: an item of allow or deny, or of their top-level or list", g.key)
				itemOK = false
			}
		}
		if !itemOK {
			good = false
			continue
		}
		k, ok := p.condition(item, fs, depth+1, "condition")
		good = good && ok
		n.kids = append(n.kids, k)
	}
	return n, good
}

func isOneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func opFor(key string) op {
	switch key {
	case "or":
		return opOr
	case "not":
		return opNot
	case "nor":
		return opNor
	}
	return opAnd
}

// minAge is the shorter of two ages, 0 meaning no limit.
func minAge(a, b time.Duration) time.Duration {
	if a == 0 || b != 0 && b < a {
		return b
	}
	return a
}
