package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
)

// auditCmd is `portier audit verify`.
func auditCmd(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: portier audit verify [--server URL | --in BACKUP] [--ca-file PEM]\n\n"+
			"Checks the audit log's hash chain, from the API (token in PORTIER_TOKEN) or from a backup file;\n"+
			"names the first broken entry. Exit 0 intact, 1 broken (or not checkable), 2 usage.")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return ExitOK
		}
		return ExitUsage
	}
	fs := newFlagSet("audit verify", stderr)
	fs.String("server", "", "the Portier external URL, e.g. https://portier.example.com; env PORTIER_SERVER")
	fs.String("in", "", "a backup file written by portier backup; env PORTIER_IN")
	fs.String("ca-file", "", "PEM roots to trust for --server (e.g. Portier's /ca/roots.pem) besides the system's; env PORTIER_CA_FILE")
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		return ExitOK
	} else if err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier audit verify: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	srv, in := envOr(fs, env, "server"), envOr(fs, env, "in")
	if (srv == "") == (in == "") {
		fmt.Fprintln(stderr, "portier audit verify: give exactly one of --server URL and --in BACKUP")
		return ExitUsage
	}
	var res *auditResult
	var err error
	if in != "" {
		res, err = verifyBackup(in)
	} else {
		tok := env("PORTIER_TOKEN")
		if tok == "" {
			fmt.Fprintln(stderr, "portier audit verify: --server needs an API token with audit:read in PORTIER_TOKEN")
			return ExitUsage
		}
		var client *http.Client
		if client, err = apiClient(envOr(fs, env, "ca-file")); err != nil {
			fmt.Fprintf(stderr, "portier audit verify: %v\n", err)
			return ExitUsage
		}
		res, err = verifyServer(ctx, client, srv, tok)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portier audit verify: cannot check the audit log: %v\n", err)
		return ExitFail
	}
	if res.broken != nil {
		fmt.Fprintf(stdout, "BROKEN: %v\n(%d entries before it are intact)\n", res.broken, res.checked)
		return ExitFail
	}
	from := "the start of the log"
	if res.chain.Anchor.Seq > 0 {
		from = fmt.Sprintf("the retention anchor (entry %d, %s)", res.chain.Anchor.Seq, res.chain.Anchor.Hash)
	}
	fmt.Fprintf(stdout, "intact: %d entries, linked from %s to the head (entry %d, %s)\n",
		res.checked, from, res.chain.Head.Seq, res.chain.Head.Hash)
	return ExitOK
}

type auditResult struct {
	chain   store.AuditChain
	checked int
	broken  *store.AuditBreak
}

// verifyBackup checks the chain a backup carries: the file's own checksum
// first (backup.Verify reads it all), then anchor, links, hashes and head.
func verifyBackup(path string) (*auditResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &auditResult{}
	var v *store.AuditVerifier
	var last store.AuditLink
	events := 0
	_, _, err = backup.Verify(f, func(e backup.Entry) error {
		r := e.Record
		if r == nil {
			return nil
		}
		switch r.Kind {
		case store.KindAuditChain:
			if v != nil {
				return errors.New("the backup's audit chain record comes after its events")
			}
			if err := json.Unmarshal(r.Value, &res.chain); err != nil {
				return fmt.Errorf("the backup's audit chain record: %w", err)
			}
		case store.KindAudit:
			var ev store.AuditEvent
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				return fmt.Errorf("the backup's audit event %s: %w", r.ID, err)
			}
			if v == nil {
				v = store.NewAuditVerifier(res.chain.Anchor)
			}
			events++
			if ev.Seq == 0 {
				return fmt.Errorf("the backup's audit events carry no hash chain: it was written by a Portier from before the chain")
			}
			v.Add(&ev)
			last = store.AuditLink{Seq: ev.Seq, Hash: ev.Hash}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = store.NewAuditVerifier(res.chain.Anchor)
	}
	if res.chain.ID == "" {
		if events > 0 {
			return nil, errors.New("the backup holds audit events but no chain record")
		}
		res.chain.Head = last
	}
	res.broken = v.End(res.chain.Head)
	res.checked = v.Checked()
	return res, nil
}

// apiClient is an HTTPS client trusting the system roots and caFile's.
func apiClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}

// verifyServer reads the chain's ends, then every event up to the head,
// oldest first, a page at a time. Events written meanwhile (past the head
// it read) are left for the next run.
func verifyServer(ctx context.Context, client *http.Client, server, token string) (*auditResult, error) {
	base, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("--server %q is not an http(s) URL", server)
	}
	get := func(path string, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String()+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Error struct{ Message string } `json:"error"`
			}
			_ = json.Unmarshal(body, &e)
			return fmt.Errorf("GET %s: %s %s", path, resp.Status, e.Error.Message)
		}
		return json.Unmarshal(body, v)
	}
	res := &auditResult{}
	var ends struct {
		Anchor store.AuditLink `json:"anchor"`
		Head   store.AuditLink `json:"head"`
	}
	if err := get("/api/v1/audit/chain", &ends); err != nil {
		return nil, err
	}
	res.chain.Anchor, res.chain.Head = ends.Anchor, ends.Head
	v := store.NewAuditVerifier(ends.Anchor)
	cursor := strconv.FormatUint(ends.Anchor.Seq, 10)
	if ends.Anchor.Seq == 0 {
		cursor = ""
	}
	for {
		var page struct {
			Events     []*store.AuditEvent `json:"events"`
			NextCursor string              `json:"next_cursor"`
		}
		path := "/api/v1/audit?order=asc&limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := get(path, &page); err != nil {
			return nil, err
		}
		done := page.NextCursor == ""
		for _, ev := range page.Events {
			if ev.Seq > ends.Head.Seq {
				done = true
				break
			}
			if b := v.Add(ev); b != nil {
				res.broken, res.checked = b, v.Checked()
				return res, nil
			}
		}
		if done {
			break
		}
		cursor = page.NextCursor
	}
	res.broken, res.checked = v.End(ends.Head), v.Checked()
	return res, nil
}
