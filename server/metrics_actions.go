package server

import (
	"time"

	"github.com/portier/portier/store"
	"github.com/prometheus/client_golang/prometheus"
)

// actionStuckAfter is how long after requesting an action its device may
// check in without the action being delivered before the action counts as
// stuck (the agent fetches its actions on every check-in).
const actionStuckAfter = 5 * time.Minute

// actionCollector exports the remote-action queue, read from the store once
// per scrape.
type actionCollector struct {
	st                  *store.Store
	clock               func() time.Time
	open, stuck, oldest *prometheus.Desc
}

// metricDesc names a metric a collector builds per scrape.
type metricDesc struct {
	Name, Help string
	Labels     []string
}

func (d metricDesc) desc() *prometheus.Desc { return prometheus.NewDesc(d.Name, d.Help, d.Labels, nil) }

// actionMetrics are the remote-action queue's metrics.
func actionMetrics(st *store.Store, clock func() time.Time) prometheus.Collector {
	return &actionCollector{st: st, clock: clock,
		open: metricDesc{Name: "portier_mdm_actions_open", Labels: []string{"status"},
			Help: "Remote actions not yet done and not expired, by status: queued (not fetched by the device yet) or delivered (fetched, not acknowledged)."}.desc(),
		stuck: metricDesc{Name: "portier_mdm_actions_stuck",
			Help: "Queued actions whose device checked in more than 5 minutes after they were requested without fetching them: delivery is not working."}.desc(),
		oldest: metricDesc{Name: "portier_mdm_action_oldest_queued_seconds",
			Help: "Age of the oldest queued, unexpired action (0 when none is queued)."}.desc(),
	}
}

// Describe implements prometheus.Collector.
func (c *actionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.stuck
	ch <- c.oldest
}

// Collect implements prometheus.Collector.
func (c *actionCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.clock()
	var queued, delivered, stuck int
	var oldest time.Duration
	for _, a := range c.st.Actions() {
		if !now.Before(a.ExpiresAt) {
			continue
		}
		switch a.Status {
		case store.ActionDelivered:
			delivered++
		case store.ActionQueued:
			queued++
			oldest = max(oldest, now.Sub(a.RequestedAt))
			if d, ok := c.st.Device(a.DeviceID); ok && d.LastSeen.Sub(a.RequestedAt) > actionStuckAfter {
				stuck++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(queued), store.ActionQueued)
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(delivered), store.ActionDelivered)
	ch <- prometheus.MustNewConstMetric(c.stuck, prometheus.GaugeValue, float64(stuck))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
}
