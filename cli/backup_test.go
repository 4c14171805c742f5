package cli

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/server"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// writeLoad creates API tokens through in until stop is closed, so that a
// backup runs while the server writes. It returns once a few tokens exist,
// and a channel that gives how many it created in all.
func writeLoad(t *testing.T, in *instance, stop <-chan struct{}) <-chan int {
	t.Helper()
	var n atomic.Int64
	done := make(chan int, 1)
	go func() {
		defer func() { done <- int(n.Load()) }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("POST", in.url("/api/v1/tokens"), strings.NewReader(fmt.Sprintf(`{"name":"load-%d","role":"auditor"}`, i)))
			req.Header.Set("Authorization", "Bearer "+ownerSecret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := in.client.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 201 {
				n.Add(1)
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return done
}

// checkConsistent checks that every token created under load comes with
// the audit event written in its transaction, and the other way round: a
// backup from a torn snapshot would have one without the other.
func checkConsistent(t *testing.T, recs map[string]string) {
	t.Helper()
	tokens, events := 0, 0
	for k, v := range recs {
		if strings.HasPrefix(k, "token/") && strings.Contains(v, `"name":"load-`) {
			tokens++
			id := strings.TrimPrefix(k, "token/")
			found := false
			for k2, v2 := range recs {
				if strings.HasPrefix(k2, "audit/") && strings.Contains(v2, `"action":"token.create"`) && strings.Contains(v2, `"target":"`+id+`"`) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("the backup has token %s without its audit event", id)
			}
		}
		if strings.HasPrefix(k, "audit/") && strings.Contains(v, `"action":"token.create"`) {
			events++
		}
	}
	if tokens < 5 {
		t.Errorf("the backup holds %d tokens created under load, want at least the 5 made before it", tokens)
	}
	if tokens != events {
		t.Errorf("the backup has %d load tokens and %d token.create audit events", tokens, events)
	}
	t.Logf("the backup holds %d tokens created under load", tokens)
}

func TestBackupRestoreEmbeddedOnline(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data")
	m := startSeeded(t, src, 50000)
	active, revoked := enrollTwo(t, m)

	fi, err := os.Lstat(filepath.Join(src, server.BackupSocketName))
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup socket: %v, mode %v; want a 0600 socket", err, fi.Mode())
	}

	stop := make(chan struct{})
	created := writeLoad(t, m.instance, stop)
	out := filepath.Join(t.TempDir(), "portier.backup")
	code, stdout, stderr := run(t, nil, "backup", "--data-dir", src, "--out", out)
	close(stop)
	t.Logf("%d tokens created during the test", <-created)
	if code != 0 || !strings.Contains(stdout, "backup socket") || !strings.Contains(stdout, "verified") {
		t.Fatalf("backup while serving: exit %d\n%s%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want 0600", err, fi.Mode())
	}
	h, recs, files := backupContent(t, out)
	if h.Backend != backup.BackendBolt || h.Seq == 0 {
		t.Errorf("header = %+v", h)
	}
	for _, f := range []string{"ca/root.crt", "ca/root.key", "ca/intermediate.crt", "ca/intermediate.key"} {
		if files[f] == "" {
			t.Errorf("the backup lacks %s", f)
		}
	}
	checkConsistent(t, recs)
	var audited bool
	for k, v := range recs {
		if strings.HasPrefix(k, "audit/") && strings.Contains(v, `"action":"backup.create"`) && strings.Contains(v, `"actor":"local:uid=`) {
			audited = true
		}
	}
	if !audited {
		t.Error("the backup through the server was not audited (or the event is not in the backup)")
	}

	dst := filepath.Join(t.TempDir(), "restored")
	code, stdout, stderr = run(t, nil, "restore", "--data-dir", dst, "--in", out)
	if code != 0 || !strings.Contains(stdout, "Root fingerprint:   SHA256 "+m.fp) {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	for f, want := range files {
		if got, err := os.ReadFile(filepath.Join(dst, f)); err != nil || string(got) != want {
			t.Errorf("restored %s differs from the backup's (%v)", f, err)
		}
	}
	sameRecords(t, boltContent(t, dst), recs)

	r := serveMDM(t, dst, nil)
	checkSameInstallation(t, m, r, active, revoked)
	if body := r.get("/api/v1/audit"); !strings.Contains(body, "backup.restore") || !strings.Contains(body, "backup.create") {
		t.Errorf("the restored audit log lacks the backup or the restore: %s", body)
	}
}

func TestBackupOfflineAndRefusals(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data")
	m := startSeeded(t, src, 0)
	if code := m.stop(); code != 0 {
		t.Fatalf("stop: %d", code)
	}
	if _, err := os.Lstat(filepath.Join(src, server.BackupSocketName)); !os.IsNotExist(err) {
		t.Errorf("the backup socket outlived the server: %v", err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.backup")
	code, stdout, stderr := run(t, nil, "backup", "--data-dir", src, "--out", good)
	if code != 0 || !strings.Contains(stdout, "store file") {
		t.Fatalf("offline backup: exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.backup", b[:len(b)*2/3])
	flipped := append([]byte(nil), b...)
	flipped[len(flipped)/2] ^= 0x10
	flippedPath := write("flipped.backup", flipped)
	notBackup := write("notes.txt", []byte("just some text, not a backup at all, long enough to matter\n"))
	edited := write("edited.backup", []byte(strings.Replace(string(b), `"version":1`, `"version":7`, 1)))

	// A data dir holding a store with a record but no CA yet.
	withStore := filepath.Join(dir, "with-store")
	if code, _, errs := run(t, nil, "restore", "--data-dir", withStore, "--in", good); code != 0 {
		t.Fatalf("restore into a new dir: %s", errs)
	}
	if err := os.RemoveAll(filepath.Join(withStore, "ca")); err != nil {
		t.Fatal(err)
	}
	before := boltContent(t, withStore)
	srcBefore := boltContent(t, src)

	fresh := filepath.Join(dir, "fresh")
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		want   string
		target string // a data dir that must not exist afterwards
	}{
		{"into the source", nil, []string{"restore", "--data-dir", src, "--in", good}, 1, "not empty", ""},
		{"into a store with records", nil, []string{"restore", "--data-dir", withStore, "--in", good}, 1, "not empty", ""},
		{"truncated", nil, []string{"restore", "--data-dir", fresh, "--in", truncated}, 1, "truncated", fresh},
		{"flipped byte", nil, []string{"restore", "--data-dir", fresh, "--in", flippedPath}, 1, "checksum mismatch", fresh},
		{"not a backup", nil, []string{"restore", "--data-dir", fresh, "--in", notBackup}, 1, "not a Portier backup", fresh},
		{"edited header", nil, []string{"restore", "--data-dir", fresh, "--in", edited}, 1, "checksum mismatch", fresh},
		{"missing file", nil, []string{"restore", "--data-dir", fresh, "--in", filepath.Join(dir, "nope")}, 1, "no such file", fresh},
		{"stdin", nil, []string{"restore", "--data-dir", fresh, "--in", "-"}, 2, "not stdin", fresh},
		{"no --in", nil, []string{"restore", "--data-dir", fresh}, 2, "--in FILE is required", fresh},
		{"existing --out", nil, []string{"backup", "--data-dir", src, "--out", good}, 1, "refusing to overwrite", ""},
		{"no --out", nil, []string{"backup", "--data-dir", src}, 2, "--out FILE is required", ""},
		{"no store", nil, []string{"backup", "--data-dir", fresh, "--out", filepath.Join(dir, "x")}, 1, "no Portier store", fresh},
		{"bad config", map[string]string{"PORTIER_STORE": "mysql://x"}, []string{"backup", "--out", filepath.Join(dir, "y")}, 2, "postgres://", ""},
		{"unreachable PostgreSQL", map[string]string{"PORTIER_STORE": "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "PORTIER_CA_KEY_PASSWORD": testCAPassword},
			[]string{"restore", "--in", good}, 1, "cannot reach PostgreSQL at 127.0.0.1:1", ""},
		{"PostgreSQL without password", map[string]string{"PORTIER_STORE": "postgres://postgres@127.0.0.1:1/test?sslmode=disable"},
			[]string{"restore", "--in", good}, 1, "PORTIER_CA_KEY_PASSWORD", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tc.code, tc.want)
			}
			if strings.Contains(stderr, "panic") || strings.Count(strings.TrimSpace(stderr), "\n") > 3 {
				t.Errorf("stderr is not one clear message:\n%s", stderr)
			}
			if tc.target != "" {
				if _, err := os.Stat(tc.target); !os.IsNotExist(err) {
					t.Errorf("a refused command left %s behind (%v)", tc.target, err)
				}
			}
		})
	}
	if got, err := os.ReadFile(good); err != nil || string(got) != string(b) {
		t.Error("the refused backup changed the existing --out file")
	}
	if _, err := os.Stat(filepath.Join(withStore, "ca")); !os.IsNotExist(err) {
		t.Error("the refused restore wrote CA files into a data dir with a store")
	}
	sameContent(t, "the data dir with a store", boltContent(t, withStore), before)
	sameContent(t, "the source data dir", boltContent(t, src), srcBefore)
}

func sameContent(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s changed: %d records, were %d", what, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s changed: %s", what, k)
		}
	}
}

