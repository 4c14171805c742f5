package posture

import (
	"errors"

	"github.com/portier/portier/confyaml"
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
// configuration, located by file, line and column (1-based; zero when
// unknown). It prints as file:line:col: msg.
type Error = confyaml.Error

// ErrorList is every problem found in one parse, in the order found.
// errors.As finds each *Error through it.
type ErrorList = confyaml.ErrorList
