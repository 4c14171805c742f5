// Package apperr is Portier's one error type for anything a client sees: a
// machine code mapped to an HTTP status in one place, a message safe to show,
// the field at fault, and the internal cause that only reaches the logs.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a machine-readable error class.
type Code string

// Error codes and their HTTP status (see Status).
const (
	Invalid         Code = "invalid"         // 400
	Unauthenticated Code = "unauthenticated" // 401
	Forbidden       Code = "forbidden"       // 403
	NotFound        Code = "not_found"       // 404
	Conflict        Code = "conflict"        // 409
	// Stale: the If-Match precondition names an old version (412).
	Stale Code = "stale"
	// PreconditionMissing: a write of an existing versioned record came
	// without If-Match (428).
	PreconditionMissing Code = "precondition_required"
	// Unprocessable: the body is well-formed but its content is invalid
	// (422), e.g. a policy whose YAML names an unknown criterion.
	Unprocessable Code = "unprocessable"
	TooLarge      Code = "too_large"    // 413
	RateLimited   Code = "rate_limited" // 429
	Unavailable   Code = "unavailable"  // 503
	Internal      Code = "internal"     // 500
)

// Error is a client-facing error. Msg and Field go to the client; Err only
// to the logs.
type Error struct {
	Code  Code
	Msg   string
	Field string
	// Line, on an Unprocessable error, is the line of the submitted
	// document at fault (1-based; 0 when none).
	Line int
	Err  error
	// RetryAfter, on a RateLimited error, is when the client may try
	// again (the Retry-After header); 0 when unknown.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Msg
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a client message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error naming the request field at fault.
func Field(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// AtLine returns an Unprocessable error naming the field and the line of
// a submitted document (a policy's YAML) at fault.
func AtLine(field string, line int, format string, args ...any) *Error {
	return &Error{Code: Unprocessable, Field: field, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error whose cause is logged but never shown.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Err: err, Msg: fmt.Sprintf(format, args...)}
}

// Status maps an error to its HTTP status. An error that is not an *Error is
// internal: its text is never shown to the client.
func Status(err error) int {
	var e *Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError
	}
	switch e.Code {
	case Invalid:
		return http.StatusBadRequest
	case Unauthenticated:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Stale:
		return http.StatusPreconditionFailed
	case PreconditionMissing:
		return http.StatusPreconditionRequired
	case Unprocessable:
		return http.StatusUnprocessableEntity
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case RateLimited:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Body is the JSON shape of an error response.
type Body struct {
	Error struct {
		Code    Code   `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		Line    int    `json:"line,omitempty"`
	} `json:"error"`
}

// ToBody turns any error into what the client may see.
func ToBody(err error) Body {
	var b Body
	var e *Error
	if errors.As(err, &e) {
		b.Error.Code, b.Error.Message, b.Error.Field, b.Error.Line = e.Code, e.Msg, e.Field, e.Line
		return b
	}
	b.Error.Code, b.Error.Message = Internal, "internal error; the details are in the server log"
	return b
}
