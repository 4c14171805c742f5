package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"

	bolt "go.etcd.io/bbolt"
)

// editAuditEntry rewrites the stored audit entry at position seq of a
// stopped embedded store, as someone with access to the file would.
func editAuditEntry(t *testing.T, dataDir string, seq uint64, from, to string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, "portier.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit_log"))
		k := []byte{0, 0, 0, 0, 0, 0, 0, byte(seq)}
		v := string(b.Get(k))
		if !strings.Contains(v, from) {
			t.Fatalf("entry %d = %s, does not hold %s", seq, v, from)
		}
		return b.Put(k, []byte(strings.Replace(v, from, to, 1)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The whole path a user takes: the chain of a running server and of a
// backup verifies; after someone edits an entry in the store file, both
// `portier audit verify --server` and the next backup name that entry.
func TestAuditVerifyServerAndBackup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m := startSeeded(t, dir, 0)
	for i := range 5 {
		resp, body := m.do("POST", "/api/v1/tokens", ownerSecret, fmt.Sprintf(`{"name":"ci-%d","role":"auditor","ttl":"1h"}`, i))
		if resp.StatusCode != 201 {
			t.Fatalf("create token: %d %s", resp.StatusCode, body)
		}
	}
	var created struct {
		Events []store.AuditEvent `json:"events"`
	}
	if err := json.Unmarshal([]byte(m.get("/api/v1/audit?action=token.create&order=asc")), &created); err != nil || len(created.Events) != 5 {
		t.Fatalf("token.create events: %v, %+v", err, created)
	}
	target := created.Events[2]
	ca := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(ca, m.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PORTIER_TOKEN": ownerSecret}
	verifyServer := func() (int, string, string) {
		return run(t, env, "audit", "verify", "--server", m.url(""), "--ca-file", ca)
	}
	code, stdout, stderr := verifyServer()
	if code != 0 || !strings.Contains(stdout, "intact: ") {
		t.Fatalf("verify a fresh server: exit %d\n%s%s", code, stdout, stderr)
	}
	good := filepath.Join(t.TempDir(), "good.backup")
	if code, stdout, stderr := run(t, nil, "backup", "--data-dir", dir, "--out", good); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := run(t, nil, "audit", "verify", "--in", good); code != 0 || !strings.Contains(stdout, "intact: ") {
		t.Fatalf("verify the backup: exit %d\n%s%s", code, stdout, stderr)
	}
	// The restored installation carries the same chain, plus the restore.
	restored := filepath.Join(t.TempDir(), "restored")
	if code, stdout, stderr := run(t, nil, "restore", "--data-dir", restored, "--in", good); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	r := serveMDM(t, restored, nil)
	rca := filepath.Join(t.TempDir(), "restored-roots.pem")
	if err := os.WriteFile(rca, r.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, env, "audit", "verify", "--server", r.url(""), "--ca-file", rca)
	if code != 0 || !strings.Contains(stdout, "intact: ") {
		t.Fatalf("verify the restored server: exit %d\n%s%s", code, stdout, stderr)
	}
	if body := r.get("/api/v1/audit?limit=1"); !strings.Contains(body, `"action":"backup.restore"`) || !strings.Contains(body, `"prev":"`) {
		t.Errorf("the restored log does not end with a chained backup.restore: %s", body)
	}
	r.stop()

	if code, _, _ := run(t, nil, "audit", "verify", "--server", m.url(""), "--ca-file", ca); code != ExitUsage {
		t.Errorf("verify --server without PORTIER_TOKEN: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := run(t, env, "audit", "verify"); code != ExitUsage {
		t.Errorf("verify without a source: exit %d, want %d", code, ExitUsage)
	}

	// Someone hides a token they created: its event now says it was deleted.
	if code := m.stop(); code != 0 {
		t.Fatalf("stop: %d", code)
	}
	editAuditEntry(t, dir, target.Seq, `"action":"token.create"`, `"action":"token.delete"`)
	want := fmt.Sprintf("broken at entry %d (id %s)", target.Seq, target.ID)
	m = serveMDM(t, dir, nil)
	if err := os.WriteFile(ca, m.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = verifyServer()
	if code != 1 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "edited") {
		t.Errorf("verify the edited log: exit %d, want 1 and %q\n%s%s", code, want, stdout, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.backup")
	if code, stdout, stderr := run(t, nil, "backup", "--data-dir", dir, "--out", bad); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, nil, "audit", "verify", "--in", bad)
	if code != 1 || !strings.Contains(stdout, want) {
		t.Errorf("verify the backup of the edited log: exit %d, want 1 and %q\n%s%s", code, want, stdout, stderr)
	}
}

// A server started on a log older than the retention removes those events
// at once, records the sweep, and its chain still verifies from the anchor.
func TestAuditRetentionSweepOverServer(t *testing.T) {
	// An installation whose log starts with 40 events from 2020, past the
	// 400 days: the store holds them before its first start, as the oldest
	// part of the chain (retention removes the chain's oldest entries).
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	be, err := boltstore.Open(filepath.Join(dir, "portier.db"))
	if err != nil {
		t.Fatal(err)
	}
	seedAudit(t, be, 40)
	in := start(t, dir, map[string]string{"PORTIER_BOOTSTRAP_TOKEN": ownerSecret})
	m := &mdm{instance: in, fp: bannerFingerprint(in.stdout.String())}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(m.get("/api/v1/audit?action=audit.prune"), `"count":"40"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no audit.prune of the 40 old events: %s", m.get("/api/v1/audit"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body := m.get("/api/v1/audit?action=device.view"); !strings.Contains(body, `"events":[]`) {
		t.Errorf("old events left: %s", body)
	}
	ca := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(ca, m.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, map[string]string{"PORTIER_TOKEN": ownerSecret}, "audit", "verify", "--server", m.url(""), "--ca-file", ca)
	if code != 0 || !strings.Contains(stdout, "from the retention anchor (entry 40, ") {
		t.Errorf("verify after the sweep: exit %d\n%s%s", code, stdout, stderr)
	}
}
