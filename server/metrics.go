package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/portier/portier/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is Portier's own Prometheus registry (no global registry).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	// durations observe the requests' latency by host class (three
	// children, made once).
	durations map[string]prometheus.Observer
	mu        sync.RWMutex
	counters  map[requestKey]prometheus.Counter
}

type requestKey struct {
	host string
	code int
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portier_http_requests_total",
		Help: "HTTP requests served, by host class (console, proxy, unknown) and status code.",
	}, []string{"host", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portier_http_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by host class (console, proxy, unknown): for the proxy, the upstream's time included.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"host"})
	m.durations = map[string]prometheus.Observer{}
	for _, class := range []string{"console", "proxy", "unknown"} {
		m.durations[class] = latency.WithLabelValues(class)
	}
	m.reg.MustRegister(
		latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portier_store_sequence",
			Help: "The last change sequence applied to this process's read model.",
		}, func() float64 { return float64(st.Seq()) }),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// statusRecorder remembers the status a handler wrote, for the counter.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (flush, hijack).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// count records one request served on host class host: its status and
// how long it took.
func (m *metrics) count(host string, code int, took time.Duration) {
	m.durations[host].Observe(took.Seconds())
	k := requestKey{host, code}
	m.mu.RLock()
	c, ok := m.counters[k]
	m.mu.RUnlock()
	if !ok {
		c = m.requests.WithLabelValues(host, strconv.Itoa(code))
		m.mu.Lock()
		if m.counters == nil {
			m.counters = map[requestKey]prometheus.Counter{}
		}
		m.counters[k] = c
		m.mu.Unlock()
	}
	c.Inc()
}
