package server

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/portier/portier/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is Portier's own Prometheus registry (no global registry).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	mu       sync.RWMutex
	counters map[requestKey]prometheus.Counter
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
	m.reg.MustRegister(
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

func (m *metrics) count(host string, code int) {
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
