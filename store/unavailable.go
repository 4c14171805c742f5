package store

import (
	"time"

	"github.com/portier/portier/apperr"
)

// RetryAfter is what Portier tells a client refused because the store is
// unreachable or stale (Retry-After): the staleness probe and the writer
// recover within seconds once the database is back.
const RetryAfter = 5 * time.Second

// unavailable turns a backend failure of a write into the client-facing
// 503: the write was not acknowledged and may be retried later. A refused
// condition (ErrExists, ErrNotFound) or the caller's own cancellation is
// returned as is.
func unavailable(err error) error {
	if err == nil || refused(err) {
		return err
	}
	return &apperr.Error{Code: apperr.Unavailable, Err: err, RetryAfter: RetryAfter,
		Msg: "Portier cannot reach its database right now, so nothing was saved; try again in a few seconds."}
}
