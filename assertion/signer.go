package assertion

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/portier/portier/store"
)

// BlobID is the store blob holding the signing key set (sealed; the id is
// also the seal's additional data, so backups re-seal it under this id).
const BlobID = "assertion/keys"

// MaxTTL is the longest lifetime of an assertion.
const MaxTTL = 5 * time.Minute

// Sealer encrypts key material at rest (PostgreSQL); nil stores it as is
// (the embedded store is a 0600 file in the 0700 data dir).
// (Same method set as identity.Sealer.)
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Options configure a Signer.
type Options struct {
	Store *store.Store
	Clock func() time.Time
	Log   *slog.Logger
	// Rotation is how long a key signs before the next one takes over (default 30 days).
	Rotation time.Duration
	// PublishAhead is how long a new key is published before it signs
	// (default 1 hour): longer than any verifier's JWKS cache.
	PublishAhead time.Duration
	Sealer       Sealer
}

// Signer signs assertions with the current key. Safe for concurrent use.
type Signer struct {
	opts  Options
	state atomic.Pointer[keyState]
}

type keyState struct {
	raw     []byte // the stored blob, to notice changes by other replicas
	keys    []*key
	current *key
	header  string // base64url JOSE header of current
	jwks    []byte
}

// New loads the key set from the store, creating the first key if there is none.
func New(ctx context.Context, opts Options) (*Signer, error) {
	if opts.Rotation <= 0 {
		opts.Rotation = 30 * 24 * time.Hour
	}
	if opts.PublishAhead <= 0 {
		opts.PublishAhead = time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Signer{opts: opts}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Refresh reloads the key set if another replica changed it, and rotates
// when a rotation is due. Run calls it periodically.
func (s *Signer) Refresh(ctx context.Context) error {
	now := s.opts.Clock()
	keys, raw, err := s.load()
	if err != nil {
		return err
	}
	next, changed := plan(keys, now, s.opts.Rotation, s.opts.PublishAhead)
	if changed {
		if next == nil {
			return errors.New("assertion: no signing key")
		}
		if err := s.save(ctx, next, len(keys) == 0); err != nil {
			return err
		}
		return s.Refresh(ctx) // adopt whatever won a race
	}
	if st := s.state.Load(); st != nil && bytes.Equal(st.raw, raw) && st.current == current(keys, now) {
		return nil
	}
	return s.adopt(keys, raw, now)
}

// plan returns the key set after adding a first or next key and dropping
// keys no token can still need; changed is false when nothing is to do.
func plan(keys []*key, now time.Time, rotation, ahead time.Duration) ([]*key, bool) {
	if len(keys) == 0 {
		k, err := newKey(now, now)
		if err != nil {
			return nil, true
		}
		return []*key{k}, true
	}
	changed := false
	cur := current(keys, now)
	newest := keys[len(keys)-1]
	if newest == cur && now.After(cur.NotBefore.Add(rotation-ahead)) {
		if k, err := newKey(now, now.Add(ahead)); err == nil {
			keys = append(keys, k)
			changed = true
		}
	}
	// Keep a key published while a token it signed can still be valid.
	var kept []*key
	for i, k := range keys {
		if k != cur && i+1 < len(keys) && keys[i+1].NotBefore.Add(MaxTTL+time.Minute).Before(now) && k.NotBefore.Before(cur.NotBefore) {
			changed = true
			continue
		}
		kept = append(kept, k)
	}
	return kept, changed
}

// current is the newest key whose NotBefore has passed.
func current(keys []*key, now time.Time) *key {
	var cur *key
	for _, k := range keys {
		if !k.NotBefore.After(now) {
			cur = k
		}
	}
	return cur
}

func (s *Signer) load() ([]*key, []byte, error) {
	b, ok := s.opts.Store.Blob(BlobID)
	if !ok {
		return nil, nil, nil
	}
	data := b.Data
	if s.opts.Sealer != nil {
		var err error
		if data, err = s.opts.Sealer.Open(b.Data, []byte(BlobID)); err != nil {
			return nil, nil, fmt.Errorf("assertion: cannot open the signing keys (wrong key password?): %w", err)
		}
	}
	keys, err := unmarshalKeys(data)
	return keys, b.Data, err
}

func (s *Signer) save(ctx context.Context, keys []*key, first bool) error {
	data, err := marshalKeys(keys)
	if err != nil {
		return err
	}
	if s.opts.Sealer != nil {
		if data, err = s.opts.Sealer.Seal(data, []byte(BlobID)); err != nil {
			return err
		}
	}
	op := store.Put(&store.Blob{ID: BlobID, Data: data})
	if first {
		op = store.Create(&store.Blob{ID: BlobID, Data: data})
	}
	err = s.opts.Store.Write(ctx, op)
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	if err == nil {
		s.opts.Log.Info("assertion: signing keys updated", "keys", len(keys))
	}
	return err
}

func (s *Signer) adopt(keys []*key, raw []byte, now time.Time) error {
	cur := current(keys, now)
	if cur == nil {
		return errors.New("assertion: no key is valid yet")
	}
	set := JWKS{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return err
	}
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": cur.ID})
	s.state.Store(&keyState{raw: raw, keys: keys, current: cur, header: base64.RawURLEncoding.EncodeToString(h), jwks: jwks})
	return nil
}

// Run refreshes the keys every 30 seconds until ctx ends.
func (s *Signer) Run(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil {
				s.opts.Log.Error("assertion: key refresh failed", "err", err)
			}
		}
	}
}

// JWKS returns the published key set as JSON.
func (s *Signer) JWKS() []byte { return s.state.Load().jwks }

// Sign returns a compact JWS (ES256) over claims.
func (s *Signer) Sign(claims any) (string, error) {
	st := s.state.Load()
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(st.header)+1+enc.EncodedLen(len(payload))+1+86)
	buf = append(buf, st.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sum := sha256.Sum256(buf)
	r, sig, err := ecdsa.Sign(rand.Reader, st.current.priv, sum[:])
	if err != nil {
		return "", err
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, raw)
	return string(buf), nil
}
