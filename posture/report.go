package posture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture/collect"
)

// MaxReportBytes bounds an agent's posture report body; the agent API
// answers 413 above it. A corporate report with a few thousand installed
// packages stays well below.
const MaxReportBytes = 2 << 20

// Limits on single values, so one report cannot bloat the store.
const (
	maxSignals     = 512
	maxStringBytes = 4096
	maxApps        = 20000
)

// Bounds of a report's sequence number. Without them one report (a bug, a
// damaged agent state file, or a hostile device) could send the largest
// possible number: every later report would then be "not newer" and the
// device would be stuck with its last posture forever.
const (
	// MaxSeq is the largest seq accepted: 2^53-1, exact in every JSON
	// implementation, and out of reach of any real agent.
	MaxSeq = 1<<53 - 1
	// MaxSeqStep is how far a report may jump above the last accepted one
	// (and how high a device's first report may start): sixteen million
	// reports, decades of reports at one a minute.
	MaxSeqStep = 1 << 24
)

// Report is one posture report from the Portier agent. Seq is the agent's
// counter, starting at 1 and growing with every report: a report whose Seq
// is not above the last accepted one is a replay.
type Report struct {
	Seq         uint64           `json:"seq"`
	CollectedAt time.Time        `json:"collected_at"`
	TimeZone    string           `json:"time_zone,omitempty"`
	Signals     []collect.Signal `json:"signals"`
}

// UnmarshalJSON decodes a report. Signals with a name posture does not know
// are dropped (a newer agent may send more than this server understands);
// a known signal with a value of the wrong type is an error naming it.
// Unknown top-level fields are ignored for the same reason.
func (r *Report) UnmarshalJSON(data []byte) error {
	var w wireReport
	if err := json.Unmarshal(data, &w); err != nil {
		return jsonError("", err)
	}
	return w.report(r)
}

// wireReport is a report as sent: one decoding pass, values kept raw and
// typed afterwards, so every error can name its field.
type wireReport struct {
	Seq         json.RawMessage `json:"seq"`
	CollectedAt *string         `json:"collected_at"`
	TimeZone    *string         `json:"time_zone"`
	Signals     []wireSignal    `json:"signals"`
}

// wireSignal is one signal as sent or stored.
type wireSignal struct {
	Name        string          `json:"name"`
	Value       json.RawMessage `json:"value"`
	Source      string          `json:"source"`
	CollectedAt *string         `json:"collected_at"`
	Error       string          `json:"error"`
}

func (w *wireReport) report(r *Report) error {
	*r = Report{}
	if len(w.Seq) == 0 || string(w.Seq) == "null" {
		return apperr.Field("seq", "seq is required: the agent's report counter, starting at 1")
	}
	seq, err := strconv.ParseUint(string(w.Seq), 10, 64)
	if err != nil || seq == 0 || seq > MaxSeq {
		return apperr.Field("seq", "seq must be a whole number from 1 to %d", uint64(MaxSeq))
	}
	r.Seq = seq
	if r.CollectedAt, err = parseTime(w.CollectedAt); err != nil {
		return apperr.Field("collected_at", "collected_at must be an RFC 3339 time such as 2025-03-10T12:00:00Z")
	}
	if w.TimeZone != nil {
		if len(*w.TimeZone) > 64 {
			return apperr.Field("time_zone", "time_zone must be an IANA zone name such as Europe/Paris")
		}
		r.TimeZone = *w.TimeZone
	}
	if len(w.Signals) > maxSignals {
		return apperr.Field("signals", "a report holds at most %d signals", maxSignals)
	}
	r.Signals = make([]collect.Signal, 0, len(w.Signals))
	for i := range w.Signals {
		s, err := w.Signals[i].signal(i)
		if errors.Is(err, errUnknownSignal) {
			continue
		}
		if err != nil {
			return err
		}
		r.Signals = append(r.Signals, s)
	}
	return nil
}

// ParseReport reads one JSON report body: at most MaxReportBytes, one JSON
// object. Errors are *apperr.Error values naming the field at fault.
func ParseReport(body []byte) (Report, error) {
	var r Report
	if len(body) > MaxReportBytes {
		return r, apperr.New(apperr.TooLarge, "the report is larger than %d bytes", MaxReportBytes)
	}
	var w wireReport
	if err := json.Unmarshal(body, &w); err != nil {
		return r, jsonError("", err)
	}
	if err := w.report(&r); err != nil {
		return Report{}, err
	}
	return r, nil
}

