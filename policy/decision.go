package policy

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
)

// Outcome is what a decision tells the proxy to do. The zero value is Deny,
// so a Decision that was never filled in fails closed.
type Outcome uint8

// Outcomes, named in INTERFACE.md as deny, allow, step-up and allow-restricted.
const (
	// Deny refuses the request and shows the reasons on the deny page.
	Deny Outcome = iota
	// Allow forwards the request.
	Allow
	// StepUp sends the user through a fresh multi-factor ceremony and back
	// to the page they asked for; the request is not forwarded meanwhile.
	StepUp
	// AllowRestricted forwards the request with Decision.Restrictions
	// enforced by the proxy.
	AllowRestricted
)

var outcomeNames = [...]string{"deny", "allow", "step-up", "allow-restricted"}

// String returns the outcome's name as used in INTERFACE.md.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Allowed reports whether the request may be forwarded (Allow or AllowRestricted).
func (o Outcome) Allowed() bool { return o == Allow || o == AllowRestricted }

// MarshalText writes the outcome's name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, n := range outcomeNames {
		if string(b) == n {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("unknown outcome %q", b)
}

// Restrictions is the set of limits an allow-restricted decision places on
// the request, as a bit set so that decisions carry it without allocating.
type Restrictions uint8

// The restrictions for work-profile (MAM-style) access. The proxy enforces them.
const (
	// ReadOnly lets only GET, HEAD and OPTIONS through.
	ReadOnly Restrictions = 1 << iota
	// BlockDownloads refuses responses with Content-Disposition: attachment
	// or one of the configured download content types.
	BlockDownloads
	// BlockUploads refuses multipart/form-data and large request bodies.
	BlockUploads
	// NoStore forces Cache-Control: no-store on responses.
	NoStore
	// Watermark overlays HTML pages with the person's e-mail and the time.
	Watermark
	// BlockClipboard stops copy, cut and paste on HTML pages (deterrence).
	BlockClipboard
	// BlockPrint blanks HTML pages when printed (deterrence).
	BlockPrint
)

var restrictionNames = [...]string{"read_only", "block_downloads", "block_uploads", "no_store",
	"watermark", "block_clipboard", "block_print"}

// ParseRestriction reads one restriction name.
func ParseRestriction(s string) (Restrictions, error) {
	for i, n := range restrictionNames {
		if s == n {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown restriction %q (want %s)", s, strings.Join(restrictionNames[:], ", "))
}

// Has reports whether every restriction in x is in r.
func (r Restrictions) Has(x Restrictions) bool { return r&x == x }

// Count is how many restrictions are set.
func (r Restrictions) Count() int { return bits.OnesCount8(uint8(r)) }

// AllowsMethod reports whether the read_only restriction (if set) lets the
// HTTP method through.
func (r Restrictions) AllowsMethod(method string) bool {
	if r&ReadOnly == 0 {
		return true
	}
	return method == "GET" || method == "HEAD" || method == "OPTIONS"
}

// Names lists the restrictions' names in a fixed order.
func (r Restrictions) Names() []string {
	out := make([]string, 0, r.Count())
	for i, n := range restrictionNames {
		if r&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String joins the names with commas ("" when none).
func (r Restrictions) String() string { return strings.Join(r.Names(), ",") }

// MarshalJSON writes the restrictions as a list of names.
func (r Restrictions) MarshalJSON() ([]byte, error) { return json.Marshal(r.Names()) }

// UnmarshalJSON reads a list of names.
func (r *Restrictions) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	var out Restrictions
	for _, n := range names {
		x, err := ParseRestriction(n)
		if err != nil {
			return err
		}
		out |= x
	}
	*r = out
	return nil
}

// Reason is one failing (or, for a deny rule, matching) condition: a stable
// machine code such as device.trust or device.check:disk_encrypted, a
// sentence for the deny page, and what the user can do about it.
type Reason struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Remediation string `json:"remediation,omitempty"`
	// Rule is the id of the rule the condition belongs to, if any.
	Rule string `json:"rule,omitempty"`
}

// Decision is the result of evaluating a policy for one request.
//
// Report-only: when ReportOnly is set the decision comes from a policy in
// report-only mode. The proxy must log it (with the flag) and then enforce
// the decision of the policy it shadows (Policy.Shadows) instead, or allow
// a signed-in user when it shadows none, so a new rule can be watched on
// real traffic before it bites. The deny page is never shown for a
// report-only decision.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Policy is the id of the evaluated policy.
	Policy string `json:"policy"`
	// Rules are the ids of the rules that decided: the matching deny rules,
	// the allow rule that granted access, or the rule a step-up would
	// satisfy. Empty when nothing matched. The slice is shared; do not modify it.
	Rules []string `json:"rules"`
	// Reasons explain a deny or step-up; nil on allow.
	Reasons []Reason `json:"reasons"`
	// Restrictions to enforce when Outcome is AllowRestricted.
	Restrictions Restrictions `json:"restrictions"`
	// ReportOnly marks a decision from a report-only policy (see above).
	ReportOnly bool `json:"report_only"`
}

// MarshalJSON writes empty lists rather than null, for API clients.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	p := plain(d)
	if p.Rules == nil {
		p.Rules = []string{}
	}
	if p.Reasons == nil {
		p.Reasons = []Reason{}
	}
	return json.Marshal(p)
}

// Explain renders the decision as multi-line text for the what-if CLI and
// logs: outcome, rules, reasons with remediation, restrictions.
func (d Decision) Explain() string {
	var b strings.Builder
	b.WriteString(d.Outcome.String())
	if d.Policy != "" {
		fmt.Fprintf(&b, " (policy %s", d.Policy)
		if d.ReportOnly {
			b.WriteString(", report-only: not enforced")
		}
		b.WriteByte(')')
	}
	b.WriteByte('\n')
	if len(d.Rules) > 0 {
		fmt.Fprintf(&b, "rules: %s\n", strings.Join(d.Rules, ", "))
	}
	if d.Restrictions != 0 {
		fmt.Fprintf(&b, "restrictions: %s\n", strings.Join(d.Restrictions.Names(), ", "))
	}
	if len(d.Reasons) > 0 {
		b.WriteString("reasons:\n")
	}
	for _, r := range d.Reasons {
		fmt.Fprintf(&b, "  - [%s] %s", r.Code, r.Message)
		if r.Rule != "" {
			fmt.Fprintf(&b, " (rule %s)", r.Rule)
		}
		b.WriteByte('\n')
		if r.Remediation != "" {
			fmt.Fprintf(&b, "    what to do: %s\n", r.Remediation)
		}
	}
	return b.String()
}
