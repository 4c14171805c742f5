package posture

import (
	"slices"

	"github.com/portier/portier/confyaml"
	"gopkg.in/yaml.v3"
)

// Compliance policy modes, as written in a policy's `mode:`.
const (
	// ModeDraft: validated and versioned, never evaluated.
	ModeDraft = "draft"
	// ModeReportOnly: evaluated into the would-be verdict and its
	// would-be escalations, which are recorded and never acted on.
	ModeReportOnly = "report-only"
	// ModeEnforce: decides compliance, trust and escalation.
	ModeEnforce = "enforce"
)

// splitModes sorts the parsed policies by mode and builds the shadow
// config that enforces the report-only ones too.
func (c *Config) splitModes() {
	var enforce []*Policy
	c.ReportOnly, c.Drafts = nil, nil
	for _, p := range c.Policies {
		switch p.Mode {
		case ModeDraft:
			c.Drafts = append(c.Drafts, p)
		case ModeReportOnly:
			c.ReportOnly = append(c.ReportOnly, p)
		default:
			enforce = append(enforce, p)
		}
	}
	c.Policies = enforce
	c.shadow = nil
	if len(c.ReportOnly) > 0 {
		all := append(slices.Clone(enforce), c.ReportOnly...)
		c.shadow = &Config{Policies: all, Privacy: c.Privacy, Sources: c.Sources, profs: c.profs}
	}
}

// ParsePolicy validates one compliance policy (a mapping node, as stored
// by package rules); errors name file:line:col. Checks that need the whole
// configuration (privacy profiles) are Parse's.
func ParsePolicy(file string, n *yaml.Node) (*Policy, error) {
	p := &parser{Walker: confyaml.Walker{File: file}}
	pol := p.policy(n)
	if len(p.Errs) > 0 {
		return nil, p.Errs
	}
	return pol, nil
}

// Baseline is the built-in compliance section (a sequence node): what
// applies when a config file has no `compliance:`.
func Baseline() *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(defaultCompliance), &doc); err != nil {
		panic("posture: built-in compliance defaults do not parse: " + err.Error())
	}
	return doc.Content[0]
}
