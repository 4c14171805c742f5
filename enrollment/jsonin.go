package enrollment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/portier/portier/apperr"
)

// decodeJSON reads one JSON object strictly: no unknown fields, nothing
// after it, and a client error naming the field when a value has the wrong
// type. It is what every agent-input parser starts with.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return apperr.New(apperr.Invalid, "the body must hold one JSON object")
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return apperr.New(apperr.Invalid, "the body must be a JSON object, not a %s", typeErr.Value)
		}
		return apperr.Field(field, "%s must be a %s, not a %s", field, typeErr.Type.Kind(), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apperr.New(apperr.Invalid, "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "malformed JSON: the body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Field(f, "unknown field %q", f)
	}
	return apperr.Wrap(apperr.Invalid, err, "malformed JSON")
}
