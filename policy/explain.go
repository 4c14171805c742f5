package policy

// Explaining walks a node whose value differs from the wanted one and
// collects the leaves responsible: for an allow rule (want true) the
// conditions that fail, for a deny rule (want false) the conditions that
// made it match. It runs only on deny and step-up, so it may allocate.

// explain appends the reasons why n's value is not want.
func (n *node) explain(e *env, want bool, ruleID string, out []Reason) []Reason {
	switch n.op {
	case opLeaf:
		r := n.leaf.reason(e, want)
		r.Rule = ruleID
		return append(out, r)
	case opAnd, opNot:
		// and: wanted true, some kid is false -> explain the false kids.
		// not: wanted true, some kid is true -> explain the true kids.
		// Wanted false: every kid has its "holding" value; explain all.
		kidWant := n.op == opAnd
		for i := range n.kids {
			k := &n.kids[i]
			if !want || k.eval(e) != kidWant {
				out = k.explain(e, kidWant == want, ruleID, out)
			}
		}
	case opOr, opNor:
		// or: wanted true, every kid is false -> explain all; wanted false,
		// explain the true kids. nor is the mirror image.
		kidWant := n.op == opOr
		for i := range n.kids {
			k := &n.kids[i]
			if want || k.eval(e) == kidWant {
				out = k.explain(e, kidWant == want, ruleID, out)
			}
		}
	}
	return out
}

// countFailing counts the leaves explain would report, without allocating:
// identity conditions (email, domain, group, idp) and the others apart.
func (n *node) countFailing(e *env, want bool) (ident, other int) {
	if n.eval(e) == want {
		return 0, 0
	}
	if n.op == opLeaf {
		switch n.leaf.kind {
		case kEmail, kEmailSuffix, kDomain, kGroupAny, kGroupAll, kIdP:
			return 1, 0
		}
		return 0, 1
	}
	kidWant := n.op == opAnd || n.op == opOr
	for i := range n.kids {
		k := &n.kids[i]
		var include bool
		if n.op == opAnd || n.op == opNot {
			include = !want || k.eval(e) != kidWant
		} else {
			include = want || k.eval(e) == kidWant
		}
		if include {
			a, b := k.countFailing(e, kidWant == want)
			ident, other = ident+a, other+b
		}
	}
	return ident, other
}

// stepUpReason reports the strictest failing mfa condition of a rule that a
// fresh multi-factor sign-in would satisfy.
func (n *node) stepUpReason(e *env, ruleID string) Reason {
	var strictest *leaf
	n.walkLeaves(func(l *leaf) {
		if l.kind != kMFA || l.match(e) {
			return
		}
		if strictest == nil || (l.dur != 0 && (strictest.dur == 0 || l.dur < strictest.dur)) {
			strictest = l
		}
	})
	if strictest == nil { // cannot happen: the rule failed only for mfa
		strictest = &leaf{kind: kMFA}
	}
	r := strictest.reason(e, true)
	r.Rule = ruleID
	return r
}

func (n *node) walkLeaves(f func(*leaf)) {
	if n.op == opLeaf {
		f(n.leaf)
		return
	}
	for i := range n.kids {
		n.kids[i].walkLeaves(f)
	}
}
