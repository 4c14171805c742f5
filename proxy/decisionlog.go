package proxy

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/portier/portier/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's Prometheus metrics.
type Metrics struct {
	decisions *prometheus.CounterVec
	rules     *prometheus.CounterVec
	latency   prometheus.Histogram
	// counters caches the children of both vectors: WithLabelValues hashes
	// its labels and takes a lock on every call.
	mu       sync.RWMutex
	counters map[counterKey]prometheus.Counter
}

type counterKey struct {
	rule, route string // one of them is set
	outcome     policy.Outcome
	reportOnly  bool
}

func (m *Metrics) counter(k counterKey) prometheus.Counter {
	m.mu.RLock()
	c, ok := m.counters[k]
	m.mu.RUnlock()
	if ok {
		return c
	}
	ro := "false"
	if k.reportOnly {
		ro = "true"
	}
	if k.rule != "" {
		c = m.rules.WithLabelValues(k.rule, k.outcome.String())
	} else {
		c = m.decisions.WithLabelValues(k.route, k.outcome.String(), ro)
	}
	m.mu.Lock()
	if m.counters == nil {
		m.counters = map[counterKey]prometheus.Counter{}
	}
	m.counters[k] = c
	m.mu.Unlock()
	return c
}

// NewMetrics registers the proxy's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portier_decisions_total",
			Help: "Access decisions by route, outcome and whether they were report-only (would-be) decisions.",
		}, []string{"route", "outcome", "report_only"}),
		rules: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portier_decision_rules_total",
			Help: "Rules that decided an access decision, by rule id and outcome.",
		}, []string{"rule", "outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "portier_decision_duration_seconds",
			Help:    "Time from a proxied request's arrival to its access decision: session, device and posture lookups and the policy's evaluation (the upstream's time is not included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	reg.MustRegister(m.decisions, m.rules, m.latency)
	return m
}

// observe records how long one decision took.
func (m *Metrics) observe(d time.Duration) {
	if m != nil {
		m.latency.Observe(d.Seconds())
	}
}

func (m *Metrics) count(route string, dec policy.Decision, reportOnly bool) {
	if m == nil {
		return
	}
	m.counter(counterKey{route: route, outcome: dec.Outcome, reportOnly: reportOnly}).Inc()
	for _, r := range dec.Rules {
		m.counter(counterKey{rule: r, outcome: dec.Outcome}).Inc()
	}
}

// logDecision writes the decision log entry: always for denials and
// step-ups, for allows at the configured sample rate.
func (p *Proxy) logDecision(r *http.Request, req *request, dec policy.Decision) {
	p.opts.Metrics.count(req.rt.from, dec, false)
	if dec.Outcome.Allowed() && !p.sampled() {
		return
	}
	p.writeLog(r, req, dec, false)
}

// reportOnly logs what a report-only policy would have decided.
func (p *Proxy) reportOnly(req *request, dec policy.Decision) {
	p.opts.Metrics.count(req.rt.from, dec, true)
	if dec.Outcome.Allowed() && !p.sampled() {
		return
	}
	p.writeLog(nil, req, dec, true)
}

func (p *Proxy) sampled() bool {
	rate := p.opts.SampleAllows
	switch {
	case rate <= 0:
		return false
	case rate >= 1:
		return true
	}
	n := p.sample.Add(1)
	return float64(n%1000) < rate*1000
}

func (p *Proxy) writeLog(r *http.Request, req *request, dec policy.Decision, reportOnly bool) {
	reasons := make([]string, 0, len(dec.Reasons))
	for _, rs := range dec.Reasons {
		reasons = append(reasons, rs.Code)
	}
	attrs := []slog.Attr{
		slog.Time("at", req.in.Now),
		slog.String("route", req.rt.from+req.rt.prefix),
		slog.String("policy", req.rt.policy.ID),
		slog.String("outcome", dec.Outcome.String()),
		slog.Bool("report_only", reportOnly),
		slog.Any("rules", dec.Rules),
		slog.Any("reasons", reasons),
		slog.String("user", req.in.Email),
		slog.String("device", req.in.Device.ID),
		slog.String("trust", req.in.Device.Trust.String()),
		slog.String("ip", req.in.IP.String()),
		slog.String("method", req.in.Method),
		slog.String("path", req.in.Path),
	}
	if req.devNote != "" {
		attrs = append(attrs, slog.String("device_note", req.devNote))
	}
	p.opts.Log.LogAttrs(nil, slog.LevelInfo, "decision", attrs...)
}
