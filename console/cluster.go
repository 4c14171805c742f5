package console

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// clusterReplica is one replica in GET /api/v1/cluster.
type clusterReplica struct {
	ID                  string    `json:"id"`
	Version             string    `json:"version"`
	StartedAt           time.Time `json:"started_at"`
	LastHeartbeat       time.Time `json:"last_heartbeat"`
	HeartbeatAgeSeconds float64   `json:"heartbeat_age_seconds"`
	AppliedSequence     uint64    `json:"applied_sequence"`
	Behind              uint64    `json:"behind"`
	DBLatencyMS         float64   `json:"db_latency_ms"`
	StalenessMS         float64   `json:"staleness_ms"`
	// Stale: at its last heartbeat the replica had gone longer than the
	// staleness bound without confirming it was caught up (it refused).
	Stale   bool     `json:"stale"`
	Missing bool     `json:"missing"`
	Self    bool     `json:"self"`
	Leases  []string `json:"leases"` // the background jobs it runs
}

// clusterView is GET /api/v1/cluster.
type clusterView struct {
	HeadSequence uint64           `json:"head_sequence"`
	MaxStaleMS   float64          `json:"max_staleness_ms"`
	Replicas     []clusterReplica `json:"replicas"`
}

// cluster is GET /api/v1/cluster: every replica that heartbeats into the
// store, how far behind the head it is, and whether it went missing. It
// answers while this replica is stale (it is how an operator sees why),
// straight from the database.
func (c *Console) cluster(g *gin.Context) {
	v, err := c.readCluster(g.Request.Context())
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusOK, v)
}

// readCluster reads the heartbeats and the leases from the store and
// computes the view: what the API answers and the console's cluster page
// shows.
func (c *Console) readCluster(ctx context.Context) (clusterView, error) {
	var hbs []store.Heartbeat
	var leases []store.LeaseHolder
	var err error
	if c.opts.Cluster != nil {
		hbs, err = c.opts.Cluster.Replicas(ctx)
	}
	if err == nil && c.opts.Leases != nil {
		leases, err = c.opts.Leases(ctx)
	}
	if err != nil {
		return clusterView{}, &apperr.Error{Code: apperr.Unavailable, Err: err, RetryAfter: store.RetryAfter,
			Msg: "Portier cannot read the replicas' heartbeats from its database; try again in a few seconds."}
	}
	return c.clusterView(hbs, leases), nil
}

// clusterView computes the view: the head is the highest sequence any
// replica (this one included) has seen; each replica lists the leases it
// holds.
func (c *Console) clusterView(hbs []store.Heartbeat, leases []store.LeaseHolder) clusterView {
	held := map[string][]string{}
	for _, l := range leases {
		held[l.Holder] = append(held[l.Holder], l.Name)
	}
	st := c.opts.Store
	head, _ := st.Probe()
	head = max(head, st.Applied())
	for _, hb := range hbs {
		head = max(head, hb.HeadSeq, hb.AppliedSeq)
	}
	v := clusterView{HeadSequence: head, MaxStaleMS: ms(st.MaxStaleness()), Replicas: []clusterReplica{}}
	for _, hb := range hbs {
		v.Replicas = append(v.Replicas, clusterReplica{ID: hb.ReplicaID, Version: hb.Version, StartedAt: hb.StartedAt.UTC(),
			LastHeartbeat: hb.At.UTC(), HeartbeatAgeSeconds: hb.Age.Seconds(), AppliedSequence: hb.AppliedSeq,
			Behind: head - min(head, hb.AppliedSeq), DBLatencyMS: ms(hb.DBLatency), StalenessMS: ms(hb.Staleness),
			Stale: hb.Staleness > st.MaxStaleness(), Missing: hb.Age > c.opts.MissingAfter,
			Self: hb.ReplicaID == c.opts.ReplicaID, Leases: append([]string{}, slices.Sorted(slices.Values(held[hb.ReplicaID]))...)})
	}
	return v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// requireCurrent refuses, 503 with Retry-After, while this replica is not
// known to be caught up with the shared store (store.Fresh): a token, a
// device certificate or an enrollment code revoked through another replica
// may not be revoked here yet, so nothing it would answer can be trusted.
// The embedded store is one process and never stale: there the API stays
// open even after a failed write, so that the next write can succeed.
func (c *Console) requireCurrent(g *gin.Context) {
	if !c.opts.Store.Shared() {
		g.Next()
		return
	}
	if err := c.opts.Store.Fresh(); err != nil {
		g.Header("Retry-After", strconv.Itoa(int(store.RetryAfter/time.Second)))
		g.AbortWithStatusJSON(http.StatusServiceUnavailable, apperr.ToBody(apperr.New(apperr.Unavailable,
			"This Portier replica cannot confirm that it is up to date with its database, so it refuses for now; try again in a few seconds.")))
		return
	}
	g.Next()
}
