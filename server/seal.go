package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// sealSaltBlob holds the salt of the shared sealing key.
const sealSaltBlob = "server/seal-salt"

// sharedSealer seals the secrets kept in a shared PostgreSQL store (upstream
// assertion keys, IdP refresh tokens) with AES-256-GCM under a key derived
// by argon2id from the CA key password, so a database dump alone does not
// reveal them. Every replica derives the same key from the same password.
// d, if not nil, may hold the key derived ahead (prederive).
func sharedSealer(ctx context.Context, st *store.Store, password []byte, d *ca.Derivations) (identity.Sealer, error) {
	b, ok := st.Blob(sealSaltBlob)
	if !ok {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		err := st.Write(ctx, store.Create(&store.Blob{ID: sealSaltBlob, Data: salt}))
		if err != nil && !errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("sealing key: %w", err)
		}
		// Another process may have created it first: its salt is committed
		// but may not have reached this read model yet.
		if err := st.Sync(ctx); err != nil {
			return nil, fmt.Errorf("sealing key: %w", err)
		}
		if b, ok = st.Blob(sealSaltBlob); !ok {
			return nil, errors.New("sealing key: the salt is in the store but could not be read back")
		}
	}
	return identity.NewAESSealer(d.Key(password, sealKDF(b.Data)))
}

// sealKDF is the sealing key's argon2id parameters with salt.
func sealKDF(salt []byte) ca.KDFParams {
	return ca.KDFParams{Salt: salt, Time: 3, Memory: 64 * 1024, Threads: 2}
}
