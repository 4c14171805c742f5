// Package audit runs the audit log's retention: a background sweep that
// removes events older than the configured retention from the durable
// store, keeping the hash chain verifiable from the first remaining event
// (the store keeps the last removed event's hash as the chain's anchor),
// and records each sweep that removed something as an audit event.
package audit

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/portier/portier/store"
)

// DefaultRetention is how long audit events are kept when the config does
// not say: 400 days, a year and a month of margin for yearly reviews.
const DefaultRetention = 400 * 24 * time.Hour

// DefaultEvery is how often the sweep runs.
const DefaultEvery = time.Hour

// batch bounds one pruning transaction (on PostgreSQL it holds the lock
// that orders commits).
const batch = 5000

// Log is what the sweep needs of the store.
type Log interface {
	PruneAudit(ctx context.Context, before time.Time, limit int) (int, error)
	AuditChain(ctx context.Context) (store.AuditChain, error)
	Write(ctx context.Context, ops ...store.Op) error
}

var _ Log = (*store.Store)(nil)

// Options configure a Sweeper.
type Options struct {
	Log   Log
	Clock func() time.Time
	// Retention is how long events are kept; 0 keeps them forever.
	Retention time.Duration
	// Every is the time between sweeps (DefaultEvery when 0).
	Every  time.Duration
	Logger *slog.Logger
}

// Sweeper removes audit events past their retention.
type Sweeper struct{ o Options }

// NewSweeper returns a sweeper; it does nothing until Sweep or Run.
func NewSweeper(o Options) *Sweeper {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{o: o}
}

// Sweep removes the events older than the retention, oldest first, and
// returns how many it removed. When it removed any, it writes an
// "audit.prune" event naming the count and the new anchor.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	if s.o.Retention <= 0 {
		return 0, nil
	}
	now := s.o.Clock()
	before := now.Add(-s.o.Retention)
	total := 0
	for {
		n, err := s.o.Log.PruneAudit(ctx, before, batch)
		total += n
		if err != nil {
			return total, err
		}
		if n < batch {
			break
		}
	}
	if total == 0 {
		return 0, nil
	}
	ch, err := s.o.Log.AuditChain(ctx)
	if err != nil {
		return total, err
	}
	ev := store.NewAuditEvent(now, "system:retention", "audit.prune", "")
	ev.Detail = map[string]string{
		"count":       strconv.Itoa(total),
		"older_than":  before.UTC().Format(time.RFC3339),
		"anchor_seq":  strconv.FormatUint(ch.Anchor.Seq, 10),
		"anchor_hash": ch.Anchor.Hash,
	}
	return total, s.o.Log.Write(ctx, store.Put(ev))
}

// Run sweeps at start and then every Every, until ctx ends. Failures are
// logged and retried at the next sweep.
func (s *Sweeper) Run(ctx context.Context) {
	if s.o.Retention <= 0 {
		return
	}
	t := time.NewTicker(s.o.Every)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.o.Logger.Warn("audit: retention sweep failed; will retry", "err", err)
		case n > 0:
			s.o.Logger.Info("audit: removed events past their retention", "count", n, "retention", s.o.Retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
