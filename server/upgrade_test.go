package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// During a rolling upgrade the previous release (this code knowing one
// schema migration less) runs beside the current one on the schema the
// current one migrated: when the last migration is expand-only it starts,
// is ready and serves, each replica seeing the other's writes and both
// listed in the cluster view; when it contracts, the previous release
// refuses to start with the clear message.
func TestRollingUpgradePreviousReleaseServes(t *testing.T) {
	dsn := pgtest.DSN(t)
	extra := fmt.Sprintf("store: %q\n", dsn)
	current, currentAddr, _, _ := serveWithMetrics(t, extra, pgEnv)
	n := pgstore.SchemaVersion()
	previous, previousAddr, _, _, err := startWithMetrics(t, extra, Options{Getenv: pgEnv, KnownSchema: n - 1})
	if err != nil {
		if !strings.Contains(err.Error(), fmt.Sprintf("which knows up to %d", n-1)) || !strings.Contains(err.Error(), "is not compatible with this one") {
			t.Fatalf("the previous release refused without saying why: %v", err)
		}
		t.Logf("migration %d contracts: the previous release refuses, as it should: %v", n, err)
		return
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test server
	for _, addr := range []string{currentAddr, previousAddr} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/readyz", nil)
		req.Host = "localhost:8443"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s /readyz: %d", addr, resp.StatusCode)
		}
	}
	ctx := context.Background()
	for i, w := range []struct{ from, to *Server }{{current, previous}, {previous, current}} {
		id := fmt.Sprintf("rolling-%d", i)
		if err := w.from.Store().Write(ctx, store.Put(&store.Device{ID: id})); err != nil {
			t.Fatalf("write %s: %v", id, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, ok := w.to.Store().Device(id); !ok; _, ok = w.to.Store().Device(id) {
			if time.Now().After(deadline) {
				t.Fatalf("device %s written through one release is not seen by the other", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		hbs, err := current.replica.replicas.Replicas(ctx)
		if err == nil && len(hbs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster view lists %d replicas (%v), want both releases", len(hbs), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
