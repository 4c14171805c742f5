package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/portier/portier/acme"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
)

// restorePlan is what the first, verifying pass over a backup learns: the
// header and summary of a file known to be intact, and the few small items
// a conversion between backends needs. Records themselves are not kept.
type restorePlan struct {
	header backup.Header
	sum    backup.Summary
	files  map[string]dataFile // the CA files of an embedded-store backup
	blobs  map[string][]byte   // the secret-holding blobs, by id
	// refreshed are the sessions holding a sealed IdP refresh token, by id.
	refreshed map[string]bool
	// acme counts the ACME storage's blobs (acme.BlobPrefix).
	acme int
}

// secretBlobs are the blobs a conversion between backends reads or replaces.
func secretBlobs() []string {
	return []string{ca.SealedKeysBlob, sealSaltBlob, assertionKeysBlob, identity.SealKeyBlob}
}

// readPlan reads the whole backup at path and checks it: the checksum, the
// counts, that every record decodes as this Portier's record of its kind,
// and that the files are the embedded CA's. Nothing is written.
func readPlan(path string) (*restorePlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	p := &restorePlan{files: map[string]dataFile{}, blobs: map[string][]byte{}, refreshed: map[string]bool{}}
	wanted := map[string]bool{}
	for _, id := range secretBlobs() {
		wanted[id] = true
	}
	h, sum, err := backup.Verify(f, func(e backup.Entry) error {
		if fl := e.File; fl != nil {
			if !isCAFile(fl.Path) {
				return fmt.Errorf("restore: the backup holds the file %s, which this Portier does not know: restore with the Portier that wrote it", fl.Path)
			}
			p.files[fl.Path] = dataFile{mode: fl.Mode, data: fl.Data}
			return nil
		}
		r := e.Record
		rec, err := store.Decode(r.Kind, r.Value)
		if err != nil {
			return fmt.Errorf("restore: the backup's record %s/%s cannot be read by this Portier: %w", r.Kind, r.ID, err)
		}
		if rec.Key() != r.ID {
			return fmt.Errorf("restore: the backup's record %s/%s holds the id %q", r.Kind, r.ID, rec.Key())
		}
		if r.Kind == store.KindBlob && wanted[r.ID] {
			p.blobs[r.ID] = r.Value
		}
		if r.Kind == store.KindBlob && strings.HasPrefix(r.ID, acme.BlobPrefix) {
			p.acme++
		}
		if s, ok := rec.(*store.Session); ok && len(s.RefreshEnc) > 0 {
			p.refreshed[s.ID] = true
		}
		return nil
	})
	if err != nil {
		return nil, annotate(path, err)
	}
	p.header, p.sum = h, sum
	if h.Backend == backup.BackendBolt && len(p.files) == 0 {
		return nil, fmt.Errorf("restore: %s is a backup of an embedded store without its CA files", path)
	}
	if h.Backend == backup.BackendPostgres && len(p.files) > 0 {
		return nil, fmt.Errorf("restore: %s is a backup of a PostgreSQL store, which has no CA files, yet holds some", path)
	}
	return p, nil
}

// blob decodes a secret blob's data, nil when the backup has none.
func (p *restorePlan) blob(id string) ([]byte, error) {
	v, ok := p.blobs[id]
	if !ok {
		return nil, nil
	}
	r, err := store.Decode(store.KindBlob, v)
	if err != nil {
		return nil, err
	}
	return r.(*store.Blob).Data, nil
}

// annotate names the file in a backup format error and says that nothing
// was written.
func annotate(path string, err error) error {
	for _, e := range []error{backup.ErrNotBackup, backup.ErrVersion, backup.ErrTruncated, backup.ErrChecksum, backup.ErrCorrupt} {
		if errors.Is(err, e) {
			return fmt.Errorf("restore: %s: %w; nothing was restored", path, err)
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("restore: %s: %w", path, backup.ErrTruncated)
	}
	return err
}
