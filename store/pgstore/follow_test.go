package pgstore

import (
	"context"
	"fmt"
	"github.com/portier/portier/store/pgstore/pgtest"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// waitDevice waits until st's read model holds device id, or fails t after
// limit. It returns how long that took.
func waitDevice(t *testing.T, st *store.Store, id string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		changed := st.Changed()
		if _, ok := st.Device(id); ok {
			return time.Since(start)
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("device %s not visible after %v", id, limit)
		}
	}
}

// Two processes (two pools, two listeners) share one schema: a write through
// one reaches the other's memdb through NOTIFY, well before the 1 s ticker.
func TestTwoProcessesConverge(t *testing.T) {
	dsn := pgtest.DSN(t)
	sa, sb := openStore(t, openDB(t, dsn)), openStore(t, openDB(t, dsn))
	ctx := context.Background()
	var worst time.Duration
	for i := range 10 {
		from, to := sa, sb
		if i%2 == 1 {
			from, to = sb, sa
		}
		id := fmt.Sprintf("d%d", i)
		start := time.Now()
		if err := from.Write(ctx, store.Put(&store.Device{ID: id})); err != nil {
			t.Fatal(err)
		}
		waitDevice(t, to, id, time.Second)
		worst = max(worst, time.Since(start))
	}
	if worst >= time.Second {
		t.Errorf("slowest write took %v to reach the other process, want < 1s", worst)
	}
	t.Logf("slowest of 10 writes reached the other process in %v", worst)
	if sa.Seq() != sb.Seq() {
		t.Errorf("stores at seq %d and %d, want equal", sa.Seq(), sb.Seq())
	}
}

// Committers on two DBs race; a third follower polling Since while they
// write must see every change exactly once, in strictly increasing order,
// and the sequence must have no holes.
func TestConcurrentCommitsNoGaps(t *testing.T) {
	dsn := pgtest.DSN(t)
	writers := []*DB{openDB(t, dsn), openDB(t, dsn)}
	follower := openDB(t, dsn)
	ctx := context.Background()

	var mu sync.Mutex
	committed := map[uint64]string{}
	var done atomic.Bool
	seen := map[uint64]string{}
	followErr := make(chan error, 1)
	go func() {
		var last uint64
		for {
			finished := done.Load()
			ch, err := follower.Since(ctx, last, 37)
			if err != nil {
				followErr <- err
				return
			}
			for _, c := range ch {
				if c.Seq <= last {
					followErr <- fmt.Errorf("seq %d after %d", c.Seq, last)
					return
				}
				if _, dup := seen[c.Seq]; dup {
					followErr <- fmt.Errorf("seq %d seen twice", c.Seq)
					return
				}
				seen[c.Seq], last = c.ID, c.Seq
			}
			if len(ch) == 0 && finished {
				followErr <- nil
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w, db := range writers {
		for g := range 6 {
			wg.Go(func() {
				for j := range 30 {
					var muts []store.Mutation
					for k := range 1 + j%3 {
						muts = append(muts, device(fmt.Sprintf("w%d-g%d-%d-%d", w, g, j, k)))
					}
					ch, err := db.Commit(ctx, muts)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, c := range ch {
						if prev, dup := committed[c.Seq]; dup {
							t.Errorf("seq %d given to %s and %s", c.Seq, prev, c.ID)
						}
						committed[c.Seq] = c.ID
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	done.Store(true)
	if err := <-followErr; err != nil {
		t.Fatalf("follower: %v", err)
	}

	seqs := make([]uint64, 0, len(committed))
	for s := range committed {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	if want := 2 * 6 * (10 * (1 + 2 + 3)); len(seqs) != want {
		t.Fatalf("%d changes committed, want %d", len(seqs), want)
	}
	if seqs[0] != 1 || seqs[len(seqs)-1] != uint64(len(seqs)) {
		t.Errorf("sequences run %d..%d for %d changes: holes", seqs[0], seqs[len(seqs)-1], len(seqs))
	}
	if len(seen) != len(committed) {
		t.Errorf("follower saw %d changes, %d committed", len(seen), len(committed))
	}
	missed := 0
	for _, s := range seqs {
		if seen[s] != committed[s] {
			if missed++; missed <= 3 {
				t.Errorf("seq %d: committed %s, follower saw %q", s, committed[s], seen[s])
			}
		}
	}
	if missed > 0 {
		t.Errorf("follower missed or mismatched %d of %d changes", missed, len(seqs))
	}
}

// pg_terminate_backend kills the listener and the pool's connections; the
// listener reconnects and LISTENs again, and the next write from another
// process still arrives quickly.
func TestListenerReconnects(t *testing.T) {
	dsn := pgtest.DSN(t)
	app := "pgstore-test-" + fmt.Sprint(time.Now().UnixNano())
	a := openDB(t, dsn)
	sb := openStore(t, openDB(t, pgtest.WithParam(dsn, "application_name", app)))
	admin := adminConn(t)
	ctx := context.Background()

	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("found no backend to terminate")
	}
	start := time.Now()
	for {
		var listening bool
		if err := admin.QueryRow(ctx, `SELECT exists(SELECT FROM pg_stat_activity
			WHERE application_name = $1 AND query = 'LISTEN `+notifyChannel+`')`, app).Scan(&listening); err != nil {
			t.Fatal(err)
		}
		if listening {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("LISTEN not re-established 5s after its backend was terminated")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("terminated %d backends; LISTEN back after %v", killed, time.Since(start))

	start = time.Now()
	if _, err := a.Commit(ctx, []store.Mutation{device("after-kill")}); err != nil {
		t.Fatal(err)
	}
	t.Logf("write after the kill arrived in %v", waitDevice(t, sb, "after-kill", time.Second))
	if err := sb.Healthy(ctx); err != nil {
		t.Errorf("Healthy after recovery: %v", err)
	}
}

// The server becomes unreachable (a TCP proxy in between drops every
// connection and refuses new ones): Ping and Healthy fail. Writes made by
// another process meanwhile arrive once the server is back.
func TestOutageAndRecovery(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skip("needs PORTIER_TEST_POSTGRES_URL as a postgres:// URL with a TCP host")
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr()
	a := openDB(t, dsn)
	b := openDB(t, u.String())
	sb := openStore(t, b)
	ctx := context.Background()

	p.setDown(true)
	start := time.Now()
	if err := b.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded while the server is unreachable")
	} else {
		t.Logf("Ping during outage (%v): %v", time.Since(start), err)
	}
	if err := sb.Healthy(ctx); err == nil {
		t.Error("Healthy is nil while the server is unreachable")
	}
	if _, err := a.Commit(ctx, []store.Mutation{device("during-outage")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // let the listener back off and the ticker fail
	if _, ok := sb.Device("during-outage"); ok {
		t.Fatal("change arrived through a dead server")
	}

	p.setDown(false)
	d := waitDevice(t, sb, "during-outage", 3*time.Second)
	t.Logf("caught up %v after the server came back", d)
	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping after recovery: %v", err)
	}
	if _, err := a.Commit(ctx, []store.Mutation{device("after-outage")}); err != nil {
		t.Fatal(err)
	}
	waitDevice(t, sb, "after-outage", 2*time.Second)
}
