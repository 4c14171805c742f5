package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"time"

	"github.com/portier/portier/store"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	// heartbeatEvery is how often a replica writes its heartbeat; the
	// cluster view marks a replica missing after missingAfter without one.
	heartbeatEvery = 2 * time.Second
	missingAfter   = 3 * heartbeatEvery
	// leaseTTL is the lease of each singleton background job: a job whose
	// replica dies moves to another within leaseTTL + leaseTTL/3.
	leaseTTL = 15 * time.Second
)

// replica is this process as a member of the cluster: its id, its
// heartbeats and the leases of the background jobs it may run.
type replica struct {
	id       string
	version  string
	started  time.Time
	st       *store.Store
	replicas store.Replicas
	leases   store.Leases
	s        *Server
	jobs     sync.WaitGroup // leased jobs, released before the store closes
}

func newReplica(s *Server) *replica {
	return &replica{id: replicaID(), version: buildVersion(), started: time.Now(), st: s.store,
		replicas: store.ReplicasFor(s.backend, time.Now), leases: store.LeasesFor(s.backend), s: s}
}

// replicaID names this process in the cluster view: the host name and a
// random suffix, new at every start.
func replicaID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "replica"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// heartbeats writes this replica's heartbeat every heartbeatEvery until ctx
// ends.
func (r *replica) heartbeats(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		head, latency := r.st.Probe()
		hb := store.Heartbeat{ReplicaID: r.id, Version: r.version, StartedAt: r.started,
			AppliedSeq: r.st.Applied(), HeadSeq: max(head, r.st.Applied()), DBLatency: latency, Staleness: r.st.Staleness()}
		bctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
		if err := r.replicas.Beat(bctx, hb); err != nil && ctx.Err() == nil {
			r.s.log.Warn("cluster: cannot write the heartbeat", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leased runs job on this replica only while it holds the lease name: the
// background jobs that must run once across replicas.
func (r *replica) leased(ctx context.Context, name string, job func(context.Context)) {
	r.jobs.Add(1)
	go func() {
		defer r.jobs.Done()
		store.Leased(ctx, r.leases, name, r.id, leaseTTL, r.s.log, job)
	}()
}

// clusterMetrics are the replication metrics of this replica.
func clusterMetrics(st *store.Store) []prometheus.Collector {
	fresh := func() float64 {
		if st.Fresh() != nil {
			return 0
		}
		return 1
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portier_store_staleness_seconds",
			Help: "Seconds since this replica last confirmed it was caught up with the shared store (0 on the embedded store)."},
			func() float64 { return st.Staleness().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portier_store_max_staleness_seconds",
			Help: "The staleness bound past which this replica refuses."},
			func() float64 { return st.MaxStaleness().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portier_store_replication_lag_sequences",
			Help: "Sequences of the shared store's head (as of the last probe) beyond what this replica has applied."},
			func() float64 {
				head, _ := st.Probe()
				return float64(head - min(head, st.Applied()))
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portier_store_fresh",
			Help: "1 when the database is reachable and this replica is within the staleness bound (it serves), else 0."},
			fresh),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portier_store_db_latency_seconds",
			Help: "Round trip of the last staleness probe to the shared store."},
			func() float64 { _, l := st.Probe(); return l.Seconds() }),
	}
}
