package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/portier/portier/server"
)

// writeBackupFile creates path with the output of write, so that the file
// appears complete or not at all: write goes to a 0600 temporary file
// beside it, which is synced and then linked to path. An existing path is
// never overwritten, not even one created while the backup ran.
func writeBackupFile(path string, write func(io.Writer) (*server.BackupResult, error)) (*server.BackupResult, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite it (choose a new name, e.g. with the date)", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create the backup file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the link, only the temporary name goes
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	res, err := write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s appeared while the backup ran: refusing to overwrite it", path)
		}
		// A file system without hard links: rename, after one more check.
		if _, serr := os.Lstat(path); serr == nil {
			return nil, fmt.Errorf("%s appeared while the backup ran: refusing to overwrite it", path)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, fmt.Errorf("cannot create the backup file: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return res, nil
}
