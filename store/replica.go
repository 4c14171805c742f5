package store

import (
	"context"
	"sync"
	"time"
)

// Heartbeat is what one replica reports about itself every few seconds:
// the cluster view (GET /api/v1/cluster) is the list of them.
type Heartbeat struct {
	ReplicaID string
	Version   string
	StartedAt time.Time
	// At is when the heartbeat was stored, on the shared store's clock.
	At time.Time
	// Age is how long ago At was, on the shared store's clock, when the
	// heartbeats were read (so replicas' clock skew does not matter).
	Age time.Duration
	// AppliedSeq is the last change the replica had applied; HeadSeq the
	// shared store's head its last probe read.
	AppliedSeq, HeadSeq uint64
	// DBLatency is the round trip of the replica's last probe.
	DBLatency time.Duration
	// Staleness is how long ago the replica last confirmed it was caught up.
	Staleness time.Duration
}

// Replicas stores heartbeats outside the change sequence: a heartbeat
// every few seconds from every replica must not become changes that every
// replica follows.
type Replicas interface {
	// Beat stores hb as its replica's latest heartbeat (At is set by the
	// store).
	Beat(ctx context.Context, hb Heartbeat) error
	// Replicas lists the latest heartbeat of every replica seen recently,
	// with Age filled in.
	Replicas(ctx context.Context) ([]Heartbeat, error)
	// Leave removes the replica's heartbeat: it stopped on purpose, so it
	// is not reported missing.
	Leave(ctx context.Context, replicaID string) error
}

// LocalReplicas is the Replicas of a single-process store: the one
// replica's latest heartbeat, in memory.
type LocalReplicas struct {
	mu    sync.Mutex
	last  *Heartbeat
	clock func() time.Time
}

// NewLocalReplicas returns an empty LocalReplicas on clock.
func NewLocalReplicas(clock func() time.Time) *LocalReplicas {
	return &LocalReplicas{clock: clock}
}

// Beat implements Replicas.
func (r *LocalReplicas) Beat(_ context.Context, hb Heartbeat) error {
	hb.At = r.clock()
	r.mu.Lock()
	r.last = &hb
	r.mu.Unlock()
	return nil
}

// Replicas implements Replicas.
func (r *LocalReplicas) Replicas(context.Context) ([]Heartbeat, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		return nil, nil
	}
	hb := *r.last
	hb.Age = r.clock().Sub(hb.At)
	return []Heartbeat{hb}, nil
}

// Leave implements Replicas.
func (r *LocalReplicas) Leave(_ context.Context, replicaID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last != nil && r.last.ReplicaID == replicaID {
		r.last = nil
	}
	return nil
}

// ReplicasFor returns the Replicas of a backend: its own when it is shared,
// else an in-memory LocalReplicas on clock.
func ReplicasFor(be Backend, clock func() time.Time) Replicas {
	if r, ok := be.(Replicas); ok {
		return r
	}
	return NewLocalReplicas(clock)
}
