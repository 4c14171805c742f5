package server

import (
	"net/http"
	"net/http/pprof"
)

// metricsMux is the metrics listener's handler: /metrics, and with
// withPprof Go's runtime profiles under /debug/pprof/ (CPU, heap,
// goroutines, mutexes, blocking, execution trace). Every other path is
// 404. The profiles are never mounted on the public listener: its
// dispatcher has no route to them, and nothing serves http.DefaultServeMux
// (where importing net/http/pprof also registers them).
func metricsMux(m *metrics, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler())
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}
