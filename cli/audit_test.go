package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	m := startSeeded(t, dir, 40) // 40 seeded device.view events, entries 1..40
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
	if code, _, _ := run(t, nil, "audit", "verify", "--server", m.url(""), "--ca-file", ca); code != ExitUsage {
		t.Errorf("verify --server without PORTIER_TOKEN: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := run(t, env, "audit", "verify"); code != ExitUsage {
		t.Errorf("verify without a source: exit %d, want %d", code, ExitUsage)
	}

	// Someone hides what they looked at: entry 7 now says another device.
	if code := m.stop(); code != 0 {
		t.Fatalf("stop: %d", code)
	}
	editAuditEntry(t, dir, 7, `"target":"dev_000006"`, `"target":"dev_999999"`)
	m = serveMDM(t, dir, nil)
	if err := os.WriteFile(ca, m.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = verifyServer()
	if code != 1 || !strings.Contains(stdout, "broken at entry 7 ") || !strings.Contains(stdout, "edited") {
		t.Errorf("verify the edited log: exit %d, want 1 naming entry 7\n%s%s", code, stdout, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.backup")
	if code, stdout, stderr := run(t, nil, "backup", "--data-dir", dir, "--out", bad); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, nil, "audit", "verify", "--in", bad)
	if code != 1 || !strings.Contains(stdout, "broken at entry 7 ") {
		t.Errorf("verify the backup of the edited log: exit %d, want 1 naming entry 7\n%s%s", code, stdout, stderr)
	}
}

