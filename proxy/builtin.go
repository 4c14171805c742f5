package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// A built-in app (the demo app) is an http.Handler, not an upstream. When
// the decision carries restrictions, its answer must get the same
// response side as an upstream's (downloads blocked, the watermark, the
// banner, no-store …): the request then goes through the same
// httputil.ReverseProxy as an upstream request, whose transport is
// handlerTransport, running the handler in process.

// handlerTransport answers a round trip by running a handler. The
// response streams: the handler writes into a pipe that is the
// response's body, so nothing is held whole in memory.
type handlerTransport struct{ h http.Handler }

var _ http.RoundTripper = handlerTransport{}

// RoundTrip runs the handler until it writes its header (or returns) and
// hands back the response, whose body the handler keeps writing.
func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeResponse{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			v := recover()
			if v == nil {
				w.WriteHeader(http.StatusOK) // a handler that wrote nothing answers 200
				pw.Close()
				return
			}
			if w.writeHeader(http.StatusInternalServerError) {
				pw.Close() // nothing was sent: a plain 500
				return
			}
			pw.CloseWithError(fmt.Errorf("built-in app failed: %v", v)) // cut the answer short
		}()
		t.h.ServeHTTP(w, r)
	}()
	select {
	case <-w.ready:
	case <-r.Context().Done():
		pr.CloseWithError(r.Context().Err())
		return nil, r.Context().Err()
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pr, ContentLength: -1, Request: r}, nil
}

// pipeResponse is the handler's ResponseWriter: the header map until
// WriteHeader, then a copy of it handed on with the body's pipe.
type pipeResponse struct {
	header http.Header
	sent   http.Header
	status int
	body   *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeResponse) Header() http.Header { return w.header }

// WriteHeader sends the header once; writeHeader reports whether this
// call sent it.
func (w *pipeResponse) WriteHeader(code int) { w.writeHeader(code) }

func (w *pipeResponse) writeHeader(code int) (sent bool) {
	w.once.Do(func() {
		w.status, w.sent, sent = code, w.header.Clone(), true
		close(w.ready)
	})
	return sent
}

func (w *pipeResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	n, err := w.body.Write(b)
	if errors.Is(err, io.ErrClosedPipe) {
		err = http.ErrAbortHandler
	}
	return n, err
}
