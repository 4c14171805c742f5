package posture

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// DefaultGrace is the grace period of a policy that does not set one.
const DefaultGrace = 72 * time.Hour

// defaultLadder is the escalation of a policy without `escalation:`.
func defaultLadder() Ladder {
	return Ladder{Steps: []Step{{StepNotify, 0}, {StepLowerTrust, 24 * time.Hour}, {StepBlock, 72 * time.Hour}}}
}

// defaultCompliance is the baseline applied when `compliance:` is absent.
// The minimum versions are the oldest releases their vendors still patch
// (review them yearly).
const defaultCompliance = `
- id: baseline
  description: Built-in baseline for every computer running the Portier agent
  platforms: [linux, macos, windows]
  checks:
    disk_encryption: required
    firewall: required
    min_os_version:
      macos: "14"
      windows: "10.0.19045"
      ubuntu: "22.04"
      debian: "12"
      fedora: "42"
      rhel: "9"
      rocky: "9"
      almalinux: "9"
    max_checkin_age: 24h
  grace: 72h
  escalation:
    notify: 0s
    lower_trust: 24h
    block: 72h
`

var (
	policyKeys     = []string{"id", "mode", "enforce_for", "description", "groups", "platforms", "ownership", "checks", "grace", "escalation"}
	checkKeys      = []string{"min_os_version", "max_security_update_age_days", "max_pending_security_updates", "disk_encryption", "screen_lock_max_minutes", "firewall", "antivirus", "no_root", "min_agent_version", "forbidden_apps", "required_apps", "max_checkin_age", "secure_boot"}
	escalationKeys = []string{StepNotify, StepLowerTrust, StepBlock, StepQuarantine, "queue_selective_wipe"}
	knownPlatforms = []string{"linux", "macos", "windows", "ios", "android", "chromeos"}
)

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// slugRE is package rollout's rule for plan and wave names.
var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// compliance compiles `compliance:`; an absent section is the baseline.
func (p *parser) compliance(n *yaml.Node) ([]*Policy, bool) {
	if absent(n) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(defaultCompliance), &doc); err != nil {
			p.errorf(nil, "built-in compliance defaults: %v", err)
			return nil, true
		}
		sub := &parser{Walker: confyaml.Walker{File: "built-in compliance defaults"}}
		pols, _ := sub.compliance(doc.Content[0])
		p.Errs = append(p.Errs, sub.Errs...)
		return pols, true
	}
	n = p.resolve(n)
	if n == nil || isNull(n) {
		return nil, false // `compliance:` written empty: no policies at all
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "compliance must be a list of policies, not %s", describeNode(n))
		return nil, false
	}
	var out []*Policy
	seen := map[string]int{}
	for _, item := range n.Content {
		pol := p.policy(item)
		if pol == nil {
			continue
		}
		if line, dup := seen[pol.ID]; dup {
			p.errorf(item, "duplicate compliance policy id %q (first defined at line %d)", pol.ID, line)
			continue
		}
		seen[pol.ID] = pol.Line
		out = append(out, pol)
	}
	return out, false
}

