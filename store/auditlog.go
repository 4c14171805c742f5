package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// KindAuditChain is the kind of the one AuditChain record a backup carries
// beside the audit events. It is never part of the read model.
const KindAuditChain Kind = "audit_chain"

// AuditLink names one event of the chain by position and hash.
type AuditLink struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash,omitempty"`
}

// AuditChain is where the audit log's hash chain starts and ends. Anchor is
// the last event removed by retention (Seq 0 when nothing was ever
// removed): the first remaining event must link to it. Head is the last
// event appended: the log must end there.
type AuditChain struct {
	ID     string    `json:"id"` // always "chain"
	Anchor AuditLink `json:"anchor"`
	Head   AuditLink `json:"head"`
}

// AuditChainID is the id of the AuditChain record in a backup.
const AuditChainID = "chain"

func (*AuditChain) Kind() Kind    { return KindAuditChain }
func (r *AuditChain) Key() string { return r.ID }

// EmitAuditChain passes a snapshot's chain record to fn at seq, unless the
// log was never written to (a store with no audit events carries none).
// Both backends' snapshots start their audit log with it.
func EmitAuditChain(ch AuditChain, seq uint64, fn func(Change) error) error {
	if ch.Head.Seq == 0 && ch.Anchor.Seq == 0 {
		return nil
	}
	v, err := json.Marshal(&ch)
	if err != nil {
		return err
	}
	return fn(Change{Seq: seq, Kind: KindAuditChain, ID: ch.ID, Value: v})
}

// AuditQuery selects audit events. Zero fields do not filter.
type AuditQuery struct {
	Since time.Time // events at or after
	Until time.Time // events before
	Actor string    // exact actor
	// Action is an exact action, or a prefix when it ends in "." or "*"
	// ("device." and "device.*" both match "device.enroll").
	Action string
	Target string // exact target
	// Ascending returns the oldest events first; by default the newest come
	// first.
	Ascending bool
	// After is a cursor: only events past this position (Pos) in the
	// chosen order (below it by default, above it when Ascending). 0
	// starts at the end.
	After uint64
	// Limit bounds the answer; 0 or more than MaxAuditPage means MaxAuditPage.
	Limit int
}

// MaxAuditPage is the most events one QueryAudit returns.
const MaxAuditPage = 1000

// PageLimit is q.Limit bounded to 1..MaxAuditPage.
func (q AuditQuery) PageLimit() int {
	if q.Limit <= 0 || q.Limit > MaxAuditPage {
		return MaxAuditPage
	}
	return q.Limit
}

// Match reports whether ev passes the filters (not the cursor).
func (q AuditQuery) Match(ev *AuditEvent) bool {
	switch {
	case !q.Since.IsZero() && ev.At.Before(q.Since):
		return false
	case !q.Until.IsZero() && !ev.At.Before(q.Until):
		return false
	case q.Actor != "" && ev.Actor != q.Actor:
		return false
	case q.Target != "" && ev.Target != q.Target:
		return false
	case q.Action != "":
		if p, ok := q.ActionPrefix(); ok {
			return len(ev.Action) >= len(p) && ev.Action[:len(p)] == p
		}
		return ev.Action == q.Action
	}
	return true
}

// ActionPrefix returns the prefix an Action filter ending in "." or "*"
// stands for ("device." for both "device." and "device.*").
func (q AuditQuery) ActionPrefix() (string, bool) {
	a := q.Action
	if n := len(a); n > 0 && a[n-1] == '*' {
		return a[:n-1], true
	}
	if n := len(a); n > 0 && a[n-1] == '.' {
		return a, true
	}
	return "", false
}

// AuditLog is a Backend that keeps the audit log apart from the records:
// Commit appends KindAudit mutations to a hash chain, in commit order and in
// the same transaction as the other mutations, and nothing of it is loaded
// into the read model. Both durable backends implement it.
type AuditLog interface {
	// QueryAudit returns up to q.PageLimit() events matching q, in the
	// order of their position (newest first unless q.Ascending), with
	// their chain fields and Pos set.
	QueryAudit(ctx context.Context, q AuditQuery) ([]*AuditEvent, error)
	// AuditChain returns the chain's anchor and head.
	AuditChain(ctx context.Context) (AuditChain, error)
	// PruneAudit removes the oldest events, in Seq order, while they are
	// older than before, at most limit of them, and moves the anchor to the
	// last one removed. It returns how many it removed.
	PruneAudit(ctx context.Context, before time.Time, limit int) (int, error)
}

// ErrNoAuditLog is returned when the backend keeps no audit log.
var ErrNoAuditLog = errors.New("store: this backend keeps no audit log")

// QueryAudit reads audit events from the durable store (see AuditLog).
func (s *Store) QueryAudit(ctx context.Context, q AuditQuery) ([]*AuditEvent, error) {
	al, ok := s.be.(AuditLog)
	if !ok {
		return nil, ErrNoAuditLog
	}
	return al.QueryAudit(ctx, q)
}

// AuditChain returns the audit log's anchor and head.
func (s *Store) AuditChain(ctx context.Context) (AuditChain, error) {
	al, ok := s.be.(AuditLog)
	if !ok {
		return AuditChain{}, ErrNoAuditLog
	}
	return al.AuditChain(ctx)
}

// PruneAudit removes audit events older than before (see AuditLog).
func (s *Store) PruneAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	al, ok := s.be.(AuditLog)
	if !ok {
		return 0, ErrNoAuditLog
	}
	return al.PruneAudit(ctx, before, limit)
}

// Audit returns the whole audit log, oldest first, reading it page by page
// from the durable store. It holds every event at once: it is for tests and
// small tools; the API pages with QueryAudit.
func (s *Store) Audit() []*AuditEvent {
	var out []*AuditEvent
	q := AuditQuery{Ascending: true}
	for {
		page, err := s.QueryAudit(context.Background(), q)
		if err != nil || len(page) == 0 {
			return out
		}
		out = append(out, page...)
		q.After = page[len(page)-1].Pos
	}
}
