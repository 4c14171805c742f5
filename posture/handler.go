package posture

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/portier/portier/apperr"
)

// ExternalHandler serves POST /api/v1/posture/ingest: signed observations
// from external MDM/EDR sources (docs/compliance.md). It needs no bearer
// token: the HMAC signature is the authentication.
func (e *Engine) ExternalHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			e.writeError(w, &apperr.Error{Code: apperr.Invalid, Msg: "use POST"}, http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxExternalBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				e.writeError(w, apperr.New(apperr.TooLarge, "the body is larger than %d bytes", MaxExternalBytes), 0)
				return
			}
			e.writeError(w, apperr.Wrap(apperr.Invalid, err, "cannot read the body"), 0)
			return
		}
		res, err := e.ingestExternal(r.Context(), r.Header.Get(SourceHeader), body, r.Header.Get(SignatureHeader))
		if err != nil {
			e.writeError(w, err, 0)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
}

// writeError writes an apperr JSON body; status 0 means apperr's own mapping.
func (e *Engine) writeError(w http.ResponseWriter, err error, status int) {
	if status == 0 {
		status = apperr.Status(err)
	}
	if status >= 500 {
		e.log.Error("posture: external ingestion failed", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apperr.ToBody(err))
}
