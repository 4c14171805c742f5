package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/confyaml"
	"gopkg.in/yaml.v3"
)

// parser collects errors while walking a YAML tree, through the embedded
// Walker (file, errors, alias budget). The one-line methods below give its
// readers the names and signatures the policy parse files call.
type parser struct {
	confyaml.Walker
	// shadows are the report-only policies' `shadows:` to check at the end.
	shadows []shadowRef
	// checks are the compliance check names the policies refer to.
	checks []CheckRef
}

const maxDepth = 32 // nesting of and/or/not/nor blocks

// field is one key/value pair of a mapping.
type field struct {
	key    string
	keyPos *yaml.Node
	val    *yaml.Node
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) { p.Errorf(n, format, args...) }
func (p *parser) resolve(n *yaml.Node) *yaml.Node                 { return p.Resolve(n) }
func describeNode(n *yaml.Node) string                            { return confyaml.DescribeNode(n) }

// fields returns a mapping's pairs, reporting a non-mapping and duplicate
// keys. what names the thing for messages ("policy", "device criterion").
func (p *parser) fields(n *yaml.Node, what string) ([]field, bool) {
	return confyaml.FieldsAs(&p.Walker, n, what, func(f confyaml.Field) field { return field{f.Key, f.KeyPos, f.Val} })
}

func (p *parser) unknownKey(f field, what string, allowed ...string) {
	p.UnknownKey(f.keyPos, f.key, what, allowed)
}

// str reads a non-null scalar, as written.
func (p *parser) str(n *yaml.Node, what string) (string, bool) { return p.Scalar(n, what) }

// nonEmpty reads a scalar that must not be empty, trimmed.
func (p *parser) nonEmpty(n *yaml.Node, what string) (string, bool) { return p.Str(n, what) }

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) { return p.Bool(n, what) }

// strList reads a scalar or a non-empty sequence of scalars. Unlike
// posture's lists, a null here is "not a string" rather than "not a list".
func (p *parser) strList(n *yaml.Node, what string) ([]string, []*yaml.Node, bool) {
	n = p.resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		s, ok := p.nonEmpty(n, what)
		return []string{s}, []*yaml.Node{n}, ok
	}
	return p.StrList(n, what, false)
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

// parseDuration is confyaml.ParseDuration on the trimmed string, positive
// only, in the policy file's wording.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := confyaml.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. 15m, 12h or 7d)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return d, nil
}