func TestBackupRestorePostgres(t *testing.T) {
	srcDSN, dstDSN := pgtest.DSN(t), pgtest.DSN(t)
	m := startSeededPG(t, srcDSN, 50000)
	active, revoked := enrollTwo(t, m)

	stop := make(chan struct{})
	created := writeLoad(t, m.instance, stop)
	out := filepath.Join(t.TempDir(), "pg.backup")
	code, stdout, stderr := run(t, map[string]string{"PORTIER_STORE": srcDSN}, "backup", "--out", out)
	close(stop)
	t.Logf("%d tokens created during the test", <-created)
	if code != 0 || !strings.Contains(stdout, "PostgreSQL") {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	h, recs, files := backupContent(t, out)
	if h.Backend != backup.BackendPostgres || len(files) != 0 || recs["blob/ca/keys"] == "" {
		t.Errorf("header %+v, files %v, sealed CA present: %v", h, files, recs["blob/ca/keys"] != "")
	}
	checkConsistent(t, recs)

	env := pgRestoreEnv(dstDSN)
	wrong := map[string]string{"PORTIER_STORE": dstDSN, "PORTIER_CA_KEY_PASSWORD": strings.Repeat("w", 40)}
	if code, _, stderr := run(t, wrong, "restore", "--in", out); code != 1 || !strings.Contains(stderr, "wrong password") {
		t.Errorf("restore with the wrong password: exit %d %s", code, stderr)
	}
	if got := pgContent(t, dstDSN); len(got) != 0 {
		t.Fatalf("a refused restore wrote %d records", len(got))
	}
	if code, stdout, stderr := run(t, env, "restore", "--in", out); code != 0 || !strings.Contains(stdout, m.fp) {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	sameRecords(t, pgContent(t, dstDSN), recs)

	before := pgContent(t, srcDSN)
	if code, _, stderr := run(t, pgRestoreEnv(srcDSN), "restore", "--in", out); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("restore into a database with records: exit %d %s", code, stderr)
	}
	after := pgContent(t, srcDSN)
	for k := range before {
		if after[k] == "" {
			t.Errorf("a refused restore removed %s", k)
		}
	}

	r := serveMDM(t, t.TempDir(), env)
	checkSameInstallation(t, m, r, active, revoked)
}

func TestMigrateEmbeddedToPostgresAndBack(t *testing.T) {
	pgtest.URL(t) // skip before starting anything on a machine without PostgreSQL
	src := filepath.Join(t.TempDir(), "data")
	m := startSeeded(t, src, 0)
	active, revoked := enrollTwo(t, m)
	boltBackup := filepath.Join(t.TempDir(), "bolt.backup")
	if code, stdout, stderr := run(t, nil, "backup", "--data-dir", src, "--out", boltBackup); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	_, boltRecs, _ := backupContent(t, boltBackup)

	// Embedded -> PostgreSQL: the operator's migration.
	dsn := pgtest.DSN(t)
	code, stdout, stderr := run(t, pgRestoreEnv(dsn), "restore", "--in", boltBackup)
	if code != 0 || !strings.Contains(stdout, "bolt -> postgres") || !strings.Contains(stdout, "1 sessions ended") ||
		!strings.Contains(stdout, "1 ACME entries (certificates, account) left out") {
		t.Fatalf("restore bolt -> postgres: exit %d\n%s%s", code, stdout, stderr)
	}
	if pgContent(t, dsn)["blob/"+acmeKeyBlob] != "" {
		t.Error("an ACME key sealed under the embedded store's key reached PostgreSQL")
	}
	pgRecs := pgContent(t, dsn)
	sameRecords(t, pgRecs, boltRecs, store.KindBlob, store.KindSession)
	if pgRecs["session/"+identity.HashSecret("cookie")] != "" {
		t.Error("the session whose refresh token cannot move was restored; its user must sign in again")
	}
	for _, id := range []string{"ca/keys", "server/seal-salt", "assertion/keys"} {
		if pgRecs["blob/"+id] == "" {
			t.Errorf("PostgreSQL lacks the blob %s", id)
		}
	}
	if pgRecs["blob/assertion/keys"] == boltRecs["blob/assertion/keys"] {
		t.Error("the assertion keys were not sealed for PostgreSQL")
	}
	if strings.Contains(pgRecs["session/"+identity.HashSecret("cookie")], "refresh_enc") {
		t.Error("a refresh token sealed under the embedded store's key reached PostgreSQL")
	}
	p := serveMDM(t, t.TempDir(), pgRestoreEnv(dsn))
	checkSameInstallation(t, m, p, active, revoked)
	if code := p.stop(); code != 0 {
		t.Fatalf("stop: %d", code)
	}

	// PostgreSQL -> embedded.
	pgBackup := filepath.Join(t.TempDir(), "pg.backup")
	if code, stdout, stderr := run(t, map[string]string{"PORTIER_STORE": dsn}, "backup", "--out", pgBackup); code != 0 {
		t.Fatalf("backup of PostgreSQL: exit %d\n%s%s", code, stdout, stderr)
	}
	back := filepath.Join(t.TempDir(), "back")
	code, stdout, stderr = run(t, map[string]string{"PORTIER_CA_KEY_PASSWORD": testCAPassword}, "restore", "--data-dir", back, "--in", pgBackup)
	if code != 0 || !strings.Contains(stdout, "postgres -> bolt") {
		t.Fatalf("restore postgres -> bolt: exit %d\n%s%s", code, stdout, stderr)
	}
	got := boltContent(t, back)
	if got["blob/ca/keys"] != "" || got["blob/server/seal-salt"] != "" || got["blob/assertion/keys"] != boltRecs["blob/assertion/keys"] {
		t.Error("the embedded store did not get its secrets back the embedded way")
	}
	b := serveMDM(t, back, nil)
	checkSameInstallation(t, m, b, active, revoked)
}
