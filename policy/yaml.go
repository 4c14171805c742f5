package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// parser collects errors while walking a YAML tree.
type parser struct {
	file string
	errs ErrorList
	// aliases is how many more YAML alias dereferences are allowed: a
	// policy may share a list through an anchor, but a chain of aliases
	// must not make parsing exponential.
	aliases int
	// shadows are the report-only policies' `shadows:` to check at the end.
	shadows []shadowRef
	// checks are the compliance check names the policies refer to.
	checks []CheckRef
}

const (
	maxAliases = 100
	maxDepth   = 32 // nesting of and/or/not/nor blocks
)

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// resolve follows an alias; it returns nil (after reporting) when the alias
// budget is spent.
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

// field is one key/value pair of a mapping.
type field struct {
	key    string
	keyPos *yaml.Node
	val    *yaml.Node
}

// fields returns a mapping's pairs, reporting a non-mapping and duplicate
// keys. what names the thing for messages ("policy", "device criterion").
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

func (p *parser) unknownKey(f field, what string, allowed ...string) {
	p.errorf(f.keyPos, "unknown key %q in %s (want %s)", f.key, what, strings.Join(allowed, ", "))
}

// str reads a non-null scalar.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	n = p.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(n, "%s must be a string, not %s", what, describeNode(n))
		return "", false
	}
	return n.Value, true
}

// nonEmpty reads a scalar that must not be empty.
func (p *parser) nonEmpty(n *yaml.Node, what string) (string, bool) {
	n = p.resolve(n)
	s, ok := p.str(n, what)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(n, "%s must not be empty", what)
		return "", false
	}
	return strings.TrimSpace(s), ok
}

// strList reads a scalar or a non-empty sequence of scalars.
func (p *parser) strList(n *yaml.Node, what string) ([]string, []*yaml.Node, bool) {
	n = p.resolve(n)
	if n == nil {
		return nil, nil, false
	}
	if n.Kind == yaml.ScalarNode {
		s, ok := p.nonEmpty(n, what)
		return []string{s}, []*yaml.Node{n}, ok
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a string or a list of strings, not %s", what, describeNode(n))
		return nil, nil, false
	}
	if len(n.Content) == 0 {
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
		s, good := p.nonEmpty(c, what+" item")
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

// duration reads a positive Go duration, plus whole days as "7d".
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	n = p.resolve(n)
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
		return 0, false
	}
	return d, true
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && !strings.ContainsAny(days, "hmsuµn.") {
		var n int64
		n, err = strconv.ParseInt(days, 10, 32)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. 15m, 12h or 7d)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
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
