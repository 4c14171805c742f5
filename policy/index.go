package policy

import "github.com/portier/portier/mailaddr"

// Large policies (one rule per team or per user is common) are indexed by
// identity: a rule whose condition requires a group or an email, through
// nothing but and-ing, cannot match a user lacking it. Evaluation then only
// looks at the rules indexed under the user's groups and email, plus the
// rules that have no such condition, instead of every rule.

// indexThreshold is the rule count from which a rule list is indexed; below
// it a plain scan in file order is faster.
const indexThreshold = 16

// ruleIndex maps identity keys to the positions of the rules requiring them.
type ruleIndex struct {
	byGroup map[string][]int32
	byEmail map[string][]int32 // lower-case
	always  []int32            // rules with no identity requirement
}

// buildIndex indexes rules when there are enough of them to pay off.
func buildIndex(rules []*rule) *ruleIndex {
	if len(rules) < indexThreshold {
		return nil
	}
	x := &ruleIndex{byGroup: map[string][]int32{}, byEmail: map[string][]int32{}}
	for i, r := range rules {
		l := requiredIdentity(&r.body)
		switch {
		case l == nil:
			x.always = append(x.always, int32(i))
		case l.kind == kEmail:
			for _, em := range uniq(l.set.list) {
				x.byEmail[em] = append(x.byEmail[em], int32(i))
			}
		case l.kind == kGroupAll:
			x.byGroup[l.strs[0]] = append(x.byGroup[l.strs[0]], int32(i))
		default: // kGroupAny
			for _, g := range uniq(l.strs) {
				x.byGroup[g] = append(x.byGroup[g], int32(i))
			}
		}
	}
	return x
}

// requiredIdentity finds a group or email leaf that must hold for n to hold.
func requiredIdentity(n *node) *leaf {
	switch n.op {
	case opLeaf:
		switch n.leaf.kind {
		case kGroupAny, kGroupAll, kEmail:
			return n.leaf
		}
	case opAnd:
		for i := range n.kids {
			if l := requiredIdentity(&n.kids[i]); l != nil {
				return l
			}
		}
	}
	return nil
}

func uniq(items []string) []string {
	var out []string
	for _, s := range items {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// candidates iterates over the positions of the rules that may match a
// request, without allocating. Without an index it yields every position in
// file order; with one, a position may come up more than once and in any order.
type candidates struct {
	x     *ruleIndex
	n     int // rule count, when x is nil
	in    *Input
	stage int // 0: always, 1: email, 2: groups
	group int
	list  []int32
	pos   int
}

func (c *candidates) next() (int, bool) {
	if c.x == nil {
		if c.pos >= c.n {
			return 0, false
		}
		c.pos++
		return c.pos - 1, true
	}
	for c.pos >= len(c.list) {
		switch c.stage {
		case 0:
			c.list, c.stage = c.x.always, 1
		case 1:
			em := c.in.Email
			if !isLowerASCII(em) {
				em = mailaddr.Fold(em)
			}
			c.list, c.stage = c.x.byEmail[em], 2
		default:
			if c.group >= len(c.in.Groups) {
				return 0, false
			}
			c.list = c.x.byGroup[c.in.Groups[c.group]]
			c.group++
		}
		c.pos = 0
	}
	c.pos++
	return int(c.list[c.pos-1]), true
}
