package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/portier/portier/acme"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
)

// The two backends keep their secrets differently:
//
//   - embedded: the CA as files in the data dir (ca.FileKeyStore), the
//     assertion signing keys as a plain blob, IdP refresh tokens sealed
//     under a random key kept as a blob (identity.StoreSealer); all of it
//     protected by the 0700 data dir.
//   - PostgreSQL: the CA sealed in a blob (ca.SealedKeyStore), the
//     assertion keys and refresh tokens sealed under a key derived from
//     the CA key password (sharedSealer), so a database dump alone reveals
//     none of them.
//
// A restore onto the other backend re-keeps the CA and the assertion keys
// the target's way, so serve comes up with the same root and the same
// JWKS. Sealed refresh tokens are bound to the source's key, so the
// sessions holding one (and the route sessions handed off from them) are
// left out: without its refresh token a session would no longer learn
// from the identity provider that its user was removed, so those users
// sign in again instead.

// conversion adapts a backup's records to the target backend.
type conversion struct {
	name         string            // "bolt -> postgres"; "" when none
	keys         *ca.Keys          // the CA (embedded targets write it as files)
	drop         map[string]bool   // blob ids left out
	replace      map[string][]byte // blob id: new data
	add          []*store.Blob     // blobs the target needs that the source has not
	endRefreshed map[string]bool   // sessions (and their route sessions) left out
	dropACME     bool              // the ACME storage's blobs are left out
	notes        []string
}

// planConversion works out the conversion for target before anything is
// written. password returns the CA key password; it is needed whenever
// PostgreSQL is the source or the target, and is checked against the
// backup's sealed keys.
func planConversion(ctx context.Context, p *restorePlan, target string, password func() ([]byte, error)) (*conversion, error) {
	src := p.header.Backend
	c := &conversion{drop: map[string]bool{}, replace: map[string][]byte{}}
	if src == backup.BackendBolt {
		keys, err := parseCAFiles(p.files)
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		c.keys = keys
		if target == backup.BackendBolt {
			return c, nil
		}
	}
	pw, err := password()
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if len(pw) < ca.MinKeyPasswordLen {
		return nil, fmt.Errorf("restore: the CA key password must be at least %d characters", ca.MinKeyPasswordLen)
	}
	switch {
	case src == backup.BackendBolt:
		err = c.sealForPostgres(ctx, p, pw)
	case target == backup.BackendBolt:
		err = c.unsealForBolt(ctx, p, pw)
	default:
		_, err = c.openSealed(ctx, p, pw) // proves the password before writing
	}
	if err != nil {
		return nil, err
	}
	if src != target {
		// The outstanding set-up link is kept the source's way (plain in
		// the 0600 data dir, or sealed); leave it out rather than carry a
		// usable secret unsealed into a database. Serve makes a new one.
		c.drop[setupLinkBlob] = true
		c.name = src + " -> " + target
		c.endRefreshed = p.refreshed
		if p.acme > 0 {
			// Their private keys are sealed under the source's key.
			c.dropACME = true
			c.notes = append(c.notes, fmt.Sprintf("%d ACME entries (certificates, account) left out: their private keys are sealed "+
				"under the source's key; serve obtains new certificates", p.acme))
		}
		if n := len(p.refreshed); n > 0 {
			c.notes = append(c.notes, fmt.Sprintf("%d sessions ended: they were signed in through an identity provider whose refresh token is sealed "+
				"under the source's key; those users sign in again", n))
		}
	}
	return c, nil
}

