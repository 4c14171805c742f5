package policy

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/confyaml"
	"gopkg.in/yaml.v3"
)

// ParseFile reads a configuration file and compiles the policies under its
// top-level `policies:` key. Other top-level keys are ignored (the config
// package validates them). Problems in the file are returned as an ErrorList
// naming file:line:col; a file that cannot be read gives the os error.
func ParseFile(path string) ([]*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	return Parse(path, data)
}

// Parse is ParseFile for a configuration document already in memory; file
// names it in errors.
func Parse(file string, data []byte) ([]*Policy, error) {
	var doc yaml.Node
	if err := unmarshal(data, &doc); err != nil {
		return nil, ErrorList{yamlError(file, err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty file: nothing to check
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{{File: file, Line: root.Line, Col: root.Column, Msg: "the configuration must be a mapping of keys (such as policies:)"}}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "policies" {
			return ParsePolicies(file, root.Content[i+1])
		}
	}
	return nil, nil
}

// unmarshal parses YAML, turning a panic in the YAML library on hostile
// input into an error: lint must report, never crash.
func unmarshal(data []byte, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: malformed document (%v)", r)
		}
	}()
	return yaml.Unmarshal(data, doc)
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: ...") into an Error.
func yamlError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.TrimPrefix(te.Errors[0], "yaml: ")
	}
	e := &Error{File: file, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, after, _ := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(num); err == nil {
			e.Line, e.Msg = n, strings.TrimSpace(after)
			if isOneOf(e.Msg, yamlParserProblems) {
				e.Line++ // yaml.v3 reports parser (not scanner) errors with 0-based lines
			}
		}
	}
	return e
}

// yamlParserProblems are the yaml.v3 parser errors, whose line is 0-based.
var yamlParserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"did not find expected <stream-start>", "did not find expected key",
	"did not find expected node content", "found duplicate %TAG directive",
	"found duplicate %YAML directive", "found incompatible YAML document",
	"found undefined tag handle",
}

// ParsePolicies compiles the YAML sequence found under the configuration's
// `policies:` key. It reports every problem it finds, as an ErrorList whose
// entries name file, line and column. A nil or empty node yields no policies.
func ParsePolicies(file string, node *yaml.Node) ([]*Policy, error) {
	p := &parser{Walker: confyaml.Walker{File: file}}
	if node != nil && node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
		node = node.Content[0]
	}
	node = p.resolve(node)
	if node == nil || (node.Kind == yaml.ScalarNode && node.ShortTag() == "!!null") {
		return nil, nil
	}
	if node.Kind != yaml.SequenceNode {
		p.errorf(node, "policies must be a list, not %s", describeNode(node))
		return nil, p.Errs
	}
	var out []*Policy
	policyLine := map[string]int{}
	ruleLine := map[string]int{}
	for _, item := range node.Content {
		pol, rules := p.policy(item)
		if pol == nil {
			continue
		}
		if line, dup := policyLine[pol.ID]; dup {
			p.Errs = append(p.Errs, &Error{File: file, Line: pol.Line, Col: item.Column,
				Msg: fmt.Sprintf("duplicate policy id %q (first defined at line %d)", pol.ID, line)})
			continue
		}
		policyLine[pol.ID] = pol.Line
		for _, r := range rules {
			if line, dup := ruleLine[r.id]; dup {
				p.Errs = append(p.Errs, &Error{File: file, Line: r.line, Col: r.col,
					Msg: fmt.Sprintf("duplicate rule id %q (first used at line %d)", r.id, line)})
			}
			ruleLine[r.id] = r.line
		}
		out = append(out, pol)
	}
	p.checkShadows(out)
	if len(p.Errs) > 0 {
		p.Errs.Sort()
		return nil, p.Errs
	}
	return out, nil
}

// shadowRef is a report-only policy's `shadows:`, checked once every
// policy is known.
type shadowRef struct {
	pol  *Policy
	node *yaml.Node
}

// checkShadows verifies that each report-only policy shadows an enforced
// policy defined in the same list.
func (p *parser) checkShadows(ps []*Policy) {
	for _, s := range p.shadows {
		var target *Policy
		for _, q := range ps {
			if q.ID == s.pol.Shadows {
				target = q
			}
		}
		switch {
		case s.pol.Shadows == s.pol.ID:
			p.errorf(s.node, "policy %q cannot shadow itself", s.pol.ID)
		case target == nil:
			p.errorf(s.node, "policy %q shadows %q, which is not defined", s.pol.ID, s.pol.Shadows)
		case target.Mode != Enforce:
			p.errorf(s.node, "policy %q shadows %q, which is report-only too; shadow an enforced policy", s.pol.ID, s.pol.Shadows)
		}
	}
}

// ruleRef locates a rule id for the duplicate check.
type ruleRef struct {
	id        string
	line, col int
}

var policyKeys = []string{"id", "mode", "shadows", "enforce_for", "description", "allow", "deny", "require", "mfa_max_age", "session_max_age", "restrictions"}

