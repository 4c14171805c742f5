package ca

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/portier/portier/store"
)

// SealedKeysBlob is the store.Blob id that holds the sealed CA keys.
const SealedKeysBlob = "ca/keys"

// MinKeyPasswordLen is the shortest accepted CA key password.
const MinKeyPasswordLen = 32

// argon2id parameters for new blobs (RFC 9106, second recommendation).
// They are written into the blob, so they can change without breaking old
// blobs; reading caps them so a tampered blob cannot exhaust memory.
const (
	kdfTime    = 3
	kdfMemory  = 64 * 1024 // KiB
	kdfThreads = 4
	kdfMaxMem  = 1024 * 1024
	sealAAD    = "portier ca keys v1"
)

// SealedKeyStore keeps the CA inside the shared store, encrypted with
// AES-256-GCM under a key derived by argon2id from a password. It is meant
// for the PostgreSQL backend, where every replica must sign with the same
// CA. Creation uses store.Create, so replicas racing on first start end up
// with a single CA.
type SealedKeyStore struct {
	st       *store.Store
	password []byte
	// wait bounds how long Load waits for a blob another replica just
	// created to reach this replica's read model.
	wait time.Duration
	// derive holds keys derived ahead (see UseDerivations); nil: none.
	derive *Derivations
}

var _ KeyStore = (*SealedKeyStore)(nil)

// NewSealedKeyStore returns a key store sealing the CA in st under password
// (at least MinKeyPasswordLen bytes; see KeyPassword).
func NewSealedKeyStore(st *store.Store, password []byte) (*SealedKeyStore, error) {
	if st == nil {
		return nil, errors.New("ca: sealed key store needs a store")
	}
	if len(password) < MinKeyPasswordLen {
		return nil, fmt.Errorf("ca: the CA key password must be at least %d characters (got %d); "+
			"generate one with `openssl rand -base64 32`",
			MinKeyPasswordLen, len(password))
	}
	return &SealedKeyStore{st: st, password: bytes.Clone(password), wait: 10 * time.Second}, nil
}

// UseDerivations makes the key store take its argon2id keys from d when d
// derived them already (or is deriving them) from the same password and
// parameters. It returns s.
func (s *SealedKeyStore) UseDerivations(d *Derivations) *SealedKeyStore {
	s.derive = d
	return s
}

// SealedKDFParams returns the argon2id parameters of a sealed keys blob
// (the data of the SealedKeysBlob record), checked as unsealing checks
// them, so that its key can be derived ahead with Derivations.Start.
func SealedKDFParams(data []byte) (KDFParams, error) {
	sl, err := parseSealed(data)
	if err != nil {
		return KDFParams{}, err
	}
	return sl.params(), nil
}

// KeyPassword returns the CA key password: the contents of keyFile if it is
// set (one trailing newline removed), else password (the value of
// PORTIER_CA_KEY_PASSWORD). Setting neither is an error that says so.
func KeyPassword(password, keyFile string) ([]byte, error) {
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("ca: read CA key file: %w", err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		return b, nil
	}
	if password == "" {
		return nil, errors.New("ca: the CA key password is not set: on the PostgreSQL store the CA keys are sealed with it; " +
			"set PORTIER_CA_KEY_PASSWORD or ca.key_password_file, the same on every replica")
	}
	return []byte(password), nil
}

// sealed is the blob's JSON form.
type sealed struct {
	Version int    `json:"v"`
	KDF     string `json:"kdf"`
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"`
	Threads uint8  `json:"p"`
	Salt    []byte `json:"salt"`
	Nonce   []byte `json:"nonce"`
	Data    []byte `json:"ct"`
}

// keysJSON is the plaintext inside the seal: DER certificates, PKCS#8 keys.
type keysJSON struct {
	Root            []byte `json:"root_crt"`
	RootKey         []byte `json:"root_key,omitempty"`
	Intermediate    []byte `json:"intermediate_crt"`
	IntermediateKey []byte `json:"intermediate_key"`
}

// Load unseals the CA from the store. A wrong password is ErrWrongPassword.
func (s *SealedKeyStore) Load(context.Context) (*Keys, error) {
	b, ok := s.st.Blob(SealedKeysBlob)
	if !ok {
		return nil, ErrNoKeys
	}
	return s.open(b.Data)
}

