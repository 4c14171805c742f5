package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// startOutcome runs `portier serve` on dataDir and reports how it ended:
// its exit code and stderr when it refused to start, or started=true (and
// it is stopped) when it came up, which a damaged data dir must not.
func startOutcome(t *testing.T, dataDir string, env map[string]string) (code int, stderr string, started bool) {
	t.Helper()
	in := launch(t, dataDir, env)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case code := <-in.done:
			in.done <- code
			return code, in.stderr.String(), false
		case <-deadline:
			t.Fatalf("portier serve neither started nor exited:\n%s", in.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if strings.Contains(in.stdout.String(), "Portier is running.") {
			in.stop()
			return 0, in.stderr.String(), true
		}
	}
}

// firstStart starts and stops a server on a new data dir, leaving a store
// in use (a bootstrap token) and a CA; it returns the printed fingerprint.
func firstStart(t *testing.T, dataDir string) string {
	t.Helper()
	in := start(t, dataDir, map[string]string{"PORTIER_BOOTSTRAP_TOKEN": strings.Repeat("t", 40)})
	fp := bannerFingerprint(in.stdout.String())
	if code := in.stop(); code != 0 {
		t.Fatalf("first start exited %d:\n%s", code, in.stderr)
	}
	return fp
}

// TestDamagedDataDirStopsStartUp (issue 9 item 6): each damage that used to
// reset the installation silently (a new empty store with a new set-up
// link, or a new CA that breaks every enrolled device) now stops start-up
// with exit 1, naming the file and saying to restore it from a backup.
func TestDamagedDataDirStopsStartUp(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string // in stderr
	}{
		{"0-byte store file", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "portier.db"), 0); err != nil {
				t.Fatal(err)
			}
		}, []string{"portier.db is corrupt", "only 0 bytes", "portier restore"}},
		{"missing ca folder", func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "ca")); err != nil {
				t.Fatal(err)
			}
		}, []string{filepath.Join("ca") + " is missing", "did not create one", "portier restore"}},
		{"empty ca folder", func(t *testing.T, dir string) {
			for _, f := range []string{"root.crt", "root.key", "intermediate.crt", "intermediate.key"} {
				if err := os.Remove(filepath.Join(dir, "ca", f)); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"is missing or empty", "portier restore"}},
		{"missing store file", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "portier.db")); err != nil {
				t.Fatal(err)
			}
		}, []string{"portier.db is new or empty", "holds a CA", "portier restore"}},
		{"missing signing keys", func(t *testing.T, dir string) {
			be, err := boltstore.Open(filepath.Join(dir, "portier.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer be.Close()
			if _, err := be.Commit(context.Background(), []store.Mutation{{Kind: store.KindBlob, ID: "assertion/keys"}}); err != nil {
				t.Fatal(err)
			}
		}, []string{"not its upstream signing keys (blob assertion/keys)", "portier restore"}},
		{"another installation's CA", func(t *testing.T, dir string) {
			other := filepath.Join(t.TempDir(), "other")
			firstStart(t, other)
			if err := os.RemoveAll(filepath.Join(dir, "ca")); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(other, "ca"), filepath.Join(dir, "ca")); err != nil {
				t.Fatal(err)
			}
		}, []string{"not the one this store was set up with", "portier restore"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			firstStart(t, dir)
			tc.damage(t, dir)
			code, stderr, started := startOutcome(t, dir, nil)
			if started {
				t.Fatalf("portier started on a damaged data dir (%s); stderr:\n%s", tc.name, stderr)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
	t.Run("an intact data dir still starts", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		fp := firstStart(t, dir)
		in := start(t, dir, nil)
		if got := bannerFingerprint(in.stdout.String()); got != fp {
			t.Errorf("restart changed the CA: %s, was %s", got, fp)
		}
	})
}

// TestDamagedPostgresStopsStartUp: on PostgreSQL the CA keys and the salt
// of the sealing key live in the database; losing either while the
// database holds the installation used to create new ones silently.
func TestDamagedPostgresStopsStartUp(t *testing.T) {
	for _, tc := range []struct{ blob, want string }{
		{"ca/keys", "not its sealed CA keys (blob ca/keys)"},
		{"server/seal-salt", "not the salt of its sealing key (blob server/seal-salt)"},
	} {
		t.Run(tc.blob, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			env := pgEnv(t, dsn)
			in := start(t, t.TempDir(), env)
			if code := in.stop(); code != 0 {
				t.Fatalf("first start exited %d", code)
			}
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, `DELETE FROM portier_records WHERE kind = 'blob' AND id = $1`, tc.blob); err != nil {
				t.Fatal(err)
			}
			code, stderr, started := startOutcome(t, t.TempDir(), env)
			if started || code != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "portier restore") {
				t.Errorf("started=%v exit %d, stderr:\n%s\nwant exit 1 saying %q", started, code, stderr, tc.want)
			}
		})
	}
}
