package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/pgstore"
)

// BackupOptions are what Backup needs.
type BackupOptions struct {
	Config *config.Config
	Clock  func() time.Time
	Log    *slog.Logger
}

// BackupResult describes a backup that was written and verified.
type BackupResult struct {
	Header  backup.Header
	Summary backup.Summary
	// Via says how the snapshot was read: through the running server's
	// backup socket, from the store file, or from PostgreSQL.
	Via string
}

// Backup writes a consistent backup of the configured store to w. On the
// embedded store it asks the running server through its backup socket
// (the server holds the store file's lock); with no server running it opens
// the store file itself. On PostgreSQL it reads the database directly.
// Everything written to w is read back as it is written, so a backup that
// returns without error is known to be complete and intact.
func Backup(ctx context.Context, o BackupOptions, w io.Writer) (*BackupResult, error) {
	v := newVerifier(w)
	via, err := produceBackup(ctx, o, v)
	h, sum, verr := v.finish(err)
	if err != nil {
		return nil, err
	}
	if verr != nil {
		hint := ""
		if strings.Contains(via, BackupSocketName) {
			hint = " (the server stopped or failed while streaming it: see its log)"
		}
		return nil, fmt.Errorf("backup: the backup read back is not valid%s: %w", hint, verr)
	}
	return &BackupResult{Header: h, Summary: sum, Via: via}, nil
}

func produceBackup(ctx context.Context, o BackupOptions, w io.Writer) (string, error) {
	cfg := o.Config
	if cfg.Store != "" {
		db, err := pgstore.Open(ctx, cfg.Store, o.Log)
		if err != nil {
			return "", err
		}
		defer db.Close()
		_, err = writeBackup(ctx, w, db, backup.BackendPostgres, "", o.Clock())
		return "PostgreSQL", err
	}
	sock := filepath.Join(cfg.DataDir, BackupSocketName)
	err := backupFromSocket(ctx, sock, w)
	if !errors.Is(err, errNoServer) {
		return "the running server's backup socket " + sock, err
	}
	path := filepath.Join(cfg.DataDir, storeFileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("backup: no Portier store at %s: check --data-dir", path)
	}
	db, err := boltstore.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w; and no server answers on %s (a Portier older than this one?): stop it to back up, or upgrade it", err, sock)
	}
	defer db.Close()
	_, err = writeBackup(ctx, w, db, backup.BackendBolt, cfg.DataDir, o.Clock())
	return "the store file " + path, err
}

// writeBackup writes one backup from one snapshot of snap. For the
// embedded store it adds the CA files of dataDir, read first so a missing
// file fails the backup before the snapshot starts.
func writeBackup(ctx context.Context, w io.Writer, snap store.Snapshotter, backend, dataDir string, now time.Time) (backup.Summary, error) {
	var files map[string]dataFile
	if backend == backup.BackendBolt {
		var err error
		if files, err = readCAFiles(dataDir); err != nil {
			return backup.Summary{}, fmt.Errorf("backup: %w", err)
		}
	}
	var bw *backup.Writer
	err := snap.Snapshot(ctx, func(seq uint64) error {
		var err error
		bw, err = backup.NewWriter(w, backup.Header{CreatedAt: now.UTC(), Backend: backend, Seq: seq, PortierVersion: buildVersion()})
		return err
	}, func(c store.Change) error {
		return bw.Record(c.Kind, c.ID, c.Value)
	})
	if err != nil {
		return backup.Summary{}, fmt.Errorf("backup: %w", err)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if err := bw.File(p, files[p].mode, files[p].data); err != nil {
			return backup.Summary{}, err
		}
	}
	return bw.Close()
}

// buildVersion names the running build for backup headers.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

// verifier passes a backup on to w and reads it back at the same time.
type verifier struct {
	w    io.Writer
	pw   *io.PipeWriter
	done chan verified
}

type verified struct {
	h   backup.Header
	sum backup.Summary
	err error
}

func newVerifier(w io.Writer) *verifier {
	pr, pw := io.Pipe()
	v := &verifier{w: w, pw: pw, done: make(chan verified, 1)}
	go func() {
		h, sum, err := backup.Verify(pr, nil)
		if err != nil {
			// Unblock the producer: its next write fails with this.
			pr.CloseWithError(fmt.Errorf("the backup read back is not valid: %w", err))
		}
		v.done <- verified{h, sum, err}
	}()
	return v
}

// Write writes p to the destination and to the reader.
func (v *verifier) Write(p []byte) (int, error) {
	n, err := v.w.Write(p)
	if err != nil {
		return n, err
	}
	if _, err := v.pw.Write(p[:n]); err != nil {
		return n, err
	}
	return n, nil
}

// finish ends the stream (with cause, if the producer failed) and returns
// what the reader found.
func (v *verifier) finish(cause error) (backup.Header, backup.Summary, error) {
	v.pw.CloseWithError(cause) // nil cause: a clean EOF
	r := <-v.done
	return r.h, r.sum, r.err
}