// sealForPostgres seals the embedded backup's CA and assertion keys the
// way serve does on PostgreSQL, in a scratch store.
func (c *conversion) sealForPostgres(ctx context.Context, p *restorePlan, pw []byte) error {
	st, err := openScratch(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ks, err := ca.NewSealedKeyStore(st, pw)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := ks.Create(ctx, c.keys); err != nil {
		return fmt.Errorf("restore: seal the CA keys: %w", err)
	}
	sealer, err := sharedSealer(ctx, st, pw, nil)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	plain, err := p.blob(assertionKeysBlob)
	if err != nil {
		return fmt.Errorf("restore: the assertion keys: %w", err)
	}
	if plain != nil {
		if c.replace[assertionKeysBlob], err = sealer.Seal(plain, []byte(assertionKeysBlob)); err != nil {
			return fmt.Errorf("restore: seal the assertion keys: %w", err)
		}
	}
	for _, id := range []string{ca.SealedKeysBlob, sealSaltBlob} {
		b, ok := st.Blob(id)
		if !ok {
			return fmt.Errorf("restore: sealing made no %s blob", id)
		}
		c.add = append(c.add, b)
		c.drop[id] = true // a stale copy in the source, if any
	}
	// The embedded store's refresh-token key has no use on PostgreSQL,
	// where it would sit next to what it seals.
	c.drop[identity.SealKeyBlob] = true
	return nil
}

// unsealForBolt opens the PostgreSQL backup's sealed CA and assertion keys
// for the embedded store, which keeps them in the data dir.
func (c *conversion) unsealForBolt(ctx context.Context, p *restorePlan, pw []byte) error {
	plain, err := c.openSealed(ctx, p, pw)
	if err != nil {
		return err
	}
	if plain != nil {
		c.replace[assertionKeysBlob] = plain
	}
	c.drop[ca.SealedKeysBlob] = true
	c.drop[sealSaltBlob] = true
	return nil
}

// openSealed unseals a PostgreSQL backup's CA (into c.keys) and returns its
// plain assertion keys (nil if it has none). A wrong password fails here.
func (c *conversion) openSealed(ctx context.Context, p *restorePlan, pw []byte) ([]byte, error) {
	var blobs []*store.Blob
	for _, id := range []string{ca.SealedKeysBlob, sealSaltBlob} {
		data, err := p.blob(id)
		if err != nil {
			return nil, fmt.Errorf("restore: blob %s: %w", id, err)
		}
		if data != nil {
			blobs = append(blobs, &store.Blob{ID: id, Data: data})
		}
	}
	st, err := openScratch(ctx, blobs...)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ks, err := ca.NewSealedKeyStore(st, pw)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	keys, err := ks.Load(ctx)
	switch {
	case errors.Is(err, ca.ErrNoKeys):
		return nil, errors.New("restore: the backup holds no CA keys (blob ca/keys): it cannot bring back this installation's CA")
	case errors.Is(err, ca.ErrWrongPassword):
		return nil, fmt.Errorf("restore: the CA key password (PORTIER_CA_KEY_PASSWORD or ca.key_password_file) "+
			"must be the one of the installation the backup was taken from: %w", err)
	case err != nil:
		return nil, fmt.Errorf("restore: %w", err)
	}
	c.keys = keys
	sealed, err := p.blob(assertionKeysBlob)
	if err != nil || sealed == nil {
		return nil, err
	}
	if _, ok := st.Blob(sealSaltBlob); !ok {
		return nil, fmt.Errorf("restore: the backup's assertion keys are sealed but it has no %s blob", sealSaltBlob)
	}
	sealer, err := sharedSealer(ctx, st, pw, nil)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	plain, err := sealer.Open(sealed, []byte(assertionKeysBlob))
	if err != nil {
		return nil, fmt.Errorf("restore: the backup's assertion keys do not open with the CA key password: %w", err)
	}
	return plain, nil
}

// apply returns the change to import for a backup record, or false to
// leave it out.
func (c *conversion) apply(r *backup.Record) (store.Change, bool, error) {
	ch := store.Change{Kind: r.Kind, ID: r.ID, Value: r.Value}
	switch {
	case r.Kind == store.KindBlob && (c.drop[r.ID] || c.dropACME && strings.HasPrefix(r.ID, acme.BlobPrefix)):
		return ch, false, nil
	case r.Kind == store.KindBlob && c.replace[r.ID] != nil:
		v, err := store.Encode(&store.Blob{ID: r.ID, Data: c.replace[r.ID]})
		if err != nil {
			return ch, false, err
		}
		ch.Value = v
	case r.Kind == store.KindSession && len(c.endRefreshed) > 0:
		rec, err := store.Decode(r.Kind, r.Value)
		if err != nil {
			return ch, false, err
		}
		if s := rec.(*store.Session); c.endRefreshed[s.ID] || c.endRefreshed[s.ParentID] {
			return ch, false, nil
		}
	}
	return ch, true, nil
}