// policy compiles one item of the policies list.
func (p *parser) policy(n *yaml.Node) (*Policy, []ruleRef) {
	n = p.resolve(n)
	fs, ok := p.fields(n, "policy")
	if !ok {
		return nil, nil
	}
	pol := &Policy{File: p.File, Line: n.Line}
	before := len(p.Errs)
	var allowNode, denyNode, shadowsNode, enforceNode *yaml.Node
	var req requirement
	var restrict Restrictions
	for _, f := range fs {
		switch f.key {
		case "id":
			if id, ok := p.nonEmpty(f.val, "policy id"); ok {
				if !validID(id) {
					p.errorf(p.resolve(f.val), "policy id %q may only hold letters, digits, '-', '_' and '.'", id)
				}
				pol.ID = id
			}
		case "mode":
			if s, ok := p.str(f.val, "mode"); ok {
				switch s {
				case "enforce":
					pol.Mode = Enforce
				case "report-only":
					pol.Mode = ReportOnly
				default:
					p.errorf(p.resolve(f.val), "unknown mode %q (want enforce or report-only)", s)
				}
			}
		case "shadows":
			pol.Shadows, _ = p.nonEmpty(f.val, "shadows")
			shadowsNode = p.resolve(f.val)
		case "enforce_for":
			enforceNode = f.keyPos
			pol.EnforceFor = p.enforceFor(f.val)
		case "description":
			p.str(f.val, "description")
		case "allow":
			allowNode = f.val
		case "deny":
			denyNode = f.val
		case "require":
			req.parseList(p, f.val)
		case "mfa_max_age":
			req.maxAge, _ = p.duration(f.val, "mfa_max_age")
			req.maxAgeNode = f.keyPos
		case "restrictions":
			restrict = p.restrictions(f.val)
		case "session_max_age":
			req.sessionMaxAge, _ = p.duration(f.val, "session_max_age")
		default:
			p.unknownKey(f, "policy", policyKeys...)
		}
	}
	if pol.ID == "" {
		if !hasKey(fs, "id") {
			p.errorf(n, "policy needs an id")
		}
		return nil, nil
	}
	req.check(p)
	if shadowsNode != nil {
		if pol.Mode != ReportOnly {
			p.errorf(shadowsNode, "shadows needs mode: report-only (an enforced policy shadows nothing)")
		}
		p.shadows = append(p.shadows, shadowRef{pol: pol, node: shadowsNode})
	}
	if enforceNode != nil && pol.Mode != ReportOnly {
		p.errorf(enforceNode, "enforce_for needs mode: report-only (an enforced policy is enforced for everyone already)")
	}
	var refs []ruleRef
	firstCheck := len(p.checks)
	if allowNode != nil {
		pol.allow, refs = p.rules(allowNode, pol.ID, "allow", req, restrict, refs)
	}
	if denyNode != nil {
		pol.deny, refs = p.rules(denyNode, pol.ID, "deny", requirement{}, 0, refs)
	}
	if len(p.Errs) > before {
		return nil, nil
	}
	for i, r := range pol.allow {
		r.pos = i
	}
	for i, r := range pol.deny {
		r.pos = i
	}
	pol.allowIdx, pol.denyIdx = buildIndex(pol.allow), buildIndex(pol.deny)
	pol.CheckRefs = p.checks[firstCheck:]
	return pol, refs
}

func hasKey(fs []field, key string) bool {
	for _, f := range fs {
		if f.key == key {
			return true
		}
	}
	return false
}

// validID accepts letters, digits, '-', '_' and '.'.
func validID(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return s != ""
}

// validRuleID also accepts '/', as in the default ids (staff/allow/0).
func validRuleID(s string) bool { return validID(strings.ReplaceAll(s, "/", "")) }

// restrictions reads a list of restriction names.
func (p *parser) restrictions(n *yaml.Node) Restrictions {
	names, nodes, ok := p.strList(n, "restrictions")
	if !ok {
		return 0
	}
	var out Restrictions
	for i, name := range names {
		r, err := ParseRestriction(name)
		if err != nil {
			p.errorf(nodes[i], "%v", err)
			continue
		}
		out |= r
	}
	return out
}

// requirement is a `require:` list and its `mfa_max_age`.
type requirement struct {
	mfa        bool
	maxAge     time.Duration
	maxAgeNode *yaml.Node
	// sessionMaxAge is `session_max_age`: the allow rules match only while
	// the sign-in is younger (0 = no limit).
	sessionMaxAge time.Duration
}

func (r *requirement) parseList(p *parser, n *yaml.Node) {
	names, nodes, ok := p.strList(n, "require")
	if !ok {
		return
	}
	for i, name := range names {
		if name != "mfa" {
			p.errorf(nodes[i], "unknown requirement %q (want mfa)", name)
			continue
		}
		r.mfa = true
	}
}

func (r *requirement) check(p *parser) {
	if r.maxAgeNode != nil && !r.mfa {
		p.errorf(r.maxAgeNode, "mfa_max_age needs require: [mfa] beside it")
	}
}
