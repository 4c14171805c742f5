package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/pgstore"
)

const testCAPassword = "correct horse battery staple, twice over"

// acmeKeyBlob is an ACME certificate's private key, sealed (see package
// acme), as seed writes it.
const acmeKeyBlob = "acme/certificates/acme.example/wiki.example.com/wiki.example.com.key"

// seed writes what the API cannot make with a bootstrap token: a user, a
// signed-in session with a sealed refresh token, an ACME key, and the owner token the
// mdm helpers use; and bulk old audit events, so that a backup takes long
// enough for writes to land while it runs. The backend is closed afterwards.
func seed(t *testing.T, be store.Backend, bulk int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, be, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = st.Write(ctx,
		store.Put(&store.User{ID: "usr_ada", Email: "ada@example.com", Role: "admin", Groups: []string{"staff"}, CreatedAt: now}),
		store.Put(&store.Session{ID: identity.HashSecret("cookie"), UserID: "usr_ada", Email: "ada@example.com", IdP: "corp",
			CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(8 * time.Hour), RefreshEnc: []byte("\x01sealed-refresh-token")}),
		store.Put(&store.Token{ID: "tok_owner", Name: "test owner", Role: "owner", SecretHash: identity.HashSecret(ownerSecret), CreatedAt: now}),
		store.Put(&store.Blob{ID: acmeKeyBlob, Data: []byte(`{"sealed":true,"data":"AXNlYWxlZA=="}`)}),
	)
	if err == nil {
		err = writeOldAudit(ctx, st, bulk)
	}
	st.Close()
	be.Close()
	if err != nil {
		t.Fatal(err)
	}
}

// seedAudit writes only n audit events from 2020 into be.
func seedAudit(t *testing.T, be store.Backend, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, be, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = writeOldAudit(ctx, st, n)
	st.Close()
	be.Close()
	if err != nil {
		t.Fatal(err)
	}
}

// writeOldAudit writes n audit events from 2020, one second apart.
func writeOldAudit(ctx context.Context, st *store.Store, n int) error {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 1000 {
		ops := make([]store.Op, 0, 1000)
		for j := i; j < min(i+1000, n); j++ {
			ev := store.NewAuditEvent(old.Add(time.Duration(j)*time.Second), "user:ada@example.com", "device.view", fmt.Sprintf("dev_%06d", j))
			ev.Detail = map[string]string{"note": "seeded so the backup has some weight"}
			ops = append(ops, store.Put(ev))
		}
		if err := st.Write(ctx, ops...); err != nil {
			return err
		}
	}
	return nil
}

// startSeeded seeds an embedded store in dataDir and starts serve on it.
func startSeeded(t *testing.T, dataDir string, bulk int) *mdm {
	t.Helper()
	firstServe(t, dataDir, nil) // a real installation: its CA, then its records
	be, err := boltstore.Open(filepath.Join(dataDir, "portier.db"))
	if err != nil {
		t.Fatal(err)
	}
	seed(t, be, bulk)
	return serveMDM(t, dataDir, nil)
}

// startSeededPG seeds a PostgreSQL store and starts serve on it.
func startSeededPG(t *testing.T, dsn string, bulk int) *mdm {
	t.Helper()
	firstServe(t, t.TempDir(), pgRestoreEnv(dsn))
	firstServe(t, t.TempDir(), pgRestoreEnv(dsn))
	be, err := pgstore.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	seed(t, be, bulk)
	return serveMDM(t, t.TempDir(), pgRestoreEnv(dsn))
}

// firstServe starts serve once on a new store and stops it, as an
// installation's first start: the CA and the store's first records exist
// before a test seeds more (serve refuses a store with users but no CA).
func firstServe(t *testing.T, dataDir string, env map[string]string) {
	t.Helper()
	if code := start(t, dataDir, env).stop(); code != 0 {
		t.Fatalf("first start exited %d", code)
	}
}

// serveMDM starts serve on an existing store, as an mdm.
func serveMDM(t *testing.T, dataDir string, env map[string]string) *mdm {
	t.Helper()
	in := start(t, dataDir, env)
	return &mdm{instance: in, fp: bannerFingerprint(in.stdout.String())}
}

func pgRestoreEnv(dsn string) map[string]string {
	return map[string]string{"PORTIER_STORE": dsn, "PORTIER_CA_KEY_PASSWORD": testCAPassword}
}

