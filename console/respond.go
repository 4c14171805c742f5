package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// fail writes err as a JSON error; internal causes go only to the log.
func (c *Console) fail(g *gin.Context, err error) {
	status := apperr.Status(err)
	if status >= 500 {
		c.opts.Log.Error("console: request failed", "method", g.Request.Method, "path", g.FullPath(), "err", err)
	}
	retryAfter(g, err)
	g.AbortWithStatusJSON(status, apperr.ToBody(err))
}

// retryAfter sets Retry-After when err says when to try again.
// A 503 always says when: the store recovers within seconds.
func retryAfter(g *gin.Context, err error) {
	s := apperr.RetryAfterSeconds(err)
	if s == 0 && apperr.Status(err) == http.StatusServiceUnavailable {
		s = int(store.RetryAfter / time.Second)
	}
	if s > 0 {
		g.Header("Retry-After", strconv.Itoa(s))
	}
}

// decode reads a JSON body strictly: bounded size, no unknown fields, and a
// 400 naming the field when a value has the wrong type.
func decode(g *gin.Context, v any) error {
	body := http.MaxBytesReader(g.Writer, g.Request.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return apperr.New(apperr.Invalid, "the body must hold one JSON object")
		}
		return nil
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return apperr.New(apperr.TooLarge, "the body is larger than %d bytes", MaxBodyBytes)
	case errors.As(err, &typeErr):
		return apperr.Field(typeErr.Field, "%s must be a %s, not a %s", typeErr.Field, typeErr.Type.Kind(), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apperr.New(apperr.Invalid, "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "the body is empty; send a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Field(f, "unknown field %q", f)
	}
	return apperr.Wrap(apperr.Invalid, err, "malformed JSON")
}
