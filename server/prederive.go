package server

import (
	"context"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
)

// valueReader reads one record straight from a shared store's database
// (pgstore.DB.Value).
type valueReader interface {
	Value(ctx context.Context, kind store.Kind, id string) ([]byte, bool, error)
}

// prederive starts, on a shared store that already holds their salts, the
// two argon2id derivations start-up needs from the CA key password (the key
// of the sealed CA keys and the sealing key), so that they run while the
// read model loads instead of after it. Their parameters are read from the
// records themselves, straight from the database. Whatever is missing or
// unreadable here is simply not derived ahead: the same records are read
// again from the loaded read model, checked there, and any key not derived
// ahead with exactly those parameters is derived then.
func prederive(ctx context.Context, be store.Backend, cfg *config.Config, getenv func(string) string) *ca.Derivations {
	db, ok := be.(valueReader)
	if !ok || cfg.Store == "" {
		return nil
	}
	pw, err := ca.KeyPassword(getenv("PORTIER_CA_KEY_PASSWORD"), cfg.CA.KeyPasswordFile)
	if err != nil || len(pw) < ca.MinKeyPasswordLen {
		return nil // refused later, with the reason
	}
	d := ca.NewDerivations(pw)
	if b := readBlob(ctx, db, ca.SealedKeysBlob); b != nil {
		if p, err := ca.SealedKDFParams(b.Data); err == nil {
			d.Start(p)
		}
	}
	if b := readBlob(ctx, db, sealSaltBlob); b != nil {
		d.Start(sealKDF(b.Data))
	}
	return d
}

// readBlob reads and decodes one blob, nil when it is absent or unreadable.
func readBlob(ctx context.Context, db valueReader, id string) *store.Blob {
	v, ok, err := db.Value(ctx, store.KindBlob, id)
	if err != nil || !ok {
		return nil
	}
	r, err := store.Decode(store.KindBlob, v)
	if err != nil {
		return nil
	}
	b, _ := r.(*store.Blob)
	return b
}
