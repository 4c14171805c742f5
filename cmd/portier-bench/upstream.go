package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// upstreamBody is what the upstream answers; every target must pass it on.
const upstreamBody = "hello from the upstream\n"

// whoamiPath makes the upstream echo the identity headers a proxy added,
// so the set-up can check what Portier sends (never used under load).
const whoamiPath = "/whoami"

// upstreamHandler is the application behind every proxy: a small static
// body, as cheap as a handler gets.
func upstreamHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == whoamiPath {
		fmt.Fprintf(w, "user=%s device=%s trust=%s assertion=%t\n", r.Header.Get("X-Portier-User"),
			r.Header.Get("X-Portier-Device"), r.Header.Get("X-Portier-Trust"), r.Header.Get("X-Portier-Assertion") != "")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, upstreamBody)
}

// serve runs srv on a new 127.0.0.1 listener (TLS when srv.TLSConfig is
// set) with its goroutines labelled role for CPU profiles, and returns the
// address and a function that stops it.
func serve(ctx context.Context, role string, srv *http.Server) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", role, err)
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var wg sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("role", role), func(context.Context) {
		wg.Go(func() { _ = srv.Serve(ln) })
	})
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		wg.Wait()
	}
	return ln.Addr().String(), stop, nil
}

// startUpstream starts the upstream on plain HTTP, as Portier's upstreams
// usually are; conns counts the connections proxies open to it.
func startUpstream(ctx context.Context, conns *atomic.Int64) (string, func(), error) {
	return serve(ctx, "upstream", &http.Server{
		Handler:           http.HandlerFunc(upstreamHandler),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	})
}
