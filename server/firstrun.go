package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// firstRunLock is the store lock under which a process initialises or
// checks the installation (sealing salt, CA, set-up link, signing keys), so
// replicas started at the same moment on an empty database do it once.
const firstRunLock = "server/first-run"

// initMarkerBlob records that this store was initialised, and with which
// CA. It is written right after the CA is created (or, for a store made by
// an older Portier, at its first start with this one).
const initMarkerBlob = "server/initialized"

// initMarker is the JSON of initMarkerBlob.
type initMarker struct {
	// CAFingerprint is the SHA-256 of the root certificate, hex.
	CAFingerprint string    `json:"ca_fingerprint"`
	At            time.Time `json:"at"`
}

// initState is what the store says about the installation at start.
type initState struct {
	marker *initMarker // nil: no marker (new store, or one from before markers)
	// inUse is set when the store holds an installation's records: the
	// marker, users, tokens, devices or certificates. Such a store never
	// gets a new CA or a new sealing salt: that would silently break every
	// enrolled device and every sealed secret.
	inUse bool
	// empty is set when the store holds no record at all.
	empty bool
}

func readInitState(st *store.Store) (initState, error) {
	var s initState
	if b, ok := st.Blob(initMarkerBlob); ok {
		var m initMarker
		if err := json.Unmarshal(b.Data, &m); err != nil || m.CAFingerprint == "" {
			return s, fmt.Errorf("store: blob %s is corrupt; restore the store from a backup", initMarkerBlob)
		}
		s.marker = &m
	}
	s.inUse = s.marker != nil
	for _, k := range []store.Kind{store.KindUser, store.KindToken, store.KindDevice, store.KindCertificate} {
		if has(st, k) {
			s.inUse = true
		}
	}
	s.empty = true
	for _, k := range store.Kinds() {
		if has(st, k) {
			s.empty = false
			break
		}
	}
	return s, nil
}

// has reports whether the store holds a record of kind k.
func has(st *store.Store, k store.Kind) bool {
	it, err := st.Txn().Get(string(k), "id")
	return err == nil && it.Next() != nil
}

// guardedKeys is a CA key store that refuses to create a CA when refuse is
// set: the store already belongs to an installation whose CA is missing.
type guardedKeys struct {
	ca.KeyStore
	refuse error
}

// Create creates the CA, unless it must not.
func (g guardedKeys) Create(ctx context.Context, k *ca.Keys) error {
	if g.refuse != nil {
		return g.refuse
	}
	return g.KeyStore.Create(ctx, k)
}

// caGuard returns the error that stops start-up instead of creating a CA,
// nil when creating one is right (a new installation).
func caGuard(dataDir string, shared bool, st initState) error {
	if !st.inUse {
		return nil
	}
	if shared {
		return fmt.Errorf("the PostgreSQL store holds this installation's records (users, tokens, devices, certificates) "+
			"but not its sealed CA keys (blob %s): a new CA would break every enrolled device, so Portier did not create one. "+
			"Restore the database from a backup (`portier restore`)", ca.SealedKeysBlob)
	}
	return fmt.Errorf("data dir %s: the CA folder %s is missing or empty, but the store %s holds this installation's records "+
		"(users, tokens, devices, certificates): a new CA would break every enrolled device, so Portier did not create one. "+
		"Put the CA folder back from a backup (`portier restore` brings back both)",
		dataDir, filepath.Join(dataDir, caDirName), filepath.Join(dataDir, storeFileName))
}

// checkEmptyStoreCA stops start-up when the embedded store holds nothing
// but the data dir has a CA: the store file was lost or replaced, and
// starting would print a new set-up link (whoever opens it first becomes
// owner) next to a CA whose devices are unknown.
func checkEmptyStoreCA(ctx context.Context, dataDir string, keys ca.KeyStore, st initState) error {
	if !st.empty {
		return nil
	}
	_, err := keys.Load(ctx)
	if errors.Is(err, ca.ErrNoKeys) {
		return nil
	}
	return fmt.Errorf("data dir %s: the store %s is new or empty, but the CA folder %s holds a CA: the store was lost or replaced. "+
		"Restore the store from a backup (`portier restore`); only if this is an interrupted first start "+
		"(the CA never issued a certificate), remove %s to start afresh",
		dataDir, filepath.Join(dataDir, storeFileName), filepath.Join(dataDir, caDirName), filepath.Join(dataDir, caDirName))
}

// checkMarker compares the loaded CA with the one the store was set up
// with, and records it on a store that has no marker yet.
func checkMarker(ctx context.Context, st *store.Store, is initState, c *ca.CA, where string, now time.Time) error {
	fp := c.Fingerprint()
	if is.marker != nil {
		if is.marker.CAFingerprint != fp {
			return fmt.Errorf("%s holds a CA (root SHA256 %s) that is not the one this store was set up with (SHA256 %s): "+
				"restore the CA and the store from the same backup (`portier restore`)", where, fp, is.marker.CAFingerprint)
		}
		return nil
	}
	data, err := json.Marshal(initMarker{CAFingerprint: fp, At: now.UTC()})
	if err != nil {
		return err
	}
	err = st.Write(ctx, store.Create(&store.Blob{ID: initMarkerBlob, Data: data}))
	if errors.Is(err, store.ErrExists) {
		return nil // written by another process under an older Portier's lockless start
	}
	return err
}

