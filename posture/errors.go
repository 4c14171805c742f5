package posture

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by the Engine. They are wrapped in *apperr.Error values
// that carry the HTTP meaning, so test them with errors.Is.
var (
	// ErrUnknownDevice is returned for a device id or serial Portier does not know.
	ErrUnknownDevice = errors.New("posture: unknown device")
	// ErrRetired is returned for a retired or wiped device: it may no longer report.
	ErrRetired = errors.New("posture: device is retired")
	// ErrReplay is returned for a report whose sequence number is not newer
	// than the last accepted one, or an external observation older than the
	// one stored.
	ErrReplay = errors.New("posture: replayed or out-of-order report")
)

// Error is one problem in the compliance, privacy or posture_sources
// configuration, located by file, line and column (1-based; zero when unknown).
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error formats the problem as file:line:col: msg.
func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrorList is every problem found in one parse, in file order.
type ErrorList []*Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes each problem to errors.As and errors.Is.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}
