package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

// Sealer encrypts the small secrets Portier keeps on records (IdP refresh
// tokens on sessions). aad binds a sealed value to its record, so it cannot
// be moved to another one.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// SealKeyBlob is the store.Blob id of the default sealer's key, used when
// Options.Sealer is nil: the key then lives in the store next to what it
// seals. Portier's server uses it only on the embedded store (whose file
// sits in the owner-only data dir); on PostgreSQL the server passes a
// Sealer whose key is derived from the CA key password, which the database
// does not hold.
const SealKeyBlob = "identity/seal-key"

// sealVersion is the first byte of every sealed value.
const sealVersion = 1

// aesSealer is AES-256-GCM with a random 96-bit nonce per value.
type aesSealer struct{ aead cipher.AEAD }

var _ Sealer = (*aesSealer)(nil)

// NewAESSealer returns an AES-256-GCM Sealer for a 32-byte key.
func NewAESSealer(key []byte) (Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("identity: a sealing key has 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &aesSealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad: version byte, nonce, ciphertext.
func (a *aesSealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+a.aead.NonceSize(), 1+a.aead.NonceSize()+len(plaintext)+a.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return a.aead.Seal(out, out[1:], plaintext, aad), nil
}

// Open decrypts what Seal made with the same aad.
func (a *aesSealer) Open(sealed, aad []byte) ([]byte, error) {
	n := a.aead.NonceSize()
	if len(sealed) < 1+n+a.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errors.New("identity: not a sealed value")
	}
	return a.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
}

// StoreSealer returns the default sealer: AES-256-GCM under a random key
// created once in the store (blob SealKeyBlob, with store.Create, so
// processes racing on first use end up with one key).
func StoreSealer(ctx context.Context, st *store.Store) (Sealer, error) {
	if b, ok := st.Blob(SealKeyBlob); ok {
		return NewAESSealer(b.Data)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	err := st.Write(ctx, store.Create(&store.Blob{ID: SealKeyBlob, Data: key}))
	if err == nil {
		return NewAESSealer(key)
	}
	if !errors.Is(err, store.ErrExists) {
		return nil, err
	}
	// Another process created it; wait for it to reach this read model.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		changed := st.Changed()
		if b, ok := st.Blob(SealKeyBlob); ok {
			return NewAESSealer(b.Data)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil, errors.New("identity: the sealing key exists but has not reached this process")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Service) getSealer(ctx context.Context) (Sealer, error) {
	s.sealMu.Lock()
	defer s.sealMu.Unlock()
	if s.sealer != nil {
		return s.sealer, nil
	}
	sl, err := StoreSealer(ctx, s.st)
	if err != nil {
		return nil, err
	}
	s.sealer = sl
	return sl, nil
}

// refreshState is what a session keeps (sealed) to refresh itself.
type refreshState struct {
	Token   string    `json:"rt"`
	Subject string    `json:"sub"`
	Expiry  time.Time `json:"exp"`         // the current ID token's expiry
	At      time.Time `json:"at,omitzero"` // when it was last refreshed
}

func refreshAAD(sessionID string) []byte { return []byte("portier refresh v1\x00" + sessionID) }

func (s *Service) sealRefresh(ctx context.Context, sessionID string, r refreshState) ([]byte, error) {
	sl, err := s.getSealer(ctx)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return sl.Seal(b, refreshAAD(sessionID))
}

func (s *Service) openRefresh(ctx context.Context, sess *store.Session) (refreshState, error) {
	var r refreshState
	sl, err := s.getSealer(ctx)
	if err != nil {
		return r, err
	}
	b, err := sl.Open(sess.RefreshEnc, refreshAAD(sess.ID))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}
