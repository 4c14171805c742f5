package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"sync/atomic"
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
	// missingReported is how long a replica that stopped heartbeating
	// without leaving counts in portier_cluster_replicas{state="missing"}
	// (the cluster view lists it until the store forgets it).
	missingReported = time.Hour
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
	jobs     sync.WaitGroup // leased jobs and heartbeats, ended before the store closes

	mu    sync.Mutex
	names []string // the leased jobs started here

	// live and missing count the replicas of the last heartbeat's view
	// (for portier_cluster_replicas); -1 before the first.
	live, missing atomic.Int64
}

func newReplica(s *Server) *replica {
	r := &replica{id: replicaID(), version: buildVersion(), started: time.Now(), st: s.store,
		replicas: store.ReplicasFor(s.backend, time.Now), leases: store.LeasesFor(s.backend), s: s}
	r.live.Store(-1)
	r.missing.Store(-1)
	return r
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

// startHeartbeats writes this replica's heartbeat every heartbeatEvery
// until ctx ends, then removes it (the replica left; it is not missing).
func (r *replica) startHeartbeats(ctx context.Context) {
	r.jobs.Add(1)
	go func() {
		defer r.jobs.Done()
		r.heartbeats(ctx)
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), heartbeatEvery)
		defer cancel()
		if err := r.replicas.Leave(lctx, r.id); err != nil {
			r.s.log.Warn("cluster: cannot remove the heartbeat on leaving", "err", err)
		}
	}()
}

// heartbeats writes this replica's heartbeat every heartbeatEvery until ctx
// ends, and counts the replicas it then sees.
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
		} else if hbs, err := r.replicas.Replicas(bctx); err == nil {
			r.count(hbs)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// count records how many replicas are live and how many went missing
// within missingReported.
func (r *replica) count(hbs []store.Heartbeat) {
	var live, missing int64
	for _, hb := range hbs {
		switch {
		case hb.Age <= missingAfter:
			live++
		case hb.Age <= missingReported:
			missing++
		}
	}
	r.live.Store(live)
	r.missing.Store(missing)
}

// holders lists who holds each background job's lease: the shared store's
// lease rows, or, on the embedded store, this process for every job.
func (r *replica) holders(ctx context.Context) ([]store.LeaseHolder, error) {
	if l, ok := r.leases.(store.LeaseLister); ok {
		return l.Holders(ctx)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]store.LeaseHolder, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, store.LeaseHolder{Name: n, Holder: r.id})
	}
	return out, nil
}

// leased runs job on this replica only while it holds the lease name: the
// background jobs that must run once across replicas.
func (r *replica) leased(ctx context.Context, name string, job func(context.Context)) {
	r.mu.Lock()
	r.names = append(r.names, name)
	r.mu.Unlock()
	r.jobs.Add(1)
	go func() {
		defer r.jobs.Done()
		store.Leased(ctx, r.leases, name, r.id, leaseTTL, r.s.log, job)
	}()
}

// clusterMetrics are the replication metrics of this replica, and the
// replica counts its heartbeats see.
func clusterMetrics(st *store.Store, r *replica) []prometheus.Collector {
	replicas := func(state string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portier_cluster_replicas",
			Help:        "Replicas heartbeating into the shared store (state=live), and those that stopped within the last hour without leaving (state=missing), as this replica last saw them; -1 before its first heartbeat.",
			ConstLabels: prometheus.Labels{"state": state}},
			func() float64 { return float64(n.Load()) })
	}
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
		replicas("live", &r.live),
		replicas("missing", &r.missing),
	}
}
