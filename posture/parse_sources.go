package posture

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/portier/portier/posture/collect"
	"gopkg.in/yaml.v3"
)

// DefaultSourceMaxAge is how long an external observation counts when the
// source does not set max_age.
const DefaultSourceMaxAge = 72 * time.Hour

// minSecretLen is the shortest accepted HMAC secret (openssl rand -hex 32 gives 64).
const minSecretLen = 32

var (
	sourceKeys   = []string{"name", "secret", "secret_file", "signals", "max_age"}
	sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
)

func (p *parser) sources(n *yaml.Node, file string) map[string]*Source {
	out := map[string]*Source{}
	n = p.resolve(n)
	if absent(n) || isNull(n) {
		return out
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "posture_sources must be a list, not %s", describeNode(n))
		return out
	}
	for _, item := range n.Content {
		s := p.source(item, file)
		if s == nil {
			continue
		}
		if _, dup := out[s.Name]; dup {
			p.errorf(p.resolve(item), "duplicate posture source %q", s.Name)
			continue
		}
		out[s.Name] = s
	}
	return out
}

func (p *parser) source(n *yaml.Node, file string) *Source {
	n = p.resolve(n)
	fs, ok := p.fields(n, "posture source")
	if !ok {
		return nil
	}
	s := &Source{MaxAge: DefaultSourceMaxAge}
	before := len(p.Errs)
	var secretNode *yaml.Node
	for _, f := range fs {
		switch f.key {
		case "name":
			if v, ok := p.str(f.val, "source name"); ok {
				if !sourceNameRE.MatchString(v) {
					p.errorf(p.resolve(f.val), "source name %q must be lower-case letters, digits, '-' or '_' (at most 32)", v)
				}
				s.Name = v
			}
		case "secret":
			if secretNode != nil {
				p.errorf(f.keyPos, "give secret or secret_file, not both")
				continue
			}
			secretNode = f.keyPos
			if v, ok := p.str(f.val, "secret"); ok {
				s.secret = []byte(v)
			}
		case "secret_file":
			if secretNode != nil {
				p.errorf(f.keyPos, "give secret or secret_file, not both")
				continue
			}
			secretNode = f.keyPos
			v, ok := p.str(f.val, "secret_file")
			if !ok {
				continue
			}
			if !filepath.IsAbs(v) && file != "" {
				v = filepath.Join(filepath.Dir(file), v)
			}
			b, err := os.ReadFile(v)
			if err != nil {
				p.errorf(p.resolve(f.val), "cannot read secret_file: %v", err)
				continue
			}
			s.secret = []byte(strings.TrimSpace(string(b)))
		case "signals":
			names, nodes, ok := p.strList(f.val, "source signals", false)
			if !ok {
				continue
			}
			s.Allowed = collect.Allowed{}
			for i, v := range names {
				switch {
				case v == GroupLocation || catalog[v].group == GroupLocation:
					p.errorf(nodes[i], "external sources may not feed location")
				case isGroup(v):
					for k := range expand([]string{v}) {
						s.Allowed[k] = struct{}{}
					}
				case KnownSignal(v):
					s.Allowed[v] = struct{}{}
				default:
					p.errorf(nodes[i], "unknown signal or group %q (groups: security, system, apps, other, all)", v)
				}
			}
		case "max_age":
			s.MaxAge, _ = p.duration(f.val, "max_age", false)
		default:
			p.unknownKey(f, "posture source", sourceKeys)
		}
	}
	if len(p.Errs) > before {
		return nil
	}
	switch {
	case s.Name == "":
		p.errorf(n, "posture source needs a name")
		return nil
	case secretNode == nil:
		p.errorf(n, "posture source %q needs a secret or secret_file (the HMAC-SHA256 key)", s.Name)
		return nil
	case len(s.secret) < minSecretLen:
		p.errorf(secretNode, "posture source %q: the secret must be at least %d characters (generate one with: openssl rand -hex 32)", s.Name, minSecretLen)
		return nil
	}
	if s.Allowed == nil {
		s.Allowed = expand([]string{GroupAll})
	}
	return s
}