var errUnknownSignal = errors.New("unknown signal name")

// signal types one wire signal from the catalog; i names it in errors.
func (w *wireSignal) signal(i int) (collect.Signal, error) {
	at := func(f string) string { return "signals[" + strconv.Itoa(i) + "]" + f }
	if w.Name == "" {
		return collect.Signal{}, apperr.Field(at(".name"), "%s is required", at(".name"))
	}
	info, ok := catalog[w.Name]
	if !ok {
		return collect.Signal{}, fmt.Errorf("%s: %w %q", at(""), errUnknownSignal, w.Name)
	}
	s := collect.Signal{Name: w.Name, Source: clip(w.Source), Error: clip(w.Error)}
	var err error
	if s.CollectedAt, err = parseTime(w.CollectedAt); err != nil {
		return collect.Signal{}, apperr.Field(at(".collected_at"), "%s must be an RFC 3339 time", at(".collected_at"))
	}
	if len(w.Value) == 0 || string(w.Value) == "null" {
		return s, nil
	}
	v, err := decodeValue(info.kind, w.Value)
	if err != nil {
		return collect.Signal{}, apperr.Field(at(".value"), "%s: %s %v", at(".value"), w.Name, err)
	}
	s.Value = v
	return s, nil
}

func parseTime(s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, *s)
}

// decodeValue decodes a signal value of the given kind.
func decodeValue(k collect.Kind, b []byte) (any, error) {
	switch k {
	case collect.KindString:
		var v string
		if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
			v = string(b[1 : len(b)-1]) // already validated JSON without escapes
		} else if err := json.Unmarshal(b, &v); err != nil {
			return nil, errors.New("must be a string")
		}
		if len(v) > maxStringBytes {
			return nil, fmt.Errorf("is longer than %d bytes", maxStringBytes)
		}
		return strings.ToValidUTF8(v, "\uFFFD"), nil
	case collect.KindBool:
		switch string(b) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, errors.New("must be true or false")
	case collect.KindInt:
		v, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return nil, errors.New("must be a whole number")
		}
		return v, nil
	case collect.KindApps:
		var v []collect.App
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, errors.New(`must be a list of {"name","version","publisher"}`)
		}
		if len(v) > maxApps {
			return nil, fmt.Errorf("lists more than %d applications", maxApps)
		}
		for i := range v {
			v[i] = collect.App{Name: clip(v[i].Name), Version: clip(v[i].Version), Publisher: clip(v[i].Publisher)}
		}
		return v, nil
	}
	return nil, fmt.Errorf("has unsupported kind %s", k)
}

// clip bounds free text from devices and makes it valid UTF-8.
func clip(s string) string {
	if len(s) > maxStringBytes {
		s = s[:maxStringBytes]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// jsonError turns a decoding error into a 400 naming the field when it can.
func jsonError(at string, err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	prefix := func(f string) string {
		switch {
		case at == "":
			return f
		case f == "":
			return at
		}
		return at + "." + f
	}
	switch {
	case errors.As(err, &typeErr):
		f := prefix(typeErr.Field)
		if f == "" {
			return apperr.New(apperr.Invalid, "the body must be a JSON object, not a %s", typeErr.Value)
		}
		return apperr.Field(f, "%s must be %s, not a %s", f, jsonKind(typeErr.Type.Kind()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apperr.New(apperr.Invalid, "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "the body is empty or cut short; send one JSON object")
	}
	return apperr.Wrap(apperr.Invalid, err, "malformed JSON")
}

// DecodeSignals reads the signals stored in store.Posture.Signals (or an
// external entry's). Names this server does not know are skipped. Other
// packages showing a posture should use it: collect.Signal's own decoder
// rejects posture's extra names such as location.coordinates.
func DecodeSignals(raw json.RawMessage) ([]collect.Signal, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []wireSignal
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]collect.Signal, 0, len(items))
	for i := range items {
		s, err := items[i].signal(i)
		if errors.Is(err, errUnknownSignal) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// jsonKind names a Go kind the way a JSON author thinks of it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	}
	return "a " + k.String()
}
