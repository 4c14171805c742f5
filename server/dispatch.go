package server

import (
	"net"
	"net/http"
	"strings"
)

// dispatch sends each request to the handler for its Host: the external
// host is the console; a configured route host goes to the proxy; anything
// else is 404, never a default upstream.
type dispatch struct {
	consoleHost string
	console     http.Handler
	proxy       http.Handler // nil until routes are served
	isRoute     func(host string) bool
	metrics     *metrics
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func (d *dispatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	host := hostOnly(r.Host)
	class := "unknown"
	switch {
	case host == d.consoleHost:
		class = "console"
		d.console.ServeHTTP(rec, r)
	case d.proxy != nil && d.isRoute(host):
		class = "proxy"
		d.proxy.ServeHTTP(rec, r)
	default:
		http.Error(rec, "404 unknown host: Portier serves no application at "+host, http.StatusNotFound)
	}
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	d.metrics.count(class, code)
}
