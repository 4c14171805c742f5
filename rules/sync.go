package rules

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// seededBlob marks a store whose rules were seeded (from the config file,
// possibly with none): from then on the store is authoritative unless
// config_policies is file.
const seededBlob = "rules-seeded"

// seededComplianceBlob marks a store whose compliance policies were seeded.
const seededComplianceBlob = "rules-seeded-compliance"

// ConfigAuthor is the author of versions written from the config file.
const ConfigAuthor = "config file"

// fileRule is a rule of the config file and its line.
type fileRule struct {
	doc  *Doc
	line int
}

// fileDocs reads the config file's routes and policies as docs.
func fileDocs(cfg *config.Config) (routes, policies []fileRule, err error) {
	if cfg.Root != nil && len(cfg.Root.Content) > 0 {
		if routes, err = fileList(cfg, store.RuleRoute, child(cfg.Root.Content[0], "routes")); err != nil {
			return nil, nil, err
		}
	}
	if policies, err = fileList(cfg, store.RulePolicy, &cfg.Policies); err != nil {
		return nil, nil, err
	}
	return routes, policies, nil
}

// fileList reads one list of the config file (nil or not a list: none)
// as docs of one type.
func fileList(cfg *config.Config, typ string, list *yaml.Node) ([]fileRule, error) {
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, nil
	}
	var out []fileRule
	for _, n := range list.Content {
		d, err := docOf(typ, cfg.File, n, "")
		if err != nil {
			return nil, err
		}
		out = append(out, fileRule{d, n.Line})
	}
	return out, nil
}

