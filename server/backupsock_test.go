package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/clocktest"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/boltstore"
)

// socketFixture is a backup socket over a real embedded store in a data dir
// with CA files, without the rest of the server.
func socketFixture(t *testing.T) (*backupSocket, *store.Store, *boltstore.DB, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "ca"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{caRootCertPath, caInterCertPath, caInterKeyPath} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("pem of "+f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A socket left behind by a server that died.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, BackupSocketName), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	if err := backupFromSocket(context.Background(), filepath.Join(dir, BackupSocketName), io.Discard); !errors.Is(err, errNoServer) {
		t.Fatalf("backup from a stale socket: err = %v, want errNoServer", err)
	}

	be, err := boltstore.Open(filepath.Join(dir, storeFileName))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(context.Background(), be, log)
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.At(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	b, err := listenBackupSocket(dir, be, st, clock.Now, log)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	go b.serve()
	t.Cleanup(func() {
		b.close()
		st.Close()
		be.Close()
	})
	return b, st, be, dir
}

func TestBackupSocket(t *testing.T) {
	b, st, _, dir := socketFixture(t)
	fi, err := os.Lstat(b.path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v: mode %v, want a 0600 socket", err, fi.Mode())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".backup-sock-*")); len(leftovers) > 0 {
		t.Errorf("temporary socket dirs left: %v", leftovers)
	}
	if err := st.Write(context.Background(), store.Put(&store.Device{ID: "d1"})); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if err := backupFromSocket(context.Background(), b.path, &buf); err != nil {
		t.Fatalf("backup: %v", err)
	}
	var kinds []string
	h, sum, err := backup.Verify(&buf, func(e backup.Entry) error {
		if e.Record != nil {
			kinds = append(kinds, string(e.Record.Kind))
		}
		return nil
	})
	if err != nil || h.Backend != backup.BackendBolt || sum.Files != 3 {
		t.Fatalf("backup from the socket: %v, %+v, %+v", err, h, sum)
	}
	if strings.Join(kinds, ",") != "device,audit_chain,audit" {
		t.Errorf("records %v, want the device, then the audit log: its chain record and the event", kinds)
	}
	ev := st.Audit()
	if len(ev) != 1 || ev[0].Action != "backup.create" || !strings.HasPrefix(ev[0].Actor, "local:uid=") || !ev[0].At.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("audit = %+v", ev)
	}

	b.busy <- struct{}{}
	err = backupFromSocket(context.Background(), b.path, io.Discard)
	<-b.busy
	if err == nil || !strings.Contains(err.Error(), "another backup is running") {
		t.Errorf("second backup at once: err = %v", err)
	}

	c, err := net.Dial("unix", b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\n")
	answer, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(answer), "ERR unknown request") {
		t.Errorf("a stray request got %q", answer)
	}
}

func TestBackupSocketRefusesWithoutAudit(t *testing.T) {
	b, _, be, _ := socketFixture(t)
	be.Close() // the store can no longer write
	err := backupFromSocket(context.Background(), b.path, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "audit log") {
		t.Errorf("backup without an audit event: err = %v", err)
	}
}

func TestBackupSocketClosedRemovesIt(t *testing.T) {
	b, _, _, _ := socketFixture(t)
	b.close()
	if _, err := os.Lstat(b.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after close: %v", err)
	}
	b.close() // the cleanup closes again
}
