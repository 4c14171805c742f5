package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// rulesClient calls the versioned rules API of a running Portier.
type rulesClient struct {
	ctx    context.Context
	client *http.Client
	base   string
	token  string
}

// apiRule is a route or policy as the API returns it, with a policy's
// scheduled promotion.
type apiRule struct {
	ID        string     `json:"id"`
	Version   uint64     `json:"version"`
	Text      string     `json:"text"`
	PromoteAt *time.Time `json:"promote_at"`
	PromoteTo string     `json:"promote_to"`
}

// samePromotion reports whether the server's rule has d's scheduled
// promotion (or neither has one).
func (r *apiRule) samePromotion(d *rules.Doc) bool {
	if r.PromoteAt == nil {
		return d.PromoteAt.IsZero()
	}
	return r.PromoteAt.Equal(d.PromoteAt) && r.PromoteTo == d.PromoteTo
}

// promotionNodes are the promote_at and promote_to keys of a scheduled
// promotion, as a policy's YAML takes them (none without one).
func promotionNodes(at time.Time, to string) []*yaml.Node {
	if at.IsZero() {
		return nil
	}
	return []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "promote_at"}, {Kind: yaml.ScalarNode, Value: at.UTC().Format(time.RFC3339)},
		{Kind: yaml.ScalarNode, Value: "promote_to"}, {Kind: yaml.ScalarNode, Value: to},
	}
}

func (c *rulesClient) call(method, path string, body []byte, hdr map[string]string, out any) (int, error) {
	req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		if resp.StatusCode == http.StatusNotFound && method == http.MethodGet {
			return resp.StatusCode, nil
		}
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error.Message)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

// list reads every route or policy, page by page.
func (c *rulesClient) list(plural string) ([]apiRule, error) {
	var all []apiRule
	cursor := ""
	for {
		page := map[string]json.RawMessage{}
		path := "/api/v1/" + plural + "?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := c.call(http.MethodGet, path, nil, nil, &page); err != nil {
			return nil, err
		}
		var items []apiRule
		if err := json.Unmarshal(page[plural], &items); err != nil {
			return nil, err
		}
		all = append(all, items...)
		if err := json.Unmarshal(page["next_cursor"], &cursor); err != nil || cursor == "" {
			return all, nil
		}
	}
}

// gitopsFlags parses --server, --ca-file (and -f for apply) and builds the
// client; the token comes from PORTIER_TOKEN.
func gitopsClient(ctx context.Context, name string, args []string, env Env, stderr io.Writer, file *string, prune *bool) (*rulesClient, int) {
	fs := newFlagSet("policy "+name, stderr)
	fs.String("server", "", "the Portier external URL, e.g. https://portier.example.com; env PORTIER_SERVER")
	fs.String("ca-file", "", "PEM roots to trust for --server (e.g. Portier's /ca/roots.pem) besides the system's; env PORTIER_CA_FILE")
	if file != nil {
		fs.StringVar(file, "f", "", "the YAML file of routes:, policies: and compliance: to apply (a config file works)")
	}
	if prune != nil {
		fs.BoolVar(prune, "prune", false, "also delete the server's routes, policies and compliance policies that the file lacks (default: keep them and list them)")
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil, ExitOK
	} else if err != nil {
		return nil, ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier policy %s: unexpected argument %q\n", name, fs.Arg(0))
		return nil, ExitUsage
	}
	srv := strings.TrimRight(envOr(fs, env, "server"), "/")
	if u, err := url.Parse(srv); srv == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		fmt.Fprintf(stderr, "portier policy %s: --server must be Portier's https:// URL (or PORTIER_SERVER)\n", name)
		return nil, ExitUsage
	}
	tok := env("PORTIER_TOKEN")
	if tok == "" {
		fmt.Fprintf(stderr, "portier policy %s: put an API token with rules:read%s in PORTIER_TOKEN\n", name, map[bool]string{true: " and rules:write"}[file != nil])
		return nil, ExitUsage
	}
	if file != nil && *file == "" {
		fmt.Fprintln(stderr, "portier policy apply: -f FILE is required")
		return nil, ExitUsage
	}
	client, err := apiClient(envOr(fs, env, "ca-file"))
	if err != nil {
		fmt.Fprintf(stderr, "portier policy %s: %v\n", name, err)
		return nil, ExitUsage
	}
	return &rulesClient{ctx: ctx, client: client, base: srv, token: tok}, -1
}

// policyApply pushes each route, policy and compliance policy of a file
// through the API:
// policies first (routes name them), each compared with the server's
// current version (a policy's scheduled promotion included) and written
// with If-Match only when it differs. The server's rules that the file
// lacks are listed, and deleted only with --prune (routes first, each
// delete with If-Match and audited like any delete).
func policyApply(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	var file string
	var prune bool
	c, code := gitopsClient(ctx, "apply", args, env, stderr, &file, &prune)
	if c == nil {
		return code
	}
	docs, err := readRulesFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "portier policy apply: %v\n", err)
		return ExitUsage
	}
	if prune && len(docs) == 0 {
		fmt.Fprintf(stderr, "portier policy apply: %s has no routes or policies: --prune would delete every rule; refusing\n", file)
		return ExitUsage
	}
	failed := false
	for _, d := range docs {
		msg, err := c.apply(d)
		if err != nil {
			fmt.Fprintf(stderr, "%s %s: %v\n", d.Type, d.ID, err)
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", d.Type, d.ID, msg)
	}
	if failed && prune {
		fmt.Fprintln(stderr, "portier policy apply: nothing pruned, since not every rule of the file was applied")
	}
	if err := c.prune(docs, prune && !failed, stdout, stderr); err != nil {
		failed = true
	}
	if failed {
		return ExitFail
	}
	return ExitOK
}

