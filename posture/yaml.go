package posture

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// parser walks the YAML of the posture sections, collecting every problem.
type parser struct {
	file    string
	errs    ErrorList
	aliases int // YAML alias dereferences still allowed
}

const maxAliases = 100

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// resolve follows aliases within a budget, so a chain of anchors cannot
// make parsing exponential.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if p.aliases <= 0 {
			if p.aliases == 0 {
				p.errorf(n, "too many YAML aliases")
				p.aliases = -1
			}
			return nil
		}
		p.aliases--
		n = n.Alias
	}
	return n
}

// absent reports whether a section was not written at all.
func absent(n *yaml.Node) bool {
	return n == nil || n.Kind == 0
}

// isNull reports an explicit empty value (`key:` or `key: null`).
func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// field is one key/value pair of a mapping.
type field struct {
	key    string
	keyPos *yaml.Node
	val    *yaml.Node
}

// fields returns a mapping's pairs, reporting a non-mapping and duplicate keys.
func (p *parser) fields(n *yaml.Node, what string) ([]field, bool) {
	n = p.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, not %s", what, describeNode(n))
		return nil, false
	}
	out := make([]field, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.resolve(n.Content[i])
		if k == nil {
			return nil, false
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s keys must be plain names", what)
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		out = append(out, field{key: k.Value, keyPos: k, val: n.Content[i+1]})
	}
	return out, true
}

func (p *parser) unknownKey(f field, what string, allowed []string) {
	p.errorf(f.keyPos, "unknown key %q in %s (want %s)", f.key, what, strings.Join(allowed, ", "))
}

// str reads a non-null scalar, trimmed.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	n = p.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(n, "%s must be a string, not %s", what, describeNode(n))
		return "", false
	}
	s := strings.TrimSpace(n.Value)
	if s == "" {
		p.errorf(n, "%s must not be empty", what)
		return "", false
	}
	return s, true
}

// strList reads a scalar or a sequence of non-empty scalars. An empty
// list is allowed only when emptyOK.
func (p *parser) strList(n *yaml.Node, what string, emptyOK bool) ([]string, []*yaml.Node, bool) {
	n = p.resolve(n)
	if n == nil {
		return nil, nil, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		s, ok := p.str(n, what)
		return []string{s}, []*yaml.Node{n}, ok
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a string or a list of strings, not %s", what, describeNode(n))
		return nil, nil, false
	}
	if len(n.Content) == 0 && !emptyOK {
		p.errorf(n, "%s must not be an empty list", what)
		return nil, nil, false
	}
	out := make([]string, 0, len(n.Content))
	nodes := make([]*yaml.Node, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		c = p.resolve(c)
		if c == nil {
			return nil, nil, false
		}
		s, good := p.str(c, what+" item")
		ok = ok && good
		out = append(out, s)
		nodes = append(nodes, c)
	}
	return out, nodes, ok
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	n = p.resolve(n)
	if n == nil {
		return false, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b, true
		}
	}
	p.errorf(n, "%s must be true or false, not %s", what, describeNode(n))
	return false, false
}

// required reads `required` (true) or `off`/false (false): the spelling of
// the on/off checks such as `disk_encryption: required`.
func (p *parser) required(n *yaml.Node, what string) (bool, bool) {
	n = p.resolve(n)
	if n == nil {
		return false, false
	}
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(strings.TrimSpace(n.Value)) {
		case "required", "true":
			return true, true
		case "off", "false":
			return false, true
		}
	}
	p.errorf(n, "%s must be required or off, not %s", what, describeNode(n))
	return false, false
}

// integer reads a whole number in [lo, hi].
func (p *parser) integer(n *yaml.Node, what string, lo, hi int64) (int64, bool) {
	n = p.resolve(n)
	if n == nil {
		return 0, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if v, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			if v < lo || v > hi {
				p.errorf(n, "%s must be between %d and %d, not %d", what, lo, hi, v)
				return 0, false
			}
			return v, true
		}
	}
	p.errorf(n, "%s must be a whole number, not %s", what, describeNode(n))
	return 0, false
}

// duration reads a Go duration or whole days ("7d"); zero is allowed only
// when zeroOK.
func (p *parser) duration(n *yaml.Node, what string, zeroOK bool) (time.Duration, bool) {
	n = p.resolve(n)
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	switch {
	case err != nil:
		p.errorf(n, "%s: %v", what, err)
		return 0, false
	case d < 0 || (d == 0 && !zeroOK):
		p.errorf(n, "%s must be positive, not %q", what, s)
		return 0, false
	}
	return d, true
}

func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && !strings.ContainsAny(days, "hmsuµn.") {
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q (write it like 15m, 72h or 7d)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (write it like 15m, 72h or 7d)", s)
	}
	return d, nil
}

// describeNode names a node's YAML type for messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}
