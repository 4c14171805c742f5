package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// scrape reads /metrics at maddr: each sample line's value by its series
// ("name" or "name{labels}").
func scrape(t *testing.T, maddr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		i := strings.LastIndexByte(l, ' ')
		if l == "" || l[0] == '#' || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			out[l[:i]] = v
		}
	}
	return out
}

// pgEnv is the environment of a server on PostgreSQL: the CA key password.
func pgEnv(k string) string {
	if k == "PORTIER_CA_KEY_PASSWORD" {
		return "correct horse battery staple, test only"
	}
	return ""
}

// On PostgreSQL an operator's dashboard and alerts read the pool, the
// replicas, the request and decision latencies and the action queue from
// /metrics; a replica that stops cleanly leaves the cluster view.
func TestClusterMetricsOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	srv, addr, maddr, stop := serveWithMetrics(t, fmt.Sprintf("store: %q\n", dsn), pgEnv)
	ctx := context.Background()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test server
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/healthz", nil)
	req.Host = "localhost:8443"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A device checked in 10 minutes after a lock was queued for it, and
	// did not fetch it: the queue is stuck.
	now := time.Now().UTC()
	st := srv.Store()
	if err := st.Write(ctx, store.Put(&store.Device{ID: "dev-1", LastSeen: now}),
		store.Put(&store.Action{ID: "act-1", DeviceID: "dev-1", Type: "lock", Status: store.ActionQueued,
			RequestedAt: now.Add(-10 * time.Minute), ExpiresAt: now.Add(time.Hour)})); err != nil {
		t.Fatal(err)
	}

	var m map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		m = scrape(t, maddr)
		if m[`portier_cluster_replicas{state="live"}`] == 1 || time.Now().After(deadline) {
			break
		}
	}
	for series, ok := range map[string]func(float64) bool{
		`portier_cluster_replicas{state="live"}`:                      func(v float64) bool { return v == 1 },
		`portier_cluster_replicas{state="missing"}`:                   func(v float64) bool { return v == 0 },
		`portier_store_pool_max_connections`:                          func(v float64) bool { return v >= 1 },
		`portier_store_pool_total_connections`:                        func(v float64) bool { return v >= 1 },
		`portier_store_pool_acquires_total`:                           func(v float64) bool { return v >= 1 },
		`portier_store_pool_empty_acquire_wait_seconds_total`:         func(v float64) bool { return v >= 0 },
		`portier_http_request_duration_seconds_count{host="console"}`: func(v float64) bool { return v >= 1 },
		`portier_decision_duration_seconds_count`:                     func(v float64) bool { return v == 0 },
		`portier_store_fresh`:                                         func(v float64) bool { return v == 1 },
		`portier_mdm_actions_open{status="queued"}`:                   func(v float64) bool { return v == 1 },
		`portier_mdm_actions_stuck`:                                   func(v float64) bool { return v == 1 },
		`portier_mdm_action_oldest_queued_seconds`:                    func(v float64) bool { return v >= 600 && v < 700 },
	} {
		if v, found := m[series]; !found || !ok(v) {
			t.Errorf("%s = %v (present %v)", series, v, found)
		}
	}

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	db, err := pgstore.Open(context.Background(), dsn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if hbs, err := db.Replicas(context.Background()); err != nil || len(hbs) != 0 {
		t.Errorf("after a clean stop the cluster still lists %v (%v)", hbs, err)
	}
}
