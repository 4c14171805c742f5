package server

import (
	"net/http"
	"time"

	"github.com/portier/portier/proxy"
)

// dispatch sends each request to the handler for its Host: the external
// host is the console; a configured route host goes to the proxy; anything
// else is 404, never a default upstream.
type dispatch struct {
	consoleHost string
	console     http.Handler
	proxy       routeHandler
	metrics     *metrics
}

// routeHandler serves the route hosts it Handles.
type routeHandler interface {
	http.Handler
	Handles(host string) bool
}

func (d *dispatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now() // the latency metric's, on the monotonic clock
	rec := &statusRecorder{ResponseWriter: w}
	host := proxy.HostOnly(r.Host)
	class := "unknown"
	switch {
	case host == d.consoleHost:
		class = "console"
		d.console.ServeHTTP(rec, r)
	case d.proxy.Handles(host):
		class = "proxy"
		d.proxy.ServeHTTP(rec, r)
	default:
		http.Error(rec, "404 unknown host: Portier serves no application at "+host, http.StatusNotFound)
	}
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	d.metrics.count(class, code, time.Since(start))
}
