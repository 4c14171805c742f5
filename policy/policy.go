package policy

import (
	"net/netip"
	"time"

	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Mode says whether a policy's decisions are enforced.
type Mode uint8

// Policy modes.
const (
	// Enforce is the default: the proxy acts on the decision.
	Enforce Mode = iota
	// ReportOnly evaluates and logs; see Decision for what the proxy enforces.
	ReportOnly
)

// String returns the mode's configuration name.
func (m Mode) String() string {
	if m == ReportOnly {
		return "report-only"
	}
	return "enforce"
}

// Policy is one compiled policy. It is immutable after parsing and safe for
// concurrent use; a reload builds new Policy values and swaps them in.
type Policy struct {
	// ID names the policy; routes refer to it.
	ID string
	// Mode is Enforce or ReportOnly.
	Mode Mode
	// Shadows, for a report-only policy, is the id of the enforced policy
	// the route keeps applying while this one is observed (config key
	// `shadows:`); empty means the route allows signed-in users meanwhile.
	// ParsePolicies checks that it names an enforced policy of the same file.
	Shadows string
	// EnforceFor, for a report-only policy, names the rollout plan waves
	// whose people already have it enforced (config key `enforce_for:`);
	// nil when none.
	EnforceFor *EnforceFor
	// File and Line locate the policy's definition, for messages.
	File string
	Line int
	// CheckRefs are the compliance check names the policy's rules test
	// (`device: {check: ...}`), so a caller that knows the checks can refuse
	// a misspelt one at lint time.
	CheckRefs []CheckRef

	allow []*rule
	deny  []*rule
	// allowIdx and denyIdx index large rule lists by identity (see index.go).
	allowIdx, denyIdx *ruleIndex
}

// CheckRef is a compliance check name used in a policy, with its place.
type CheckRef struct {
	Name      string
	File      string
	Line, Col int
}

// RuleIDs lists the policy's rule ids, deny rules first, in file order
// (for metrics labels and the console).
func (p *Policy) RuleIDs() []string {
	out := make([]string, 0, len(p.deny)+len(p.allow))
	for _, r := range p.deny {
		out = append(out, r.id)
	}
	for _, r := range p.allow {
		out = append(out, r.id)
	}
	return out
}

// rule is one allow or deny rule: a condition tree and what it grants.
type rule struct {
	pos int // position in its allow or deny list
	id  string
	ids []string // []string{id}, shared by decisions so allows do not allocate
	// body is the rule's condition; for allow rules it includes the mfa
	// condition added by `require: [mfa]`.
	body node
	// restrict are the restrictions an allow rule grants access under.
	restrict Restrictions
	// hasMFA is set when body contains an mfa condition, i.e. when a step-up
	// could make the rule match.
	hasMFA bool
	// hasSessionAge is set when the rule has a session_max_age, i.e. when
	// signing in again could make it match.
	hasSessionAge bool
	// message and remediation replace the generated reasons of a deny rule.
	message, remediation string
}

type op uint8

const (
	opLeaf op = iota
	opAnd     // every item holds
	opOr      // at least one item holds
	opNot     // no item holds (PPL: ¬A ∧ ¬B)
	opNor     // not every item holds (PPL: ¬A ∨ ¬B)
)

// node is a condition tree: an operator over kids, or a leaf criterion.
type node struct {
	op   op
	kids []node
	leaf *leaf
}

type kind uint8

const (
	kEmail kind = iota
	kEmailSuffix
	kDomain
	kGroupAny
	kGroupAll
	kIdP
	kMFA
	kTrust
	kOwnership
	kPlatform
	kCompliant
	kCheck
	kDeviceID
	kSeenWithin
	kManaged
	kKey
	kKeyAttested
	kIPIn
	kIPNotIn
	kCountryIn
	kCountryNotIn
	kTime
	kMethod
	kPathIs
	kPathPrefix
	// kSessionAge is a rule's session_max_age: the sign-in is younger than dur.
	kSessionAge
)

// leaf is one compiled criterion. Only the fields its kind needs are set.
type leaf struct {
	kind     kind
	set      strSet         // email, domain, groups, idp, ownership, platform, id, method, path
	strs     []string       // email suffixes, path prefixes, group lists for messages
	check    string         // compliance check name
	prefixes []netip.Prefix // ip: IPv6 networks
	nets4    []net4         // ip: IPv4 networks, as integers for a fast scan
	country  countrySet
	lo, hi   store.Trust
	dur      time.Duration // mfa max age (0 = any), seen_within, session max age
	b        bool          // compliant, managed, key (true = hardware)
	win      *window
}

// strSet is a set of strings: a slice scanned linearly while small (faster
// than hashing), a map when large. fold makes it ASCII case-insensitive
// (and only ASCII: no Unicode look-alike of an address or domain matches,
// see package mailaddr); its members are then stored lower-case.
type strSet struct {
	list []string
	m    map[string]struct{}
	fold bool
}

const setMapThreshold = 12

func newStrSet(items []string, fold bool) strSet {
	s := strSet{fold: fold}
	for _, it := range items {
		if fold {
			it = mailaddr.Fold(it)
		}
		s.list = append(s.list, it)
	}
	if len(s.list) > setMapThreshold {
		s.m = make(map[string]struct{}, len(s.list))
		for _, it := range s.list {
			s.m[it] = struct{}{}
		}
	}
	return s
}

func (s *strSet) has(x string) bool {
	if s.m != nil {
		if s.fold && !isLowerASCII(x) {
			x = mailaddr.Fold(x) // allocates only for mixed-case input
		}
		_, ok := s.m[x]
		return ok
	}
	for _, it := range s.list {
		if it == x || (s.fold && mailaddr.EqualFold(it, x)) {
			return true
		}
	}
	return false
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// countrySet is a bit set over the 26×26 two-letter codes.
type countrySet [11]uint64

// countryIndex maps a two-letter code (any case) to 0..675; the unknown or
// malformed code maps to ZZ, the ISO user-assigned code for "unknown".
func countryIndex(cc string) int {
	if len(cc) != 2 {
		return 675
	}
	a, b := cc[0]|0x20, cc[1]|0x20
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 675
	}
	return int(a-'a')*26 + int(b-'a')
}

func (s *countrySet) add(i int)      { s[i/64] |= 1 << (i % 64) }
func (s *countrySet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func countryName(i int) string       { return string([]byte{byte('A' + i/26), byte('A' + i%26)}) }
func (s *countrySet) empty() bool    { return *s == countrySet{} }
func (s *countrySet) codes() (o []string) {
	for i := 0; i < 676; i++ {
		if s.has(i) {
			o = append(o, countryName(i))
		}
	}
	return o
}

// net4 is an IPv4 network as a masked address and its mask.
type net4 struct{ addr, mask uint32 }

func ipv4Int(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
