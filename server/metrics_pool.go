package server

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolStat is one metric read off the PostgreSQL connection pool.
type poolStat struct {
	Name, Help string
	Type       prometheus.ValueType
	Value      func(*pgxpool.Stat) float64
	desc       *prometheus.Desc
}

// poolCollector exports the pgx pool's statistics, read once per scrape.
type poolCollector struct {
	stat  func() *pgxpool.Stat
	stats []poolStat
}

// poolMetrics are the PostgreSQL pool's metrics (the shared store only).
func poolMetrics(stat func() *pgxpool.Stat) prometheus.Collector {
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	stats := []poolStat{
		{Name: "portier_store_pool_acquired_connections", Type: gauge,
			Help:  "PostgreSQL connections in use by Portier now.",
			Value: func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }},
		{Name: "portier_store_pool_idle_connections", Type: gauge,
			Help:  "PostgreSQL connections open and idle in the pool.",
			Value: func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }},
		{Name: "portier_store_pool_total_connections", Type: gauge,
			Help:  "PostgreSQL connections open (in use, idle or being opened).",
			Value: func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }},
		{Name: "portier_store_pool_max_connections", Type: gauge,
			Help:  "The pool's size limit (the DSN's pool_max_conns).",
			Value: func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }},
		{Name: "portier_store_pool_acquires_total", Type: counter,
			Help:  "Connections taken from the pool.",
			Value: func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }},
		{Name: "portier_store_pool_acquire_seconds_total", Type: counter,
			Help:  "Total time spent taking connections from the pool (waiting included).",
			Value: func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }},
		{Name: "portier_store_pool_empty_acquires_total", Type: counter,
			Help:  "Acquires that found no idle connection and had to wait for one to be opened or released.",
			Value: func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }},
		{Name: "portier_store_pool_empty_acquire_wait_seconds_total", Type: counter,
			Help:  "Total time acquires waited because no idle connection was available.",
			Value: func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }},
		{Name: "portier_store_pool_canceled_acquires_total", Type: counter,
			Help:  "Acquires given up because their request ended (deadline or cancel) first.",
			Value: func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }},
	}
	for i := range stats {
		stats[i].desc = prometheus.NewDesc(stats[i].Name, stats[i].Help, nil, nil)
	}
	return &poolCollector{stat: stat, stats: stats}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range c.stats {
		ch <- s.desc
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stat()
	for _, s := range c.stats {
		ch <- prometheus.MustNewConstMetric(s.desc, s.Type, s.Value(st))
	}
}