// prune lists the server's routes, then policies, then compliance
// policies that docs lack, and
// deletes them when del is set, each with If-Match on the version listed.
func (c *rulesClient) prune(docs []*rules.Doc, del bool, stdout, stderr io.Writer) error {
	inFile := map[string]bool{}
	for _, d := range docs {
		inFile[d.Type+"/"+d.ID] = true
	}
	var errs []error
	for _, typ := range []string{store.RuleRoute, store.RulePolicy, store.RuleCompliance} {
		items, err := c.list(plural(typ))
		if err != nil {
			fmt.Fprintf(stderr, "portier policy apply: %v\n", err)
			return err
		}
		for _, it := range items {
			if inFile[typ+"/"+it.ID] {
				continue
			}
			if !del {
				fmt.Fprintf(stdout, "%s %s: not in the file, kept (version %d; --prune deletes it)\n", typ, it.ID, it.Version)
				continue
			}
			path := "/api/v1/" + plural(typ) + "/" + url.PathEscape(it.ID) + "?comment=" + url.QueryEscape("pruned by portier policy apply --prune")
			if _, err := c.call(http.MethodDelete, path, nil, map[string]string{"If-Match": fmt.Sprintf("%q", fmt.Sprint(it.Version))}, nil); err != nil {
				fmt.Fprintf(stderr, "%s %s: %v\n", typ, it.ID, err)
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(stdout, "%s %s: deleted (was version %d)\n", typ, it.ID, it.Version)
		}
	}
	return errors.Join(errs...)
}

func plural(typ string) string {
	switch typ {
	case store.RuleRoute:
		return "routes"
	case store.RuleCompliance:
		return "compliance" // the API path and the file's key
	}
	return "policies"
}

func (c *rulesClient) apply(d *rules.Doc) (string, error) {
	path := "/api/v1/" + plural(d.Type) + "/" + url.PathEscape(d.ID)
	var cur apiRule
	code, err := c.call(http.MethodGet, path, nil, nil, &cur)
	if err != nil {
		return "", err
	}
	hdr := map[string]string{}
	if code == http.StatusOK {
		have, err := rules.ParseDoc(d.Type, "server", []byte(cur.Text), d.ID)
		if err == nil && rules.Same(have, d) && cur.samePromotion(d) {
			return fmt.Sprintf("unchanged (version %d)", cur.Version), nil
		}
		hdr["If-Match"] = fmt.Sprintf("%q", fmt.Sprint(cur.Version))
	}
	n := *d.Node
	n.Content = append(slices.Clone(n.Content), promotionNodes(d.PromoteAt, d.PromoteTo)...)
	n.Content = append(n.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: "comment"},
		&yaml.Node{Kind: yaml.ScalarNode, Value: "applied by portier policy apply"})
	body, err := yaml.Marshal(&n)
	if err != nil {
		return "", err
	}
	var out apiRule
	if _, err := c.call(http.MethodPut, path, body, hdr, &out); err != nil {
		return "", err
	}
	if code == http.StatusOK {
		return fmt.Sprintf("updated (version %d → %d)", cur.Version, out.Version), nil
	}
	return fmt.Sprintf("created (version %d)", out.Version), nil
}

// readRulesFile reads the routes:, policies: and compliance: of a YAML
// file (policies first); errors name file:line.
func readRulesFile(file string) ([]*rules.Doc, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &config.Error{File: file, Msg: err.Error()}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &config.Error{File: file, Line: 1, Msg: "the file must be a mapping with routes:, policies: and compliance:"}
	}
	root := doc.Content[0]
	var out []*rules.Doc
	for _, kind := range []struct{ key, typ string }{{"policies", store.RulePolicy}, {"routes", store.RuleRoute}, {"compliance", store.RuleCompliance}} {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != kind.key {
				continue
			}
			list := root.Content[i+1]
			if list.Kind != yaml.SequenceNode {
				return nil, &config.Error{File: file, Line: list.Line, Msg: kind.key + " must be a list"}
			}
			for _, item := range list.Content {
				d, err := rules.DocOfNode(kind.typ, file, item, "")
				if err != nil {
					return nil, err
				}
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// policyExport prints the server's routes, policies and compliance
// policies as one YAML file that `portier policy apply` takes back
// unchanged: a scheduled promotion is its promote_at and promote_to keys.
func policyExport(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	c, code := gitopsClient(ctx, "export", args, env, stderr, nil, nil)
	if c == nil {
		return code
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range []string{"policies", "routes", "compliance"} {
		items, err := c.list(p)
		if err != nil {
			fmt.Fprintf(stderr, "portier policy export: %v\n", err)
			return ExitFail
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, it := range items {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(it.Text), &n); err != nil || len(n.Content) == 0 {
				fmt.Fprintf(stderr, "portier policy export: %s %s: unreadable text\n", p, it.ID)
				return ExitFail
			}
			m := n.Content[0]
			if it.PromoteAt != nil {
				m.Content = append(m.Content, promotionNodes(*it.PromoteAt, it.PromoteTo)...)
			}
			seq.Content = append(seq.Content, m)
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, seq)
	}
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		fmt.Fprintf(stderr, "portier policy export: %v\n", err)
		return ExitFail
	}
	_ = enc.Close()
	return ExitOK
}