func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Same reports whether two docs say the same thing (formatting and
// comments aside).
func Same(a, b *Doc) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Type == store.RuleRoute {
		return reflect.DeepEqual(a.Route, b.Route)
	}
	var x, y any
	if a.Node.Decode(&x) != nil || b.Node.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Sync applies the config rule at start and at reload (the file must have
// compiled already). With config_policies: file, the store's rules are
// overwritten by the file's (new versions by "config file"; rules the file
// lacks are deleted). Otherwise the file seeds an unseeded store, and
// afterwards a file whose routes, policies or compliance policies differ
// from the store's is refused with an error naming file:line. Compliance
// policies are seeded on their own (a store seeded before they were kept
// there gets them at its next start); a file without `compliance:` seeds
// the built-in baseline. It returns how many rules it wrote.
func (s *Service) Sync(ctx context.Context, cfg *config.Config) (int, error) {
	routes, policies, err := fileDocs(cfg)
	if err != nil {
		return 0, err
	}
	comp, compPresent, err := fileCompliance(cfg)
	if err != nil {
		return 0, err
	}
	if cfg.ConfigPolicies == config.PoliciesInFile {
		n, err := s.overwrite(ctx, routes, policies)
		if err != nil {
			return n, err
		}
		m, err := s.overwriteKind(ctx, store.RuleCompliance, comp, s.Store.Compliance())
		return n + m, err
	}
	n, err := s.seedOrCompare(ctx, seededBlob, len(routes)+len(policies) > 0,
		func() (int, error) { return s.overwrite(ctx, routes, policies) },
		func() error {
			if err := s.compare(cfg, store.RulePolicy, policies, s.Store.Policies(), "policies"); err != nil {
				return err
			}
			return s.compare(cfg, store.RuleRoute, routes, s.Store.Routes(), "routes")
		})
	if err != nil {
		return n, err
	}
	m, err := s.seedOrCompare(ctx, seededComplianceBlob, compPresent,
		func() (int, error) { return s.overwriteKind(ctx, store.RuleCompliance, comp, s.Store.Compliance()) },
		func() error { return s.compare(cfg, store.RuleCompliance, comp, s.Store.Compliance(), "compliance") })
	return n + m, err
}

// seedOrCompare seeds the store once (marked by the blob), and afterwards
// compares the file with it when the file has rules of its own.
func (s *Service) seedOrCompare(ctx context.Context, blob string, inFile bool, seed func() (int, error), compare func() error) (int, error) {
	if _, seeded := s.Store.Blob(blob); !seeded {
		n, err := seed()
		if err != nil {
			return n, err
		}
		err = s.Store.Write(ctx, store.Create(&store.Blob{ID: blob, Data: []byte("seeded from the config file")}))
		if err != nil && !errors.Is(err, store.ErrExists) {
			return n, err
		}
		return n, nil
	}
	if !inFile {
		return 0, nil // the store alone holds the rules
	}
	return 0, compare()
}

// compare refuses a file whose rules of one type differ from the store's.
func (s *Service) compare(cfg *config.Config, typ string, file []fileRule, stored []*store.Rule, key string) error {
	inFile := map[string]bool{}
	for _, f := range file {
		inFile[f.doc.ID] = true
		cur, ok := s.Store.RuleOf(typ, f.doc.ID)
		var d *Doc
		if ok {
			d, _ = DocOf(cur)
		}
		if d == nil {
			return refuse(cfg, f.line, fmt.Sprintf("%s %q is not in the store", typ, f.doc.ID))
		}
		if !Same(d, f.doc) {
			return refuse(cfg, f.line, fmt.Sprintf("%s %q differs from the store's version %d", typ, f.doc.ID, cur.Version))
		}
	}
	for _, r := range stored {
		if !r.Deleted && !inFile[r.ID] {
			return refuse(cfg, cfg.Line(key), fmt.Sprintf("the store has %s %q, which this file lacks", typ, r.ID))
		}
	}
	return nil
}

func refuse(cfg *config.Config, line int, what string) error {
	return &config.Error{File: cfg.File, Line: line, Msg: what + ": routes, policies and compliance policies live in the store since the first start " +
		"(config_policies: store). Remove routes:, policies: and compliance: from this file and manage them with `portier policy apply`, " +
		"make them equal to `portier policy export`, or set config_policies: file to keep the file authoritative"}
}

// overwrite makes the store's routes and access policies those of the file.
func (s *Service) overwrite(ctx context.Context, routes, policies []fileRule) (int, error) {
	n, err := s.overwriteKind(ctx, store.RulePolicy, policies, s.Store.Policies())
	if err != nil {
		return n, err
	}
	m, err := s.overwriteKind(ctx, store.RuleRoute, routes, s.Store.Routes())
	return n + m, err
}

// overwriteKind makes the store's rules of one type those of the file.
func (s *Service) overwriteKind(ctx context.Context, typ string, file []fileRule, stored []*store.Rule) (int, error) {
	n := 0
	inFile := map[string]bool{}
	for _, f := range file {
		inFile[f.doc.ID] = true
		wrote, err := s.syncOne(ctx, typ, f.doc.ID, f.doc)
		if err != nil {
			return n, err
		}
		n += wrote
	}
	for _, r := range stored {
		if !r.Deleted && !inFile[r.ID] {
			wrote, err := s.syncOne(ctx, typ, r.ID, nil)
			if err != nil {
				return n, err
			}
			n += wrote
		}
	}
	return n, nil
}

// syncOne writes d (nil: a delete) as the rule's new version unless the
// store already says the same; a replica racing to do the same wins.
func (s *Service) syncOne(ctx context.Context, typ, id string, d *Doc) (int, error) {
	for range 3 {
		cur, ok := s.Store.RuleOf(typ, id)
		var have *Doc
		if ok {
			have, _ = DocOf(cur)
		}
		if Same(have, d) {
			return 0, nil
		}
		r := &store.Rule{ID: id, Type: typ, Author: ConfigAuthor, At: s.Clock().UTC(), Version: 1, Comment: "from the config file"}
		action := typ + ".create"
		if ok {
			r.Version = cur.Version + 1
			action = typ + ".update"
		}
		if d == nil {
			r.Deleted, action = true, typ+".delete"
		} else {
			r.Text = d.Text
		}
		err := s.commit(ctx, Actor{Name: ConfigAuthor}, cur, r, action)
		if err == nil {
			return 1, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return 0, err
		}
		if err := s.Store.Sync(ctx); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("rules: %s %q keeps changing under the config sync", typ, id)
}
