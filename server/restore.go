package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/pgstore"
)

// RestoreOptions are what Restore needs.
type RestoreOptions struct {
	Config *config.Config
	Getenv func(string) string // for PORTIER_CA_KEY_PASSWORD
	Clock  func() time.Time
	Log    *slog.Logger
	// Actor names who restores, for the audit event ("local:alice").
	Actor string
}

// RestoreResult describes a finished restore.
type RestoreResult struct {
	Header  backup.Header
	Summary backup.Summary
	Target  string // the data dir or the PostgreSQL server
	// Imported is the number of records written, the audit event included.
	Imported int
	// Fingerprint is the restored root's SHA-256 fingerprint, as serve
	// prints it.
	Fingerprint string
	Converted   string   // "bolt -> postgres" for a move between backends
	Notes       []string // what a conversion could not carry over
}

// Restore restores the backup file at path into the configured store,
// which must be empty. It reads the file twice: first to verify all of it
// (checksum, format, every record) before anything is written, then to
// import it in one transaction that commits only if the second reading
// verifies the same. The CA files of an embedded target are written before
// that transaction and removed again if it fails.
func Restore(ctx context.Context, o RestoreOptions, path string) (*RestoreResult, error) {
	plan, err := readPlan(path)
	if err != nil {
		return nil, err
	}
	cfg := o.Config
	target := backup.BackendBolt
	if cfg.Store != "" {
		target = backup.BackendPostgres
	}
	conv, err := planConversion(ctx, plan, target, func() ([]byte, error) {
		return ca.KeyPassword(o.Getenv("PORTIER_CA_KEY_PASSWORD"), cfg.CA.KeyPasswordFile)
	})
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{Header: plan.header, Summary: plan.sum, Converted: conv.name, Notes: conv.notes}
	sum := sha256.Sum256(conv.keys.Root.Raw)
	res.Fingerprint = hex.EncodeToString(sum[:])
	audit := restoreAudit(o, plan, conv)
	if target == backup.BackendPostgres {
		res.Target = "the PostgreSQL database"
		res.Imported, err = restorePostgres(ctx, o, path, plan, conv, audit)
	} else {
		res.Target = "the data dir " + cfg.DataDir
		res.Imported, err = restoreBolt(ctx, cfg.DataDir, path, plan, conv, audit)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// restoreAudit is the audit event written with the restored records.
func restoreAudit(o RestoreOptions, p *restorePlan, c *conversion) *store.AuditEvent {
	ev := store.NewAuditEvent(o.Clock(), o.Actor, "backup.restore", "")
	ev.Detail = map[string]string{
		"backup_sha256":     p.sum.SHA256,
		"backup_created_at": p.header.CreatedAt.UTC().Format(time.RFC3339),
		"source_backend":    p.header.Backend,
		"source_seq":        strconv.FormatUint(p.header.Seq, 10),
		"records":           strconv.Itoa(p.sum.Records),
	}
	if c.name != "" {
		ev.Detail["converted"] = c.name
	}
	return ev
}

func restorePostgres(ctx context.Context, o RestoreOptions, path string, p *restorePlan, c *conversion, audit *store.AuditEvent) (int, error) {
	db, err := pgstore.Open(ctx, o.Config.Store, o.Log)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer db.Close()
	if err := refuseNonEmpty(ctx, db, "the PostgreSQL database"); err != nil {
		return 0, err
	}
	return importBackup(ctx, db, path, p, c, audit)
}

// restoreBolt restores into the data dir: the CA files, then the store
// file. On failure it removes what it created.
func restoreBolt(ctx context.Context, dataDir, path string, p *restorePlan, c *conversion, audit *store.AuditEvent) (n int, err error) {
	caDir := filepath.Join(dataDir, caDirName)
	writeCA, err := needCAFiles(ctx, caDir, c.keys)
	if err != nil {
		return 0, err
	}
	_, statErr := os.Stat(dataDir)
	madeDir := errors.Is(statErr, fs.ErrNotExist)
	if err := prepareDataDir(dataDir); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	dbPath := filepath.Join(dataDir, storeFileName)
	_, statErr = os.Stat(dbPath)
	madeDB := errors.Is(statErr, fs.ErrNotExist)
	var db *boltstore.DB
	madeCA := false
	defer func() {
		if db != nil {
			db.Close()
		}
		if err == nil {
			return
		}
		if madeCA {
			os.RemoveAll(caDir)
		}
		if madeDB {
			os.Remove(dbPath)
		}
		if madeDir {
			os.Remove(dataDir) // only if empty
		}
	}()
	if db, err = boltstore.Open(dbPath); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	if err := refuseNonEmpty(ctx, db, "the data dir "+dataDir); err != nil {
		return 0, err
	}
	if writeCA {
		if err := (&ca.FileKeyStore{Dir: caDir}).Create(ctx, c.keys); err != nil {
			return 0, fmt.Errorf("restore: write the CA files: %w", err)
		}
		madeCA = true
	}
	return importBackup(ctx, db, path, p, c, audit)
}

// needCAFiles reports whether the CA files must be written. A data dir
// without them needs them; one holding exactly the backup's CA (what a
// restore killed before its transaction committed leaves behind) can take
// the restore as it is; any other CA makes the data dir not empty.
func needCAFiles(ctx context.Context, caDir string, keys *ca.Keys) (bool, error) {
	have, err := (&ca.FileKeyStore{Dir: caDir}).Load(ctx)
	switch {
	case errors.Is(err, ca.ErrNoKeys):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("restore: %s holds CA files that cannot be used (%v): %w; nothing was changed", caDir, err, store.ErrNotEmpty)
	case !sameKeys(have, keys):
		return false, fmt.Errorf("restore: the data dir is not empty: %s holds another CA: %w; "+
			"a restore only goes into an empty data dir or database, so nothing was changed", caDir, store.ErrNotEmpty)
	}
	return false, nil
}

// sameKeys reports whether two CAs are the same certificates and keys.
func sameKeys(a, b *ca.Keys) bool {
	der := func(k crypto.Signer) string {
		if k == nil {
			return ""
		}
		d, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "unencodable"
		}
		return string(d)
	}
	return bytes.Equal(a.Root.Raw, b.Root.Raw) && bytes.Equal(a.Intermediate.Raw, b.Intermediate.Raw) &&
		der(a.RootKey) == der(b.RootKey) && der(a.IntermediateKey) == der(b.IntermediateKey)
}

// refuseNonEmpty fails, naming a record, when the target holds any.
func refuseNonEmpty(ctx context.Context, snap store.Snapshotter, what string) error {
	var found string
	errFound := errors.New("found")
	err := snap.Snapshot(ctx, func(uint64) error { return nil }, func(c store.Change) error {
		found = string(c.Kind) + "/" + c.ID
		return errFound
	})
	if errors.Is(err, errFound) {
		return fmt.Errorf("restore: %s is not empty (it holds %s and maybe more): %w; "+
			"a restore only goes into an empty data dir or database, so nothing was changed", what, found, store.ErrNotEmpty)
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// importBackup reads the file a second time and imports it in one
// transaction, which commits only if this reading ends with the checksum
// the first one verified.
func importBackup(ctx context.Context, imp store.Importer, path string, p *restorePlan, c *conversion, audit *store.AuditEvent) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	rd, err := backup.NewReader(f)
	if err != nil {
		return 0, annotate(path, err)
	}
	if rd.Header() != p.header {
		return 0, fmt.Errorf("restore: %s changed while it was being restored; nothing was restored", path)
	}
	pending := []store.Record{}
	ended := false
	n := 0
	next := func() (store.Change, error) {
		for {
			if len(pending) > 0 {
				r := pending[0]
				pending = pending[1:]
				v, err := store.Encode(r)
				if err != nil {
					return store.Change{}, err
				}
				n++
				return store.Change{Kind: r.Kind(), ID: r.Key(), Value: v}, nil
			}
			if ended {
				return store.Change{}, io.EOF
			}
			e, err := rd.Next()
			if errors.Is(err, io.EOF) {
				if rd.Summary().SHA256 != p.sum.SHA256 {
					return store.Change{}, fmt.Errorf("restore: %s changed while it was being restored; nothing was restored", path)
				}
				ended = true
				for _, b := range c.add {
					pending = append(pending, b)
				}
				pending = append(pending, audit)
				continue
			}
			if err != nil {
				return store.Change{}, annotate(path, err)
			}
			if e.Record == nil {
				continue // files were handled from the first reading
			}
			ch, keep, err := c.apply(e.Record)
			if err != nil {
				return store.Change{}, fmt.Errorf("restore: %s/%s: %w", e.Record.Kind, e.Record.ID, err)
			}
			if keep {
				n++
				return ch, nil
			}
		}
	}
	if err := imp.Import(ctx, p.header.Seq, next); err != nil {
		if errors.Is(err, store.ErrNotEmpty) {
			return 0, fmt.Errorf("restore: %w; nothing was changed", err)
		}
		return 0, err
	}
	return n, nil
}