// checkSealSalt stops start-up when a store in use lost the salt of its
// sealing key: a new salt would make every sealed secret unreadable.
func checkSealSalt(st *store.Store, is initState) error {
	if _, ok := st.Blob(sealSaltBlob); ok || !is.inUse {
		return nil
	}
	return fmt.Errorf("the PostgreSQL store holds this installation's records but not the salt of its sealing key (blob %s): "+
		"a new one would make the sealed CA and signing keys unreadable, so Portier stopped. Restore the database from a backup (`portier restore`)",
		sealSaltBlob)
}

// checkSigningKeys stops start-up when a store with users, tokens or
// devices lost its upstream signing keys, rather than silently making new
// ones that no upstream has seen.
func checkSigningKeys(st *store.Store, is initState) error {
	if _, ok := st.Blob(assertionKeysBlob); ok || !is.inUse || !hasAny(st, store.KindUser, store.KindToken, store.KindDevice) {
		return nil
	}
	return fmt.Errorf("the store holds this installation's users, tokens or devices but not its upstream signing keys (blob %s): "+
		"restore the store from a backup (`portier restore`)", assertionKeysBlob)
}

func hasAny(st *store.Store, kinds ...store.Kind) bool {
	for _, k := range kinds {
		if has(st, k) {
			return true
		}
	}
	return false
}

// keysAndSealer returns the CA key store and, on PostgreSQL, the shared
// sealer; the key store refuses to create a CA over a store in use.
func keysAndSealer(ctx context.Context, s *Server, o Options, is initState) (ca.KeyStore, identity.Sealer, error) {
	cfg := o.Config
	if cfg.Store == "" {
		fk := &ca.FileKeyStore{Dir: filepath.Join(cfg.DataDir, caDirName), Log: o.Log}
		if err := checkEmptyStoreCA(ctx, cfg.DataDir, fk, is); err != nil {
			return nil, nil, err
		}
		return guardedKeys{KeyStore: fk, refuse: caGuard(cfg.DataDir, false, is)}, nil, nil
	}
	pw, err := ca.KeyPassword(o.Getenv("PORTIER_CA_KEY_PASSWORD"), cfg.CA.KeyPasswordFile)
	if err != nil {
		return nil, nil, err
	}
	keys, err := ca.NewSealedKeyStore(s.store, pw)
	if err != nil {
		return nil, nil, err
	}
	keys.UseDerivations(s.derive)
	if err := checkSealSalt(s.store, is); err != nil {
		return nil, nil, err
	}
	sealer, err := sharedSealer(ctx, s.store, pw, s.derive)
	if err != nil {
		return nil, nil, err
	}
	return guardedKeys{KeyStore: keys, refuse: caGuard(cfg.DataDir, true, is)}, sealer, nil
}

// initialise loads (or, on a new store, creates) what every process of the
// installation shares: the sealing key, the CA, the set-up link or
// bootstrap token, and the upstream signing keys. The caller holds the
// first-run lock. A store that already belongs to an installation never
// gets any of these made anew: a missing one stops start-up, naming it.
func (s *Server) initialise(ctx context.Context, o Options) (identity.Sealer, error) {
	cfg := o.Config
	is, err := readInitState(s.store)
	if err != nil {
		return nil, err
	}
	keys, sealer, err := keysAndSealer(ctx, s, o, is)
	if err != nil {
		return nil, err
	}
	s.ca, err = ca.New(ctx, ca.Options{
		Store: s.store, Keys: keys, Clock: o.Clock, Log: o.Log,
		DeviceCertLifetime: time.Duration(cfg.CA.DeviceCertLifetime),
		CRLURL:             cfg.ExternalURL + "/ca/crl",
	})
	if err != nil {
		return nil, err
	}
	where := "the PostgreSQL store"
	if cfg.Store == "" {
		where = "the CA folder " + filepath.Join(cfg.DataDir, caDirName)
	}
	if err := checkMarker(ctx, s.store, is, s.ca, where, o.Clock()); err != nil {
		return nil, err
	}
	s.SetupLink, err = bootstrap(ctx, s.store, sealer, o.Getenv("PORTIER_BOOTSTRAP_TOKEN"), cfg.ExternalURL, o.Clock())
	if err != nil {
		return nil, fmt.Errorf("first-run bootstrap: %w", err)
	}
	if err := checkSigningKeys(s.store, is); err != nil {
		return nil, err
	}
	aopts := assertion.Options{Store: s.store, Clock: o.Clock, Log: o.Log}
	if sealer != nil {
		aopts.Sealer = sealer
	}
	if s.signer, err = assertion.New(ctx, aopts); err != nil {
		return nil, err
	}
	return sealer, nil
}
