package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// BlobPrefix puts certmagic's keys in a namespace of the store's blobs.
const BlobPrefix = "acme/"

// Storage is certmagic's Storage on Portier's store: every key is a
// store.Blob, so it is shared by the replicas of a PostgreSQL store and
// backed up with the rest. Values whose key ends in ".key" (account and
// certificate private keys) are sealed.
type Storage struct {
	st     *store.Store
	leases store.Leases
	sealer identity.Sealer
	clock  func() time.Time
	holder string
	log    *slog.Logger
	locks  *locks
}

var _ certmagic.Storage = (*Storage)(nil)

// StorageOptions are what NewStorage needs.
type StorageOptions struct {
	Store *store.Store
	// Leases are the store's (store.LeasesFor): certmagic's locks.
	Leases store.Leases
	// Sealer seals private keys at rest.
	Sealer identity.Sealer
	Clock  func() time.Time
	// Holder names this process in the leases it takes (the replica id).
	Holder string
	Log    *slog.Logger
}

// NewStorage returns the Storage of a store.
func NewStorage(o StorageOptions) *Storage {
	return &Storage{st: o.Store, leases: o.Leases, sealer: o.Sealer, clock: o.Clock, holder: o.Holder, log: o.Log,
		locks: newLocks()}
}

// entry is a key's value as kept in its blob.
type entry struct {
	Modified time.Time `json:"modified"`
	Sealed   bool      `json:"sealed,omitempty"`
	Data     []byte    `json:"data"`
}

func sealAAD(key string) []byte { return []byte("portier acme v1\x00" + key) }

func secret(key string) bool { return strings.HasSuffix(key, ".key") }

// Store implements certmagic.Storage.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	e := entry{Modified: s.clock().UTC(), Data: value}
	if secret(key) {
		sealed, err := s.sealer.Seal(value, sealAAD(key))
		if err != nil {
			return fmt.Errorf("acme: seal %s: %w", key, err)
		}
		e.Data, e.Sealed = sealed, true
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.st.Write(ctx, store.Put(&store.Blob{ID: BlobPrefix + key, Data: b}))
}

// Load implements certmagic.Storage.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	e, err := s.entry(ctx, key)
	if err != nil {
		return nil, err
	}
	if !e.Sealed {
		return e.Data, nil
	}
	v, err := s.sealer.Open(e.Data, sealAAD(key))
	if err != nil {
		return nil, fmt.Errorf("acme: open %s (sealed under another key?): %w", key, err)
	}
	return v, nil
}

// entry reads key's blob. A key this replica does not know yet may have
// been written by another: it catches up with the store before answering
// that the key does not exist (read-your-writes across replicas).
func (s *Storage) entry(ctx context.Context, key string) (entry, error) {
	var e entry
	b, ok := s.st.Blob(BlobPrefix + key)
	if !ok {
		if err := s.st.Sync(ctx); err != nil {
			return e, fmt.Errorf("acme: load %s: %w", key, err)
		}
		if b, ok = s.st.Blob(BlobPrefix + key); !ok {
			return e, fs.ErrNotExist
		}
	}
	if err := json.Unmarshal(b.Data, &e); err != nil {
		return e, fmt.Errorf("acme: %s is not an ACME storage entry: %w", key, err)
	}
	return e, nil
}

// under returns the store's keys (without the prefix) strictly below dir
// ("" for all).
func (s *Storage) under(dir string) []string {
	it, err := s.st.Txn().Get(string(store.KindBlob), "id_prefix", BlobPrefix+dirPrefix(dir))
	if err != nil {
		return nil
	}
	var keys []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		keys = append(keys, strings.TrimPrefix(raw.(*store.Blob).ID, BlobPrefix))
	}
	return keys
}

func dirPrefix(dir string) string {
	dir = strings.Trim(dir, "/")
	if dir == "" {
		return ""
	}
	return dir + "/"
}

// Delete implements certmagic.Storage: key and everything below it.
func (s *Storage) Delete(ctx context.Context, key string) error {
	var ops []store.Op
	if _, ok := s.st.Blob(BlobPrefix + key); ok {
		ops = append(ops, store.Delete(store.KindBlob, BlobPrefix+key))
	}
	for _, k := range s.under(key) {
		ops = append(ops, store.Delete(store.KindBlob, BlobPrefix+k))
	}
	if len(ops) == 0 {
		return nil
	}
	if err := s.st.Write(ctx, ops...); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("acme: delete %s: %w", key, err)
	}
	return nil
}

// Exists implements certmagic.Storage: key is a value or a directory.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	if _, err := s.Stat(ctx, key); err == nil {
		return true
	}
	return false
}

// List implements certmagic.Storage: the keys directly below path, or all
// keys and directories below it when recursive.
func (s *Storage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	keys := s.under(path)
	if len(keys) == 0 {
		if err := s.st.Sync(ctx); err != nil {
			return nil, err
		}
		if keys = s.under(path); len(keys) == 0 {
			return nil, fs.ErrNotExist
		}
	}
	base := dirPrefix(path)
	seen := map[string]bool{}
	for _, k := range keys {
		rest := strings.Split(strings.TrimPrefix(k, base), "/")
		n := len(rest)
		if !recursive {
			n = 1
		}
		for i := 1; i <= n; i++ {
			seen[base+strings.Join(rest[:i], "/")] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Stat implements certmagic.Storage.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	e, err := s.entry(ctx, key)
	switch {
	case err == nil:
		return certmagic.KeyInfo{Key: key, Modified: e.Modified, Size: int64(len(e.Data)), IsTerminal: true}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return certmagic.KeyInfo{}, err
	}
	if len(s.under(key)) > 0 {
		return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
	}
	return certmagic.KeyInfo{}, fs.ErrNotExist
}
