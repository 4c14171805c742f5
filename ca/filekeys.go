package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// File names inside a FileKeyStore's directory (backups carry these files).
const (
	RootCertFile         = "root.crt"
	RootKeyFile          = "root.key" // may be absent: the root kept offline
	IntermediateCertFile = "intermediate.crt"
	IntermediateKeyFile  = "intermediate.key"
)

// FileKeyStore keeps the CA as PEM files in one directory (the data dir's
// "ca" folder): root.crt, root.key, intermediate.crt and intermediate.key.
// Keys are written 0600 and the directory 0700. root.key may be removed
// after first start to keep the root offline.
type FileKeyStore struct {
	Dir string
	Log *slog.Logger // optional
}

var _ KeyStore = (*FileKeyStore)(nil)

func (f *FileKeyStore) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}

// Load reads the four files. It returns ErrNoKeys only when none of them
// exists; a partial set or an unreadable file is an error that names the
// files, so New never generates a new CA over existing material.
func (f *FileKeyStore) Load(context.Context) (*Keys, error) {
	// One listing, not a stat per file: a first start renames the complete
	// directory into place, so a listing sees all of it or none of it,
	// where stats one after the other could straddle a racer's rename and
	// report a partial CA that never existed.
	entries, err := os.ReadDir(f.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ca: cannot read CA files in %s: %w", f.Dir, err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	var present, missing []string
	for _, n := range []string{RootCertFile, RootKeyFile, IntermediateCertFile, IntermediateKeyFile} {
		if have[n] {
			present = append(present, n)
		} else {
			missing = append(missing, n)
		}
	}
	if len(present) == 0 {
		return nil, ErrNoKeys
	}
	if len(missing) > 0 && !(len(missing) == 1 && missing[0] == RootKeyFile) {
		return nil, fmt.Errorf("ca: incomplete CA key material in %s: found %s, missing %s. "+
			"Portier will not create a new CA over existing files: restore the missing files from a backup, "+
			"or, only if this CA never issued certificates (an interrupted first start), remove the directory",
			f.Dir, strings.Join(present, ", "), strings.Join(missing, ", "))
	}
	k := &Keys{}
	if k.Root, err = f.readCert(RootCertFile); err != nil {
		return nil, err
	}
	if k.Intermediate, err = f.readCert(IntermediateCertFile); err != nil {
		return nil, err
	}
	if k.IntermediateKey, err = f.readKey(IntermediateKeyFile); err != nil {
		return nil, err
	}
	if len(missing) == 0 {
		if k.RootKey, err = f.readKey(RootKeyFile); err != nil {
			return nil, err
		}
	} else {
		f.log().Info("ca: root key is offline (no root.key); the CA runs on the intermediate", "dir", f.Dir)
	}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("ca: CA files in %s do not belong together: %w", f.Dir, err)
	}
	return k, nil
}

func (f *FileKeyStore) readPEM(name, wantType string) ([]byte, error) {
	path := filepath.Join(f.Dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: read %s: %w", path, err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != wantType || len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("ca: %s is corrupt: want exactly one PEM block of type %q", path, wantType)
	}
	return block.Bytes, nil
}

func (f *FileKeyStore) readCert(name string) (*x509.Certificate, error) {
	der, err := f.readPEM(name, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: %s is corrupt: %w", filepath.Join(f.Dir, name), err)
	}
	return c, nil
}

func (f *FileKeyStore) readKey(name string) (crypto.Signer, error) {
	path := filepath.Join(f.Dir, name)
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		f.log().Warn("ca: private key file is readable by other users; chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
	}
	der, err := f.readPEM(name, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	s, err := parseKey(der)
	if err != nil {
		return nil, fmt.Errorf("ca: %s is corrupt: %w", path, err)
	}
	return s, nil
}

// Create writes the four files into a new sibling directory, then renames
// it to Dir, so the CA appears complete or not at all, even if the process
// dies half-way. If Dir was created meanwhile (a concurrent creator) the
// rename fails and Create returns ErrKeysExist; an existing empty Dir (made
// by the operator) is replaced. Dir ends up with mode 0700.
func (f *FileKeyStore) Create(_ context.Context, k *Keys) error {
	parent := filepath.Dir(filepath.Clean(f.Dir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("ca: create %s: %w", parent, err)
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	tmp := filepath.Join(parent, "."+filepath.Base(f.Dir)+".new-"+hex.EncodeToString(suffix[:]))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("ca: create %s: %w", tmp, err)
	}
	defer os.RemoveAll(tmp) // gone after a successful rename
	if err := writeFiles(tmp, k); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	// Remove only succeeds on an empty directory: never on a racer's CA.
	if err := os.Remove(f.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
		return fmt.Errorf("ca: replace empty %s: %w", f.Dir, err)
	}
	if err := os.Rename(tmp, f.Dir); err != nil {
		if isNotEmpty(err) || errors.Is(err, fs.ErrExist) {
			if _, serr := os.Stat(filepath.Join(f.Dir, IntermediateCertFile)); serr != nil {
				return fmt.Errorf("ca: %s is not empty but holds no CA; empty it or use another data dir", f.Dir)
			}
			return fmt.Errorf("ca: %s: %w", f.Dir, ErrKeysExist)
		}
		return fmt.Errorf("ca: create %s: %w", f.Dir, err)
	}
	return syncDir(parent)
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// writeFiles writes the PEM files of k into dir, fsynced.
func writeFiles(dir string, k *Keys) error {
	type file struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}
	files := []file{
		{RootCertFile, "CERTIFICATE", k.Root.Raw, 0o644},
		{IntermediateCertFile, "CERTIFICATE", k.Intermediate.Raw, 0o644},
	}
	keys := map[string]crypto.Signer{RootKeyFile: k.RootKey, IntermediateKeyFile: k.IntermediateKey}
	for _, name := range []string{RootKeyFile, IntermediateKeyFile} {
		if keys[name] == nil {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(keys[name])
		if err != nil {
			return fmt.Errorf("ca: encode %s: %w", name, err)
		}
		files = append(files, file{name, "PRIVATE KEY", der, 0o600})
	}
	for _, fl := range files {
		path := filepath.Join(dir, fl.name)
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fl.mode)
		if err != nil {
			return fmt.Errorf("ca: write %s: %w", path, err)
		}
		_, err = fh.Write(pem.EncodeToMemory(&pem.Block{Type: fl.typ, Bytes: fl.der}))
		if err == nil {
			err = fh.Sync()
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("ca: write %s: %w", path, err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