// backupContent reads a backup file: its header, records by "kind/id",
// and files by path.
func backupContent(t *testing.T, path string) (backup.Header, map[string]string, map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, files := map[string]string{}, map[string]string{}
	h, _, err := backup.Verify(f, func(e backup.Entry) error {
		if e.Record != nil {
			recs[string(e.Record.Kind)+"/"+e.Record.ID] = string(e.Record.Value)
		} else {
			files[e.File.Path] = string(e.File.Data)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("backup %s: %v", path, err)
	}
	return h, recs, files
}

// storeContent reads every record of a stopped store by "kind/id".
func storeContent(t *testing.T, be store.Backend) map[string]string {
	t.Helper()
	defer be.Close()
	recs := map[string]string{}
	err := be.(store.Snapshotter).Snapshot(context.Background(), func(uint64) error { return nil }, func(c store.Change) error {
		recs[string(c.Kind)+"/"+c.ID] = string(c.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func boltContent(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	be, err := boltstore.Open(filepath.Join(dataDir, "portier.db"))
	if err != nil {
		t.Fatal(err)
	}
	return storeContent(t, be)
}

func pgContent(t *testing.T, dsn string) map[string]string {
	t.Helper()
	be, err := pgstore.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return storeContent(t, be)
}

// sameRecords compares the restored records with the backup's: equal,
// except kinds a conversion re-keeps (skip), plus the restore's audit event.
func sameRecords(t *testing.T, restored, backedUp map[string]string, skip ...store.Kind) {
	t.Helper()
	skip = append(skip, store.KindAuditChain) // the restore's own event moves the head
	skipped := func(key string) bool {
		for _, k := range skip {
			if strings.HasPrefix(key, string(k)+"/") {
				return true
			}
		}
		return false
	}
	restoreEvents := 0
	for k, v := range restored {
		if skipped(k) {
			continue
		}
		if want, ok := backedUp[k]; !ok {
			if strings.HasPrefix(k, "audit/") && strings.Contains(v, `"action":"backup.restore"`) {
				restoreEvents++
				continue
			}
			t.Errorf("restored store has %s, the backup does not: %s", k, v)
		} else if v != want {
			t.Errorf("%s differs:\nrestored %s\nbackup   %s", k, v, want)
		}
	}
	for k := range backedUp {
		if _, ok := restored[k]; !ok && !skipped(k) {
			t.Errorf("the backup's %s was not restored", k)
		}
	}
	if restoreEvents != 1 {
		t.Errorf("restored store has %d backup.restore audit events, want 1", restoreEvents)
	}
}

// get returns the body of a GET as the owner.
func (m *mdm) get(path string) string {
	m.t.Helper()
	resp, body := m.do("GET", path, ownerSecret, "")
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	return body
}

// checkSameInstallation checks what users and devices see of a restored
// installation: the root, the assertion keys, the devices, the owner token,
// and enrolled devices' certificates (revoked ones stay revoked).
func checkSameInstallation(t *testing.T, orig, restored *mdm, activeAgent, revokedAgent string) {
	t.Helper()
	if restored.fp != orig.fp {
		t.Errorf("restored root fingerprint %s, original %s", restored.fp, orig.fp)
	}
	if a, b := orig.get("/.well-known/portier/jwks.json"), restored.get("/.well-known/portier/jwks.json"); a != b {
		t.Errorf("assertion keys differ:\noriginal %s\nrestored %s", a, b)
	}
	if a, b := orig.get("/api/v1/devices"), restored.get("/api/v1/devices"); a != b {
		t.Errorf("devices differ:\noriginal %s\nrestored %s", a, b)
	}
	if code, body := restored.deviceCall(deviceClient(t, activeAgent), "GET", "/api/v1/agent/profile", nil); code != 200 {
		t.Errorf("enrolled device on the restored server: %d %s", code, body)
	}
	if code, body := restored.deviceCall(deviceClient(t, revokedAgent), "GET", "/api/v1/agent/profile", nil); code != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("revoked device on the restored server: %d %s", code, body)
	}
}

// enrollTwo enrolls two devices and revokes the second, returning their
// state dirs.
func enrollTwo(t *testing.T, m *mdm) (active, revoked string) {
	t.Helper()
	active, revoked = filepath.Join(t.TempDir(), "agent1"), filepath.Join(t.TempDir(), "agent2")
	m.enroll(active, "corporate")
	id := m.enroll(revoked, "cope")
	var act struct{ Status string }
	if code := m.api("POST", "/api/v1/devices/"+id+"/actions", `{"type":"revoke","params":{"reason":"stolen"}}`, &act); code != 201 {
		t.Fatalf("revoke: %d %+v", code, act)
	}
	return active, revoked
}
