package rules

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// Policy modes as written in a policy's `mode:`. ModeDraft is handled here:
// a draft policy is validated and versioned but never applied to traffic.
const (
	ModeDraft      = "draft"
	ModeReportOnly = "report-only"
	ModeEnforce    = "enforce"
)

// Doc is one route, access policy or compliance policy: its YAML mapping without the request-only
// keys (comment, promote_at, promote_to), as the store keeps it.
type Doc struct {
	Type string // store.RuleRoute, store.RulePolicy or store.RuleCompliance
	ID   string
	Node *yaml.Node // the mapping
	// Text is the canonical YAML of Node: what the store keeps.
	Text      string
	Comment   string
	PromoteAt time.Time
	PromoteTo string
	Route     config.Route // for a route
	Mode      string       // for a policy or compliance policy: draft, report-only or enforce
	// InForce, for a report-only policy, is the enforced version the
	// proxy keeps applying while this one is observed (store.Rule.InForce),
	// and InForceVersion its version; nil when none.
	InForce        *Doc
	InForceVersion uint64
}

// ParseDoc reads one route or policy (YAML or JSON) from b; file names it
// in errors. id, when not empty, is the id the caller addresses: the body's
// own id must match it or be absent. Errors are config.Error or
// policy.ErrorList values naming file:line.
func ParseDoc(typ, file string, b []byte, id string) (*Doc, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &config.Error{File: file, Msg: fmt.Sprintf("not YAML or JSON: %v", err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &config.Error{File: file, Line: 1, Msg: "the body must be one " + typ + " (a mapping of keys)"}
	}
	d, err := docOf(typ, file, doc.Content[0], id)
	if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		// A JSON body is kept as YAML, like the config file.
		text, err := marshal(blockStyle(d.Node))
		if err != nil {
			return nil, err
		}
		d.Text = string(text)
	}
	return d, err
}

// DocOfNode is ParseDoc for a mapping node already parsed (an item of a
// file's routes: or policies: list), so errors name the file's lines.
func DocOfNode(typ, file string, m *yaml.Node, id string) (*Doc, error) {
	if m == nil || m.Kind != yaml.MappingNode {
		line := 0
		if m != nil {
			line = m.Line
		}
		return nil, &config.Error{File: file, Line: line, Msg: "each " + typ + " must be a mapping of keys"}
	}
	return docOf(typ, file, m, id)
}

// docOf validates a mapping node; the node is copied, not modified.
func docOf(typ, file string, m *yaml.Node, id string) (*Doc, error) {
	d := &Doc{Type: typ, Node: &yaml.Node{Kind: yaml.MappingNode, Tag: m.Tag, Line: m.Line, Column: m.Column}}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" || k.Tag == "!!null" {
			return nil, &config.Error{File: file, Line: k.Line, Msg: "every key of a " + typ + " must be a name such as id or allow"}
		}
		switch {
		case k.Value == "comment":
			d.Comment = v.Value
			continue
		case k.Value == "promote_at" && typ != store.RuleRoute:
			t, err := time.Parse(time.RFC3339, v.Value)
			if err != nil {
				return nil, &config.Error{File: file, Line: v.Line, Msg: fmt.Sprintf("promote_at must be an RFC 3339 time such as 2026-01-31T09:00:00Z (got %q)", v.Value)}
			}
			d.PromoteAt = t.UTC()
			continue
		case k.Value == "promote_to" && typ != store.RuleRoute:
			if v.Value != ModeReportOnly && v.Value != ModeEnforce {
				return nil, &config.Error{File: file, Line: v.Line, Msg: fmt.Sprintf("promote_to must be report-only or enforce (got %q)", v.Value)}
			}
			d.PromoteTo = v.Value
			continue
		case k.Value == "id":
			if id != "" && v.Value != id {
				return nil, &config.Error{File: file, Line: v.Line, Msg: fmt.Sprintf("id %q does not match the %s addressed, %q", v.Value, typ, id)}
			}
			d.ID = v.Value
		}
		d.Node.Content = append(d.Node.Content, k, v)
	}
	if (d.PromoteAt.IsZero()) != (d.PromoteTo == "") {
		return nil, &config.Error{File: file, Line: m.Line, Msg: "promote_at and promote_to go together"}
	}
	if d.ID == "" && id != "" {
		d.ID = id
		if typ != store.RuleRoute {
			d.Node.Content = append([]*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "id"},
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: id},
			}, d.Node.Content...)
		}
	}
	var err error
	switch typ {
	case store.RuleRoute:
		err = d.checkRoute(file)
	case store.RuleCompliance:
		err = d.checkCompliance(file)
	default:
		err = d.checkPolicy(file)
	}
	if err != nil {
		return nil, err
	}
	if !hasKey(d.Node, "id") {
		d.Node.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "id"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: d.ID},
		}, d.Node.Content...)
	}
	text, err := marshal(d.Node)
	if err != nil {
		return nil, fmt.Errorf("rules: encode %s %q: %w", typ, d.ID, err)
	}
	d.Text = string(text)
	return d, nil
}