func (p *parser) policy(n *yaml.Node) *Policy {
	n = p.resolve(n)
	fs, ok := p.fields(n, "compliance policy")
	if !ok {
		return nil
	}
	pol := &Policy{Line: n.Line, Mode: ModeEnforce, Grace: DefaultGrace, Ladder: defaultLadder(), Checks: Checks{MaxSecurityUpdateAgeDays: -1, MaxPendingSecurityUpdates: -1}}
	before := len(p.Errs)
	var checksSeen bool
	var enforceKey *yaml.Node
	for _, f := range fs {
		switch f.key {
		case "id":
			if s, ok := p.str(f.val, "policy id"); ok {
				if !idRE.MatchString(s) {
					p.errorf(f.val, "policy id %q must be lower-case letters, digits, '-', '_' or '.' (at most 64)", s)
				}
				pol.ID = s
			}
		case "mode":
			if s, ok := p.str(f.val, "mode"); ok {
				if s != ModeDraft && s != ModeReportOnly && s != ModeEnforce {
					p.errorf(f.val, "mode must be draft, report-only or enforce (got %q)", s)
				}
				pol.Mode = s
			}
		case "enforce_for":
			enforceKey = f.keyPos
			pol.Rollout, pol.EnforceFor = p.enforceFor(f.val)
		case "description":
			pol.Description, _ = p.str(f.val, "description")
		case "groups":
			pol.Groups, _, _ = p.strList(f.val, "groups", false)
		case "platforms":
			names, nodes, _ := p.strList(f.val, "platforms", false)
			for i, s := range names {
				s = strings.ToLower(s)
				if !contains(knownPlatforms, s) {
					p.errorf(nodes[i], "unknown platform %q (want %s)", s, strings.Join(knownPlatforms, ", "))
				}
				pol.Platforms = append(pol.Platforms, s)
			}
		case "ownership":
			names, nodes, _ := p.strList(f.val, "ownership", false)
			if v := p.resolve(f.val); v != nil {
				pol.ownLine, pol.ownCol = v.Line, v.Column
			}
			for i, s := range names {
				o, err := store.ParseOwnership(s)
				if err != nil {
					p.errorf(nodes[i], "%v", err)
					continue
				}
				pol.Ownership = append(pol.Ownership, o)
			}
		case "checks":
			checksSeen = true
			p.checks(f.val, &pol.Checks)
		case "grace":
			pol.Grace, _ = p.duration(f.val, "grace", true)
		case "escalation":
			pol.Ladder = p.ladder(f.val)
		default:
			p.unknownKey(f, "compliance policy", policyKeys)
		}
	}
	if pol.ID == "" && len(p.Errs) == before {
		p.errorf(n, "compliance policy needs an id")
	}
	if enforceKey != nil && pol.Mode != ModeReportOnly {
		p.errorf(enforceKey, "enforce_for needs mode: report-only (an enforced policy is enforced for every device already)")
	}
	if !checksSeen && len(p.Errs) == before {
		p.errorf(n, "compliance policy %q needs checks: (for example disk_encryption: required)", pol.ID)
	}
	if len(p.Errs) > before {
		return nil
	}
	return pol
}

func (p *parser) checks(n *yaml.Node, c *Checks) {
	fs, ok := p.fields(n, "checks")
	if !ok {
		return
	}
	if len(fs) == 0 {
		p.errorf(p.resolve(n), "checks must set at least one of %s", strings.Join(checkKeys, ", "))
	}
	for _, f := range fs {
		switch f.key {
		case "min_os_version":
			c.MinOSVersion = p.osVersions(f.val)
		case "max_security_update_age_days":
			c.MaxSecurityUpdateAgeDays, _ = p.integer(f.val, f.key, 0, 3650)
		case "max_pending_security_updates":
			c.MaxPendingSecurityUpdates, _ = p.integer(f.val, f.key, 0, 100000)
		case "disk_encryption":
			c.DiskEncryption, _ = p.required(f.val, f.key)
		case "firewall":
			c.Firewall, _ = p.required(f.val, f.key)
		case "antivirus":
			c.Antivirus, _ = p.required(f.val, f.key)
		case "secure_boot":
			c.SecureBoot, _ = p.required(f.val, f.key)
		case "no_root":
			c.NoRoot, _ = p.boolean(f.val, f.key)
		case "screen_lock_max_minutes":
			c.ScreenLockMaxMinutes, _ = p.integer(f.val, f.key, 1, 1440)
		case "min_agent_version":
			if s, ok := p.str(f.val, f.key); ok {
				if _, err := parseVersion(s); err != nil {
					p.errorf(p.resolve(f.val), "min_agent_version: %v", err)
				}
				c.MinAgentVersion = s
			}
		case "forbidden_apps", "required_apps":
			apps := p.appPatterns(f.val, f.key)
			if f.key == "forbidden_apps" {
				c.ForbiddenApps = apps
			} else {
				c.RequiredApps = apps
			}
		case "max_checkin_age":
			c.MaxCheckinAge, _ = p.duration(f.val, f.key, false)
		default:
			p.unknownKey(f, "checks", checkKeys)
		}
	}
}

var osKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// osVersions reads `min_os_version: {macos: "14", ubuntu: "22.04"}`.
func (p *parser) osVersions(n *yaml.Node) map[string]string {
	fs, ok := p.fields(n, "min_os_version")
	if !ok {
		return nil
	}
	if len(fs) == 0 {
		p.errorf(p.resolve(n), "min_os_version needs at least one OS, such as macos: \"14\"")
		return nil
	}
	out := make(map[string]string, len(fs))
	for _, f := range fs {
		key := strings.ToLower(f.key)
		if !osKeyRE.MatchString(key) {
			p.errorf(f.keyPos, "min_os_version key %q must be a platform (macos, windows…) or an os-release ID (ubuntu, debian, fedora…)", f.key)
			continue
		}
		s, ok := p.str(f.val, "min_os_version."+key)
		if !ok {
			continue
		}
		if _, err := parseVersion(s); err != nil {
			p.errorf(p.resolve(f.val), "min_os_version.%s: %v", key, err)
			continue
		}
		out[key] = s
	}
	return out
}

// appPatterns reads application names or globs, compared case-insensitively.
func (p *parser) appPatterns(n *yaml.Node, what string) []string {
	names, nodes, ok := p.strList(n, what, false)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(names))
	for i, s := range names {
		s = strings.ToLower(s)
		if _, err := path.Match(s, ""); err != nil {
			p.errorf(nodes[i], "%s: bad pattern %q: %v", what, s, err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// ladder reads `escalation:`; `escalation: none` or `{}` has no steps.
func (p *parser) ladder(n *yaml.Node) Ladder {
	n = p.resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Value == "none" {
		return Ladder{}
	}
	fs, ok := p.fields(n, "escalation")
	if !ok {
		return Ladder{}
	}
	var l Ladder
	after := map[string]time.Duration{}
	keyNode := map[string]*yaml.Node{}
	var wipeNode *yaml.Node
	for _, f := range fs {
		switch f.key {
		case StepNotify, StepLowerTrust, StepBlock, StepQuarantine:
			if d, ok := p.duration(f.val, "escalation "+f.key, true); ok {
				after[f.key], keyNode[f.key] = d, f.keyPos
			}
		case "queue_selective_wipe":
			l.QueueSelectiveWipe, _ = p.boolean(f.val, f.key)
			wipeNode = f.keyPos
		default:
			p.unknownKey(f, "escalation", escalationKeys)
		}
	}
	var prev Step
	for _, name := range stepOrder[2:] {
		d, ok := after[name]
		if !ok {
			continue
		}
		if prev.Name != "" && d < prev.After {
			p.errorf(keyNode[name], "escalation %s (%s) comes before %s (%s): steps must be in order notify, lower_trust, block, quarantine", name, d, prev.Name, prev.After)
		}
		prev = Step{name, d}
		l.Steps = append(l.Steps, prev)
	}
	if l.QueueSelectiveWipe && keyNode[StepQuarantine] == nil {
		p.errorf(wipeNode, "queue_selective_wipe needs a quarantine step")
	}
	return l
}

// crossCheck finds policies that could never pass because the privacy
// profile of an ownership they name forbids the signals they need.
func (p *parser) crossCheck(c *Config, n *yaml.Node) {
	if absent(n) || c.Privacy.Profiles == nil {
		return
	}
	n = p.resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return
	}
	for _, pol := range c.Policies {
		if len(pol.Checks.ForbiddenApps)+len(pol.Checks.RequiredApps) == 0 {
			continue
		}
		for _, o := range pol.Ownership {
			if !c.Privacy.Profiles[o].Has(appsSignal) {
				p.Errs = append(p.Errs, &Error{File: p.File, Line: pol.ownLine, Col: pol.ownCol, Msg: fmt.Sprintf(
					"compliance policy %q checks installed applications on %s devices, but the %s data profile does not allow the application inventory: remove %s from its ownership", pol.ID, o, o, o)})
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
