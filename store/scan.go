package store

import (
	"context"
	"errors"
)

// ScanQuery selects records of a history kind by id prefix, in id order.
type ScanQuery struct {
	Kind   Kind
	Prefix string
	// After is a cursor: only ids past it in the chosen order ("" = from
	// the start).
	After string
	// Desc returns the highest ids first.
	Desc  bool
	Limit int // 0 or more than MaxScanPage means MaxScanPage
}

// MaxScanPage is the most records one Scan returns.
const MaxScanPage = 1000

// PageLimit is q.Limit bounded to 1..MaxScanPage.
func (q ScanQuery) PageLimit() int {
	if q.Limit <= 0 || q.Limit > MaxScanPage {
		return MaxScanPage
	}
	return q.Limit
}

// Scanner is a Backend that reads records of history kinds, which the read
// model does not hold, straight from durable storage. Both durable
// backends implement it.
type Scanner interface {
	Scan(ctx context.Context, q ScanQuery) ([]Change, error)
}

// ErrNoScan is returned when the backend cannot scan history kinds.
var ErrNoScan = errors.New("store: this backend cannot scan history")

// Scan reads up to q.PageLimit() live records of a history kind from the
// durable store, decoded.
func (s *Store) Scan(ctx context.Context, q ScanQuery) ([]Record, error) {
	sc, ok := s.be.(Scanner)
	if !ok {
		return nil, ErrNoScan
	}
	changes, err := sc.Scan(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(changes))
	for _, c := range changes {
		r, err := Decode(c.Kind, c.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
