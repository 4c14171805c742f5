package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/portier/portier/store"
)

// scratchBackend is an in-memory store.Backend. A restore that moves a
// backup between the embedded and the PostgreSQL store re-seals the
// secrets in a scratch store, with the same key stores and sealers serve
// uses, so no key material is written to disk on the way.
type scratchBackend struct {
	mu   sync.Mutex
	seq  uint64
	recs map[store.Kind]map[string][]byte
}

var _ store.Backend = (*scratchBackend)(nil)

// Commit applies muts, honouring Create and Update.
func (m *scratchBackend) Commit(_ context.Context, muts []store.Mutation) ([]store.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[store.Kind]map[string][]byte{}
	}
	for _, mu := range muts {
		_, live := m.recs[mu.Kind][mu.ID]
		if mu.Create && live {
			return nil, fmt.Errorf("%s/%s: %w", mu.Kind, mu.ID, store.ErrExists)
		}
		if mu.Update && !live {
			return nil, fmt.Errorf("%s/%s: %w", mu.Kind, mu.ID, store.ErrNotFound)
		}
	}
	changes := make([]store.Change, 0, len(muts))
	for _, mu := range muts {
		m.seq++
		if m.recs[mu.Kind] == nil {
			m.recs[mu.Kind] = map[string][]byte{}
		}
		if mu.Value == nil {
			delete(m.recs[mu.Kind], mu.ID)
		} else {
			m.recs[mu.Kind][mu.ID] = mu.Value
		}
		changes = append(changes, store.Change{Seq: m.seq, Kind: mu.Kind, ID: mu.ID, Value: mu.Value, Deleted: mu.Value == nil})
	}
	return changes, nil
}

// Load calls fn for every record.
func (m *scratchBackend) Load(_ context.Context, fn func(store.Change) error) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, ids := range m.recs {
		for id, v := range ids {
			if err := fn(store.Change{Seq: m.seq, Kind: k, ID: id, Value: v}); err != nil {
				return 0, err
			}
		}
	}
	return m.seq, nil
}

// Ping always succeeds.
func (m *scratchBackend) Ping(context.Context) error { return nil }

// Close does nothing.
func (m *scratchBackend) Close() error { return nil }

// openScratch returns a store over a new scratch backend holding blobs.
func openScratch(ctx context.Context, blobs ...*store.Blob) (*store.Store, error) {
	st, err := store.Open(ctx, &scratchBackend{}, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	ops := make([]store.Op, 0, len(blobs))
	for _, b := range blobs {
		ops = append(ops, store.Put(b))
	}
	if len(ops) > 0 {
		if err := st.Write(ctx, ops...); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}
