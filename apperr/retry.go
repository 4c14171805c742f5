package apperr

import (
	"errors"
	"time"
)

// TooMany returns a RateLimited error telling the client when it may try
// again.
func TooMany(retryAfter time.Duration, format string, args ...any) *Error {
	e := New(RateLimited, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// RetryAfterSeconds is the Retry-After header value of err in whole
// seconds (rounded up, at least 1), or 0 when err does not say.
func RetryAfterSeconds(err error) int {
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter <= 0 {
		return 0
	}
	return int((e.RetryAfter + time.Second - 1) / time.Second)
}
