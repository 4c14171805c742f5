package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultMaxStaleness is how long a replica on a shared backend may go
// without confirming that it is caught up with the shared store before it
// refuses to decide (Fresh).
const DefaultMaxStaleness = 2 * time.Second

// ErrStale is returned by Fresh when this replica has not confirmed within
// the staleness bound that it has applied every change committed to the
// shared store: a revocation made through another replica may be missing.
var ErrStale = errors.New("store: not confirmed caught up with the shared store within the staleness bound")

// Options tune a Store; the zero value is the defaults.
type Options struct {
	// MaxStaleness is the staleness bound (DefaultMaxStaleness when 0).
	MaxStaleness time.Duration
	// Clock measures staleness (time.Now when nil). It is real time on
	// purpose, even when the rest of Portier runs on a test clock: the
	// bound is about how old this replica's view of the database is.
	Clock func() time.Time
}

// Head reads the shared store's head: the highest committed sequence. It
// is the staleness probe and must be cheap (one indexed row).
type Head interface {
	Head(ctx context.Context) (uint64, error)
}

// probeEvery is how often the staleness probe runs for a bound: four times
// per bound, within [50 ms, 1 s].
func probeEvery(bound time.Duration) time.Duration {
	return min(max(bound/4, 50*time.Millisecond), time.Second)
}

// Fresh reports whether this replica may make access decisions now: nil,
// or why not. On a shared backend it fails when the last backend call
// failed or when the last confirmation that the read model holds every
// change committed to the shared store is older than the staleness bound;
// the embedded store is one process and never stale. It is cheap enough
// for every request (atomic loads and a clock read): the proxy, the
// certificate-authenticated agent API and /readyz all ask it.
func (s *Store) Fresh() error {
	if err := s.LastError(); err != nil {
		return err
	}
	if age := s.Staleness(); age > s.maxStale {
		return fmt.Errorf("%w: last confirmed %v ago, bound %v", ErrStale, age.Round(time.Millisecond), s.maxStale)
	}
	return nil
}

// Staleness is how long ago this replica last confirmed that it was caught
// up with the shared store's head; always 0 on the embedded store.
func (s *Store) Staleness() time.Duration {
	if !s.shared {
		return 0
	}
	return s.clock().Sub(s.base) - time.Duration(s.confirmed.Load())
}

// MaxStaleness is the staleness bound Fresh enforces.
func (s *Store) MaxStaleness() time.Duration { return s.maxStale }

// Probe is what the last staleness probe saw: the shared store's head
// sequence and how long reading it took (the database round trip). Both
// are 0 on the embedded store or before the first probe.
func (s *Store) Probe() (head uint64, latency time.Duration) {
	return s.headSeen.Load(), time.Duration(s.latency.Load())
}

// confirm records that at time at the read model held every change
// committed to the shared store before at.
func (s *Store) confirm(at time.Time) {
	n := int64(at.Sub(s.base))
	for {
		old := s.confirmed.Load()
		if n <= old || s.confirmed.CompareAndSwap(old, n) {
			return
		}
	}
}

// probeLoop confirms freshness until the store closes: a separate,
// periodic read of the head sequence with a short timeout, independent of
// the change notifications, so that a link that silently drops packets is
// noticed (a probe that hangs confirms nothing).
func (s *Store) probeLoop() {
	defer close(s.probeDone)
	t := time.NewTicker(probeEvery(s.maxStale))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.probeOnce()
		}
	}
}

// probeOnce reads the head and, if the read model is behind it, catches
// up; either way it confirms freshness as of the moment it started.
func (s *Store) probeOnce() {
	h, ok := s.be.(Head)
	if !ok {
		return
	}
	start := s.clock()
	ctx, cancel := context.WithTimeout(context.Background(), max(s.maxStale/2, 50*time.Millisecond))
	defer cancel()
	head, err := h.Head(ctx)
	if err != nil {
		return
	}
	s.latency.Store(int64(s.clock().Sub(start)))
	s.headSeen.Store(head)
	// Sequence numbers have gaps (audit events, records written twice in
	// one commit), so "applied up to head" cannot be read off Seq: a Sync
	// that starts after head was read applies everything up to it.
	if max(s.seq.Load(), s.through.Load()) < head {
		if err := s.Sync(ctx); err != nil {
			return
		}
		s.raiseThrough(head)
	}
	s.confirm(start)
}

// raiseThrough records that every change up to seq is applied.
func (s *Store) raiseThrough(seq uint64) {
	for {
		old := s.through.Load()
		if seq <= old || s.through.CompareAndSwap(old, seq) {
			return
		}
	}
}

// Applied is the shared store's sequence this replica is known to have
// applied every change up to: Seq, or the head a later catch-up reached
// when the sequence numbers above Seq were not records (audit events).
func (s *Store) Applied() uint64 { return max(s.seq.Load(), s.through.Load()) }

// Shared reports whether the backend is shared by several processes (and
// so the staleness bound applies).
func (s *Store) Shared() bool { return s.shared }