func (d *Doc) checkRoute(file string) error {
	keys := config.RouteKeys()
	for i := 0; i+1 < len(d.Node.Content); i += 2 {
		if k := d.Node.Content[i]; !slices.Contains(keys, k.Value) {
			return &config.Error{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown key %q in route (known: comment, %s)", k.Value, strings.Join(keys, ", "))}
		}
	}
	r, err := config.DecodeRoute(file, d.Node)
	if err != nil {
		return err
	}
	if d.ID == "" {
		d.ID = config.RouteID(r)
	}
	if !config.ValidID(d.ID) {
		return &config.Error{File: file, Line: d.Node.Line, Msg: fmt.Sprintf("route id %q may only hold letters, digits, '-', '_' and '.'", d.ID)}
	}
	r.ID = d.ID
	d.Route = r
	return nil
}

func (d *Doc) checkPolicy(file string) error {
	d.Mode = ModeEnforce
	n := d.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "mode" {
			d.Mode = n.Content[i+1].Value
		}
	}
	// Alone, a report-only policy's `shadows:` cannot be checked: it is
	// checked with the whole set (Compile).
	_, err := policy.ParsePolicies(file, seq(compilable(n)))
	if err != nil && !onlyShadowErrors(err) {
		return err
	}
	if d.ID == "" {
		return &config.Error{File: file, Line: n.Line, Msg: "policy needs an id"}
	}
	if d.PromoteTo != "" && d.PromoteTo == d.Mode {
		return &config.Error{File: file, Line: n.Line, Msg: fmt.Sprintf("the policy is already in mode %s: nothing to promote", d.Mode)}
	}
	return nil
}

func onlyShadowErrors(err error) bool {
	list, ok := err.(confyaml.ErrorList)
	if !ok {
		return false
	}
	for _, e := range list {
		// The one check a policy alone cannot pass: the policy it shadows
		// is another one of the set.
		if !strings.HasSuffix(e.Msg, "which is not defined") || !strings.Contains(e.Msg, " shadows ") {
			return false
		}
	}
	return true
}

// compilable is the policy mapping as package policy reads it: a draft
// is compiled as report-only (policy knows only enforce and report-only).
func compilable(n *yaml.Node) *yaml.Node {
	out := *n
	out.Content = slices.Clone(n.Content)
	for i := 0; i+1 < len(out.Content); i += 2 {
		if out.Content[i].Value == "mode" && out.Content[i+1].Value == ModeDraft {
			v := *out.Content[i+1]
			v.Value = ModeReportOnly
			out.Content[i+1] = &v
		}
	}
	return &out
}

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

// withMode returns a copy of a policy mapping with its mode set.
func withMode(n *yaml.Node, mode string) *yaml.Node {
	out := *n
	out.Content = slices.Clone(n.Content)
	for i := 0; i+1 < len(out.Content); i += 2 {
		if out.Content[i].Value == "mode" {
			v := *out.Content[i+1]
			v.Value = mode
			out.Content[i+1] = &v
			return &out
		}
	}
	out.Content = append(out.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "mode"},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: mode})
	return &out
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// blockStyle returns a copy of n in YAML's block style (a JSON body is
// kept as YAML, like the config file), comments kept.
func blockStyle(n *yaml.Node) *yaml.Node {
	out := *n
	out.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
	out.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out.Content[i] = blockStyle(c)
	}
	return &out
}

// marshal encodes YAML with the 2-space indent of the docs and examples.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