// Create seals k and writes it with store.Create. If another replica created
// the CA first it returns ErrKeysExist once that blob is visible here.
func (s *SealedKeyStore) Create(ctx context.Context, k *Keys) error {
	data, err := s.seal(k)
	if err != nil {
		return err
	}
	err = s.st.Write(ctx, store.Create(&store.Blob{ID: SealedKeysBlob, Data: data}))
	if !errors.Is(err, store.ErrExists) {
		if err != nil {
			return fmt.Errorf("ca: store sealed CA keys: %w", err)
		}
		return nil
	}
	// The winner's blob is committed but may not have reached this
	// replica's read model yet.
	ctx, cancel := context.WithTimeout(ctx, s.wait)
	defer cancel()
	for {
		changed := s.st.Changed()
		if _, ok := s.st.Blob(SealedKeysBlob); ok {
			return ErrKeysExist
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("ca: another replica created the CA but it did not arrive here: %w", ctx.Err())
		}
	}
}

func (s *SealedKeyStore) seal(k *Keys) ([]byte, error) {
	var kj keysJSON
	kj.Root, kj.Intermediate = k.Root.Raw, k.Intermediate.Raw
	var err error
	if k.RootKey != nil {
		if kj.RootKey, err = x509.MarshalPKCS8PrivateKey(k.RootKey); err != nil {
			return nil, err
		}
	}
	if kj.IntermediateKey, err = x509.MarshalPKCS8PrivateKey(k.IntermediateKey); err != nil {
		return nil, err
	}
	plain, err := json.Marshal(kj)
	if err != nil {
		return nil, err
	}
	sl := sealed{Version: 1, KDF: "argon2id", Time: kdfTime, Memory: kdfMemory, Threads: kdfThreads,
		Salt: make([]byte, 16), Nonce: make([]byte, 12)}
	if _, err := rand.Read(sl.Salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(sl.Nonce); err != nil {
		return nil, err
	}
	aead, err := s.aead(&sl)
	if err != nil {
		return nil, err
	}
	sl.Data = aead.Seal(nil, sl.Nonce, plain, []byte(sealAAD))
	return json.Marshal(sl)
}

func (sl *sealed) params() KDFParams {
	return KDFParams{Salt: sl.Salt, Time: sl.Time, Memory: sl.Memory, Threads: sl.Threads}
}

func (s *SealedKeyStore) aead(sl *sealed) (cipher.AEAD, error) {
	key := s.derive.Key(s.password, sl.params())
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// parseSealed decodes a sealed keys blob and checks its parameters, so
// that a tampered blob cannot make a derivation exhaust memory or time.
func parseSealed(data []byte) (*sealed, error) {
	var sl sealed
	if err := json.Unmarshal(data, &sl); err != nil {
		return nil, fmt.Errorf("ca: sealed CA keys (blob %q) are corrupt: %w", SealedKeysBlob, err)
	}
	switch {
	case sl.Version != 1 || sl.KDF != "argon2id":
		return nil, fmt.Errorf("ca: sealed CA keys use an unknown format (v%d, %q); upgrade Portier", sl.Version, sl.KDF)
	case sl.Time == 0 || sl.Time > 16 || sl.Memory < 8 || sl.Memory > kdfMaxMem || sl.Threads == 0 ||
		len(sl.Salt) < 16 || len(sl.Nonce) != 12:
		return nil, fmt.Errorf("ca: sealed CA keys (blob %q) are corrupt: bad parameters", SealedKeysBlob)
	}
	return &sl, nil
}

func (s *SealedKeyStore) open(data []byte) (*Keys, error) {
	sl, err := parseSealed(data)
	if err != nil {
		return nil, err
	}
	aead, err := s.aead(sl)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, sl.Nonce, sl.Data, []byte(sealAAD))
	if err != nil {
		return nil, fmt.Errorf("ca: blob %q: %w", SealedKeysBlob, ErrWrongPassword)
	}
	var kj keysJSON
	if err := json.Unmarshal(plain, &kj); err != nil {
		return nil, fmt.Errorf("ca: sealed CA keys are corrupt: %w", err)
	}
	k := &Keys{}
	if k.Root, err = x509.ParseCertificate(kj.Root); err != nil {
		return nil, fmt.Errorf("ca: sealed root certificate is corrupt: %w", err)
	}
	if k.Intermediate, err = x509.ParseCertificate(kj.Intermediate); err != nil {
		return nil, fmt.Errorf("ca: sealed intermediate certificate is corrupt: %w", err)
	}
	if k.IntermediateKey, err = parseKey(kj.IntermediateKey); err != nil {
		return nil, fmt.Errorf("ca: sealed intermediate key is corrupt: %w", err)
	}
	if len(kj.RootKey) > 0 {
		if k.RootKey, err = parseKey(kj.RootKey); err != nil {
			return nil, fmt.Errorf("ca: sealed root key is corrupt: %w", err)
		}
	}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("ca: sealed CA keys do not belong together: %w", err)
	}
	return k, nil
}
