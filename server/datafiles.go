package server

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/ca"
)

// The data dir, inventoried for backups. What serve keeps there:
//
//   - portier.db: the embedded store. A backup carries its records, read
//     from one snapshot, not the file.
//   - ca/: the CA written by ca.FileKeyStore on the embedded store. A
//     backup carries these files (root.key only if the operator has not
//     moved it offline).
//   - backup.sock: the running server's backup socket; never backed up.
//   - .write-test-*, .ca.new-*, .backup-sock-*: transient; never backed up.
//
// On PostgreSQL the data dir holds nothing serve needs: the CA is sealed in
// the database.
const (
	storeFileName     = "portier.db"
	caDirName         = "ca"
	caRootCertPath    = caDirName + "/" + ca.RootCertFile
	caRootKeyPath     = caDirName + "/" + ca.RootKeyFile
	caInterCertPath   = caDirName + "/" + ca.IntermediateCertFile
	caInterKeyPath    = caDirName + "/" + ca.IntermediateKeyFile
	assertionKeysBlob = assertion.BlobID
)

// caFile is one file of the embedded CA.
type caFile struct {
	path     string // slash-separated, relative to the data dir
	required bool   // root.key may be offline
}

func caFiles() []caFile {
	return []caFile{
		{caRootCertPath, true},
		{caRootKeyPath, false},
		{caInterCertPath, true},
		{caInterKeyPath, true},
	}
}

// readCAFiles reads the embedded CA's files from the data dir, by path.
func readCAFiles(dataDir string) (map[string]dataFile, error) {
	out := map[string]dataFile{}
	for _, f := range caFiles() {
		path := filepath.Join(dataDir, filepath.FromSlash(f.path))
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) && !f.required {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("data dir: the CA file %s: %w", path, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("data dir: the CA file %s is not a regular file", path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		out[f.path] = dataFile{mode: fi.Mode().Perm(), data: data}
	}
	return out, nil
}

// dataFile is a file's mode and content.
type dataFile struct {
	mode fs.FileMode
	data []byte
}

// isCAFile reports whether path is one of the CA files a backup may hold.
func isCAFile(path string) bool {
	for _, f := range caFiles() {
		if f.path == path {
			return true
		}
	}
	return false
}

// parseCAFiles turns the CA files of a backup into keys, checking that they
// belong together, as ca.FileKeyStore would when serve starts.
func parseCAFiles(files map[string]dataFile) (*ca.Keys, error) {
	for _, f := range caFiles() {
		if _, ok := files[f.path]; f.required && !ok {
			return nil, fmt.Errorf("the backup lacks the CA file %s", f.path)
		}
	}
	k := &ca.Keys{}
	var err error
	if k.Root, err = parseCert(caRootCertPath, files[caRootCertPath].data); err != nil {
		return nil, err
	}
	if k.Intermediate, err = parseCert(caInterCertPath, files[caInterCertPath].data); err != nil {
		return nil, err
	}
	if k.IntermediateKey, err = parseKey(caInterKeyPath, files[caInterKeyPath].data); err != nil {
		return nil, err
	}
	if f, ok := files[caRootKeyPath]; ok {
		if k.RootKey, err = parseKey(caRootKeyPath, f.data); err != nil {
			return nil, err
		}
	}
	if err := checkKeys(k); err != nil {
		return nil, fmt.Errorf("the backup's CA files do not belong together: %w", err)
	}
	return k, nil
}

func pemBlock(name string, data []byte, typ string) ([]byte, error) {
	b, rest := pem.Decode(data)
	if b == nil || b.Type != typ || len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("the backup's %s is not one PEM block of type %q", name, typ)
	}
	return b.Bytes, nil
}

func parseCert(name string, data []byte) (*x509.Certificate, error) {
	der, err := pemBlock(name, data, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("the backup's %s: %w", name, err)
	}
	return c, nil
}

func parseKey(name string, data []byte) (crypto.Signer, error) {
	der, err := pemBlock(name, data, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("the backup's %s is not a PKCS#8 or EC private key", name)
}

// checkKeys checks what ca.FileKeyStore checks at load.
func checkKeys(k *ca.Keys) error {
	if !k.Root.IsCA || !k.Intermediate.IsCA {
		return errors.New("root and intermediate must be CA certificates")
	}
	if err := k.Intermediate.CheckSignatureFrom(k.Root); err != nil {
		return fmt.Errorf("the intermediate is not signed by the root: %w", err)
	}
	if !samePublic(k.Intermediate.PublicKey, k.IntermediateKey.Public()) {
		return errors.New("the intermediate key does not match the intermediate certificate")
	}
	if k.RootKey != nil && !samePublic(k.Root.PublicKey, k.RootKey.Public()) {
		return errors.New("the root key does not match the root certificate")
	}
	return nil
}

func samePublic(a, b crypto.PublicKey) bool {
	ab, err1 := x509.MarshalPKIXPublicKey(a)
	bb, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}
