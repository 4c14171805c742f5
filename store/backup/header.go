package backup

import (
	"errors"
	"fmt"
	"time"
)

// Format is the header's format name; Version the layout this package
// writes and the newest it reads.
const (
	Format  = "portier-backup"
	Version = 1
)

// Source backends named in the header.
const (
	BackendBolt     = "bolt"     // the embedded single-file store
	BackendPostgres = "postgres" // the shared PostgreSQL store
)

// magic is the file's first line.
const magic = Format + "\n"

// Errors that name what is wrong with a backup file. Every error the
// Reader returns for a bad file wraps one of them.
var (
	ErrNotBackup = errors.New("not a Portier backup file")
	ErrVersion   = errors.New("unsupported backup format version")
	ErrTruncated = errors.New("backup file is truncated")
	ErrChecksum  = errors.New("backup file checksum mismatch: the file is corrupt or was modified")
	ErrCorrupt   = errors.New("backup file is corrupt")
)

// Header describes a backup. It is the file's second line, as JSON.
type Header struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// Backend is the source store: BackendBolt or BackendPostgres. It says
	// how the secrets are kept (see docs/backup.md).
	Backend string `json:"source_backend"`
	// Seq is the store's change sequence the snapshot is consistent at.
	Seq uint64 `json:"store_seq"`
	// PortierVersion is the version of the Portier that wrote the backup.
	PortierVersion string `json:"portier_version,omitempty"`
}

// check validates a header read from a file.
func (h *Header) check() error {
	switch {
	case h.Format != Format:
		return fmt.Errorf("%w: header format is %q, want %q", ErrNotBackup, h.Format, Format)
	case h.Version > Version:
		return fmt.Errorf("%w: the file has version %d, written by a newer Portier (%s); this one reads version %d: upgrade Portier",
			ErrVersion, h.Version, h.PortierVersion, Version)
	case h.Version < 1:
		return fmt.Errorf("%w: version %d", ErrVersion, h.Version)
	case h.CreatedAt.IsZero():
		return fmt.Errorf("%w: header has no created_at", ErrCorrupt)
	case h.Backend != BackendBolt && h.Backend != BackendPostgres:
		return fmt.Errorf("%w: unknown source_backend %q", ErrCorrupt, h.Backend)
	}
	return nil
}

// Summary is what a finished backup holds.
type Summary struct {
	Records int
	Files   int
	Bytes   int64  // size of the file
	SHA256  string // hex, the trailer
}
