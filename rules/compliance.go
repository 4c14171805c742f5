package rules

import (
	"fmt"

	"github.com/portier/portier/config"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// checkCompliance validates a compliance policy alone (package posture's
// format); the checks that need the whole set and the privacy profiles
// are CompileCompliance's.
func (d *Doc) checkCompliance(file string) error {
	d.Mode = ModeEnforce
	for i := 0; i+1 < len(d.Node.Content); i += 2 {
		if d.Node.Content[i].Value == "mode" {
			d.Mode = d.Node.Content[i+1].Value
		}
	}
	pol, err := posture.ParsePolicy(file, d.Node)
	if err != nil {
		return err
	}
	if d.ID == "" {
		d.ID = pol.ID
	}
	if d.PromoteTo != "" && d.PromoteTo == d.Mode {
		return &config.Error{File: file, Line: d.Node.Line, Msg: fmt.Sprintf("the compliance policy is already in mode %s: nothing to promote", d.Mode)}
	}
	return nil
}

// CompileCompliance compiles compliance policies (drafts and report-only
// ones included: package posture sorts them by mode) with base's privacy
// and posture sources: the posture engine's configuration.
func CompileCompliance(base *config.Config, docs []*Doc) (*posture.Config, error) {
	docs = sortedDocs(docs)
	nodes := make([]*yaml.Node, len(docs))
	for i, d := range docs {
		nodes[i] = d.Node
	}
	return posture.Parse(base.File, seq(nodes...), &base.Privacy, &base.PostureSources)
}

// ComplianceFromStore parses the store's current compliance policies
// (tombstones left out).
func ComplianceFromStore(st *store.Store) ([]*Doc, error) { return DocsOf(st.Compliance()) }

// DocsOf parses stored rules, tombstones left out. A rule that does not
// parse is an error naming it.
func DocsOf(rs []*store.Rule) ([]*Doc, error) {
	var out []*Doc
	for _, r := range rs {
		d, err := DocOf(r)
		if err != nil {
			return nil, err
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// fileCompliance reads the config file's compliance policies as docs. A
// file without `compliance:` has the built-in baseline; present says
// whether the file wrote the section (`compliance:` left empty means no
// policy at all).
func fileCompliance(cfg *config.Config) (docs []fileRule, present bool, err error) {
	n := &cfg.Compliance
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	present = n.Kind != 0
	if !present {
		n = posture.Baseline()
	}
	docs, err = fileList(cfg, store.RuleCompliance, n)
	return docs, present, err
}
