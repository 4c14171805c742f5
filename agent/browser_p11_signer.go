package agent

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Public is the token key's public key.
func (s *tokenSigner) Public() crypto.PublicKey { return s.pub }

// Sign has the TPM sign digest through the token (mechanism ECDSA on the
// SHA-256 digest) and checks the signature before handing it back.
func (s *tokenSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, fmt.Errorf("the TPM browser key signs SHA-256 digests, not %v", opts.HashFunc())
	}
	in, out := filepath.Join(s.dir, "digest"), filepath.Join(s.dir, "signature")
	if err := writePersonFiles(s.dir, s.u, s.k.Chown, map[string][]byte{"digest": digest}); err != nil {
		return nil, err
	}
	if _, err := s.k.pkcs11(s.ctx, s.u, "--sign", "--mechanism", "ECDSA", "--label", s.label,
		"--signature-format", "openssl", "--input-file", in, "--output-file", out); err != nil {
		return nil, err
	}
	sig, err := readPersonFile(out, s.u)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(out)
	if !ecdsa.VerifyASN1(s.pub, digest, sig) {
		return nil, errors.New("the token's signature does not verify with its public key")
	}
	return sig, nil
}

// writePersonFiles writes files (0600) into dir for the person's tools,
// giving them to the person.
func writePersonFiles(dir string, u LocalUser, chown func(string, int, int) error, files map[string][]byte) error {
	if chown == nil {
		chown = os.Chown
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		_ = os.Remove(p)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if !u.AsAgent {
			if err := chown(p, u.UID, u.GID); err != nil {
				return err
			}
		}
	}
	return nil
}
