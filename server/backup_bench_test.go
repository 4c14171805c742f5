package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

const benchFleet = 100_000

// benchDataDir is an embedded data dir with a CA and benchFleet devices.
func benchDataDir(b *testing.B) (string, *boltstore.DB) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	be, err := boltstore.Open(filepath.Join(dir, storeFileName))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, be, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	c, err := ca.New(ctx, ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: filepath.Join(dir, caDirName)}, Clock: time.Now, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := storetest.PutLaptops(ctx, st, benchFleet, time.Now()); err != nil {
		b.Fatal(err)
	}
	return dir, be
}

// BenchmarkBackup100k writes a verified-format backup of an embedded
// store holding 100,000 devices (the snapshot read, encoding, compression
// and checksum), to a file.
func BenchmarkBackup100k(b *testing.B) {
	dir, be := benchDataDir(b)
	out := filepath.Join(b.TempDir(), "b.backup")
	var size int64
	for b.Loop() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := writeBackup(context.Background(), f, be, backup.BackendBolt, dir, time.Now()); err != nil {
			b.Fatal(err)
		}
		fi, _ := f.Stat()
		size = fi.Size()
		f.Close()
	}
	b.ReportMetric(float64(size)/benchFleet, "bytes/device")
}

// BenchmarkRestore100k restores that backup into an empty data dir: both
// passes over the file (verify, then import in one transaction) and the
// fsynced commit.
func BenchmarkRestore100k(b *testing.B) {
	dir, be := benchDataDir(b)
	path := filepath.Join(b.TempDir(), "b.backup")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := writeBackup(context.Background(), f, be, backup.BackendBolt, dir, time.Now()); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for b.Loop() {
		dst := filepath.Join(b.TempDir(), "restored")
		if _, err := Restore(context.Background(), restoreOpts(dst), path); err != nil {
			b.Fatal(err)
		}
	}
}
