package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/boltstore"
)

// embeddedBackup makes a data dir with a real CA and a device, and a
// backup of it; it returns the backup's path and the CA's fingerprint.
func embeddedBackup(t *testing.T) (string, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	be, err := boltstore.Open(filepath.Join(dir, storeFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, be, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := ca.New(ctx, ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: filepath.Join(dir, caDirName)}, Clock: time.Now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := st.Write(ctx, store.Put(&store.Device{ID: "d1", Serial: "SN1"}),
		store.Put(&store.User{ID: "u1", Email: "kim@example.com"}),
		store.Put(&store.IdentityLink{ID: store.LinkID("https://idp.example", "sub-kim"), UserID: "u1",
			Issuer: "https://idp.example", Subject: "sub-kim", Method: store.LinkCreated})); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.backup")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := writeBackup(ctx, f, be, backup.BackendBolt, dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	return path, c.Fingerprint()
}

func restoreOpts(dataDir string) RestoreOptions {
	return RestoreOptions{Config: &config.Config{DataDir: dataDir}, Getenv: func(string) string { return "" },
		Clock: time.Now, Log: slog.New(slog.DiscardHandler), Actor: "local:test"}
}

func TestRestoreEmbedded(t *testing.T) {
	path, fp := embeddedBackup(t)
	dst := filepath.Join(t.TempDir(), "new")
	res, err := Restore(context.Background(), restoreOpts(dst), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fingerprint != fp || res.Converted != "" || res.Imported < 3 {
		t.Errorf("result = %+v, want fingerprint %s", res, fp)
	}
	keys, err := (&ca.FileKeyStore{Dir: filepath.Join(dst, caDirName)}).Load(context.Background())
	if err != nil || keys.RootKey == nil {
		t.Fatalf("restored CA: %v", err)
	}
	// The identity links come back: sign-in finds the same accounts.
	be, err := boltstore.Open(filepath.Join(dst, storeFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	st, err := store.Open(context.Background(), be, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if l, ok := st.IdentityLink("https://idp.example", "sub-kim"); !ok || l.UserID != "u1" {
		t.Errorf("restored link = %+v, %v", l, ok)
	}
}

// A restore whose second reading does not match the first (the file was
// replaced meanwhile) fails inside the import's transaction, and takes
// back the CA files and the store file it created.
func TestRestoreRollsBackWhenTheImportFails(t *testing.T) {
	path, _ := embeddedBackup(t)
	plan, err := readPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := planConversion(context.Background(), plan, backup.BackendBolt, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan.sum.SHA256 = "the sum of some other file"
	dst := filepath.Join(t.TempDir(), "new")
	opts := restoreOpts(dst)
	_, err = restoreBolt(context.Background(), dst, path, plan, conv, restoreAudit(opts, plan, conv))
	if err == nil || !strings.Contains(err.Error(), "changed while it was being restored") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(dst)
		t.Errorf("the failed restore left %s with %v", dst, entries)
	}
}

func TestRestoreRefusesUnknownFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd.backup")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := backup.NewWriter(f, backup.Header{CreatedAt: time.Now(), Backend: backup.BackendBolt})
	if err == nil {
		err = w.File("secrets/extra", 0o600, []byte("x"))
	}
	if err == nil {
		_, err = w.Close()
	}
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "new")
	_, err = Restore(context.Background(), restoreOpts(dst), path)
	if err == nil || !strings.Contains(err.Error(), "secrets/extra") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("the refused restore created %s", dst)
	}
}

// A restore killed before its transaction committed leaves the backup's CA
// files and an empty store: running it again completes it. Another CA in
// the data dir is refused.
func TestRestoreAfterAnInterruptedOne(t *testing.T) {
	path, fp := embeddedBackup(t)
	plan, err := readPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := planConversion(context.Background(), plan, backup.BackendBolt, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "interrupted")
	if err := (&ca.FileKeyStore{Dir: filepath.Join(dst, caDirName)}).Create(context.Background(), conv.keys); err != nil {
		t.Fatal(err)
	}
	res, err := Restore(context.Background(), restoreOpts(dst), path)
	if err != nil || res.Fingerprint != fp {
		t.Fatalf("restore over its own CA files: %v", err)
	}

	other, _ := embeddedBackup(t)
	dst2 := filepath.Join(t.TempDir(), "other")
	if err := (&ca.FileKeyStore{Dir: filepath.Join(dst2, caDirName)}).Create(context.Background(), conv.keys); err != nil {
		t.Fatal(err)
	}
	_, err = Restore(context.Background(), restoreOpts(dst2), other)
	if !errors.Is(err, store.ErrNotEmpty) || !strings.Contains(err.Error(), "another CA") {
		t.Errorf("restore over another CA: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst2, storeFileName)); !os.IsNotExist(err) {
		t.Errorf("the refused restore created a store file: %v", err)
	}
}
