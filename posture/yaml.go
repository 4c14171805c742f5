package posture

import (
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/confyaml"
	"gopkg.in/yaml.v3"
)

// parser walks the YAML of the posture sections, collecting every problem
// in its confyaml.Walker; the methods below adapt the Walker's readers to
// what parse_compliance.go, parse_privacy.go and parse_sources.go call.
type parser struct {
	confyaml.Walker
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) { p.Errorf(n, format, args...) }
func (p *parser) resolve(n *yaml.Node) *yaml.Node                 { return p.Resolve(n) }
func describeNode(n *yaml.Node) string                            { return confyaml.DescribeNode(n) }

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
	return confyaml.FieldsAs(&p.Walker, n, what, func(f confyaml.Field) field { return field{f.Key, f.KeyPos, f.Val} })
}

func (p *parser) unknownKey(f field, what string, allowed []string) {
	p.UnknownKey(f.keyPos, f.key, what, allowed)
}

// str reads a non-null scalar, trimmed, that must not be empty.
func (p *parser) str(n *yaml.Node, what string) (string, bool) { return p.Str(n, what) }

// strList reads a scalar or a sequence of non-empty scalars. An empty
// list is allowed only when emptyOK.
func (p *parser) strList(n *yaml.Node, what string, emptyOK bool) ([]string, []*yaml.Node, bool) {
	return p.StrList(n, what, emptyOK)
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) { return p.Bool(n, what) }

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
	return p.Duration(n, what, zeroOK)
}
