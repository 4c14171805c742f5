package confyaml

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxAliases is how many YAML alias dereferences one Walker follows: a file
// may share a list through an anchor, but a chain of aliases must not make
// reading it exponential.
const MaxAliases = 100

// Walker reads a YAML node tree, recording every problem it meets as an
// *Error in File rather than stopping at the first. The zero value with
// File set is ready to use. Readers that fail report why and return false;
// a node they are given may be an alias, which they follow.
type Walker struct {
	// File names the file in every Error.
	File string
	// Errs is every problem found so far, in the order found.
	Errs ErrorList
	// derefs is how many aliases have been followed; at MaxAliases the
	// budget is spent, and the next one is reported once.
	derefs int
}

// Errorf records a problem at n (nil: the file as a whole).
func (w *Walker) Errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: w.File, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	w.Errs = append(w.Errs, e)
}

// Resolve follows an alias to the node it names. It returns nil for a nil
// node, and, having reported it once, when the alias budget is spent.
func (w *Walker) Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if w.derefs >= MaxAliases {
			if w.derefs == MaxAliases {
				w.Errorf(n, "too many YAML aliases")
				w.derefs++
			}
			return nil
		}
		w.derefs++
		n = n.Alias
	}
	return n
}

// Field is one key/value pair of a mapping.
type Field struct {
	Key    string
	KeyPos *yaml.Node // the key's node, to locate problems with the key
	Val    *yaml.Node // the value, not yet resolved
}

// Fields returns a mapping's pairs in order, reporting a node that is not a
// mapping, keys that are not scalars, and repeated keys (the first wins).
// what names the mapping in messages ("policy", "privacy location").
func (w *Walker) Fields(n *yaml.Node, what string) ([]Field, bool) {
	n = w.Resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		w.Errorf(n, "%s must be a mapping, not %s", what, DescribeNode(n))
		return nil, false
	}
	out := make([]Field, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := w.Resolve(n.Content[i])
		if k == nil {
			return nil, false
		}
		if k.Kind != yaml.ScalarNode {
			w.Errorf(k, "%s keys must be plain names", what)
			continue
		}
		if seen[k.Value] {
			w.Errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		out = append(out, Field{Key: k.Value, KeyPos: k, Val: n.Content[i+1]})
	}
	return out, true
}

// FieldsAs is Fields for a parser that keeps its own pair type: as makes
// one from each Field.
func FieldsAs[F any](w *Walker, n *yaml.Node, what string, as func(Field) F) ([]F, bool) {
	fs, ok := w.Fields(n, what)
	if !ok {
		return nil, false
	}
	out := make([]F, len(fs))
	for i, f := range fs {
		out[i] = as(f)
	}
	return out, true
}

// UnknownKey reports key, found at node at, as not one of the keys allowed
// in what.
func (w *Walker) UnknownKey(at *yaml.Node, key, what string, allowed []string) {
	w.Errorf(at, "unknown key %q in %s (want %s)", key, what, strings.Join(allowed, ", "))
}

// Scalar reads any scalar but null, as written: untrimmed and possibly empty.
func (w *Walker) Scalar(n *yaml.Node, what string) (string, bool) {
	n = w.Resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		w.Errorf(n, "%s must be a string, not %s", what, DescribeNode(n))
		return "", false
	}
	return n.Value, true
}

// Str reads a scalar, trimmed of spaces, that must not be empty.
func (w *Walker) Str(n *yaml.Node, what string) (string, bool) {
	n = w.Resolve(n)
	s, ok := w.Scalar(n, what)
	if !ok {
		return "", false
	}
	s = strings.TrimSpace(s)
	if s == "" {
		w.Errorf(n, "%s must not be empty", what)
		return "", false
	}
	return s, true
}

// StrList reads one string or a list of them, each as Str does, and the
// nodes they came from. An empty list is allowed only when emptyOK.
func (w *Walker) StrList(n *yaml.Node, what string, emptyOK bool) ([]string, []*yaml.Node, bool) {
	n = w.Resolve(n)
	if n == nil {
		return nil, nil, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		s, ok := w.Str(n, what)
		return []string{s}, []*yaml.Node{n}, ok
	}
	if n.Kind != yaml.SequenceNode {
		w.Errorf(n, "%s must be a string or a list of strings, not %s", what, DescribeNode(n))
		return nil, nil, false
	}
	if len(n.Content) == 0 && !emptyOK {
		w.Errorf(n, "%s must not be an empty list", what)
		return nil, nil, false
	}
	out := make([]string, 0, len(n.Content))
	nodes := make([]*yaml.Node, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		c = w.Resolve(c)
		if c == nil {
			return nil, nil, false
		}
		s, good := w.Str(c, what+" item")
		ok = ok && good
		out = append(out, s)
		nodes = append(nodes, c)
	}
	return out, nodes, ok
}

// Bool reads true or false (YAML booleans only, not "yes" or 1).
func (w *Walker) Bool(n *yaml.Node, what string) (bool, bool) {
	n = w.Resolve(n)
	if n == nil {
		return false, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b, true
		}
	}
	w.Errorf(n, "%s must be true or false, not %s", what, DescribeNode(n))
	return false, false
}

// Duration reads a duration as ParseDuration does; it must be positive, or
// zero when zeroOK.
func (w *Walker) Duration(n *yaml.Node, what string, zeroOK bool) (time.Duration, bool) {
	n = w.Resolve(n)
	s, ok := w.Str(n, what)
	if !ok {
		return 0, false
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		w.Errorf(n, "%s: %v", what, err)
		return 0, false
	case d < 0 || (d == 0 && !zeroOK):
		w.Errorf(n, "%s must be positive, not %q", what, s)
		return 0, false
	}
	return d, true
}

// ParseDuration reads a Go duration ("15m", "72h") or whole days ("7d").
// It does not trim s, and allows zero and negative values. A day count
// beyond time.Duration's range (106,751 days) is not refused: it wraps.
func ParseDuration(s string) (time.Duration, error) {
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

// DescribeNode names a node's YAML type for messages: "a mapping", "a
// list", "empty", "a boolean", "a number (3)", or a string quoted.
func DescribeNode(n *yaml.Node) string {
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
