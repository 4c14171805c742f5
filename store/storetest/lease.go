package storetest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// LeaseWorld is what RunLeases needs from a backend: two replicas' Leases
// over one shared state, whether the state is really shared (a single
// process holds every lease), and Kill, which stops replica A as a crash
// would: no release, every later call fails.
type LeaseWorld struct {
	A, B   store.Leases
	Shared bool
	Kill   func()
}

// RunLeases is the conformance suite of store.Leases and store.Leased.
func RunLeases(t *testing.T, newWorld func(t *testing.T) LeaseWorld) {
	ctx := context.Background()

	t.Run("AcquireRenewRelease", func(t *testing.T) {
		w := newWorld(t)
		for i, what := range []string{"acquire", "renew"} {
			if held, err := w.A.Acquire(ctx, "job", "a", time.Minute); err != nil || !held {
				t.Fatalf("%s (%d): held = %v, %v", what, i, held, err)
			}
		}
		if err := w.A.Release(ctx, "job", "a"); err != nil {
			t.Fatal(err)
		}
		if err := w.A.Release(ctx, "job", "a"); err != nil {
			t.Errorf("releasing a lease not held: %v", err)
		}
		if held, err := w.A.Acquire(ctx, "job", "a", time.Minute); err != nil || !held {
			t.Fatalf("acquire after release: held = %v, %v", held, err)
		}
	})

	t.Run("OneHolderAtATime", func(t *testing.T) {
		w := newWorld(t)
		if !w.Shared {
			t.Skip("a single-process store holds every lease")
		}
		if held, err := w.A.Acquire(ctx, "job", "a", time.Minute); err != nil || !held {
			t.Fatalf("A: held = %v, %v", held, err)
		}
		if held, err := w.B.Acquire(ctx, "job", "b", time.Minute); err != nil || held {
			t.Fatalf("B took a lease A holds: held = %v, %v", held, err)
		}
		if held, _ := w.B.Acquire(ctx, "other", "b", time.Minute); !held {
			t.Error("B could not take another lease")
		}
		if err := w.B.Release(ctx, "job", "b"); err != nil {
			t.Fatal(err)
		}
		if held, _ := w.A.Acquire(ctx, "job", "a", time.Minute); !held {
			t.Fatal("B's release of a lease it does not hold freed A's")
		}
		if err := w.A.Release(ctx, "job", "a"); err != nil {
			t.Fatal(err)
		}
		if held, err := w.B.Acquire(ctx, "job", "b", time.Minute); err != nil || !held {
			t.Fatalf("B after A released: held = %v, %v", held, err)
		}
	})

	t.Run("ExpiredLeaseIsFree", func(t *testing.T) {
		w := newWorld(t)
		if !w.Shared {
			t.Skip("a single-process store holds every lease")
		}
		const ttl = 300 * time.Millisecond
		if held, _ := w.A.Acquire(ctx, "job", "a", ttl); !held {
			t.Fatal("A could not take the lease")
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			held, err := w.B.Acquire(ctx, "job", "b", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if held {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("B never took a lease A stopped renewing")
			}
		}
		if held, _ := w.A.Acquire(ctx, "job", "a", ttl); held {
			t.Error("A took its lease back from B")
		}
	})

	t.Run("LeasedJobRunsOnceAndMovesWhenTheHolderDies", func(t *testing.T) {
		w := newWorld(t)
		const ttl = 600 * time.Millisecond
		var running, overlaps atomic.Int32
		var mu sync.Mutex
		runs := map[string]int{}
		job := func(who string) func(context.Context) {
			return func(ctx context.Context) {
				t := time.NewTicker(20 * time.Millisecond)
				defer t.Stop()
				for {
					if running.Add(1) > 1 {
						overlaps.Add(1)
					}
					mu.Lock()
					runs[who]++
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					running.Add(-1)
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
				}
			}
		}
		count := func(who string) int {
			mu.Lock()
			defer mu.Unlock()
			return runs[who]
		}
		log := slog.New(slog.DiscardHandler)
		actx, stopA := context.WithCancel(ctx)
		bctx, stopB := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); store.Leased(actx, w.A, "job", "a", ttl, log, job("a")) }()
		waitFor(t, 5*time.Second, "A runs the job", func() bool { return count("a") > 0 })
		go func() { defer wg.Done(); store.Leased(bctx, w.B, "job", "b", ttl, log, job("b")) }()
		defer func() { stopA(); stopB(); wg.Wait() }()
		if !w.Shared {
			waitFor(t, 5*time.Second, "B runs the job too (one process)", func() bool { return count("b") > 0 })
			return
		}
		time.Sleep(2 * ttl) // B tries several times meanwhile
		if n := count("b"); n != 0 {
			t.Fatalf("B ran the job %d times while A held the lease", n)
		}
		w.Kill()
		killed := time.Now()
		waitFor(t, 10*time.Second, "B takes the job over", func() bool { return count("b") > 0 })
		t.Logf("B took over %v after A died (ttl %v)", time.Since(killed), ttl)
		if n := overlaps.Load(); n != 0 {
			t.Errorf("the job ran on both replicas at once %d times", n)
		}
	})
}

// waitFor polls cond until it holds, or fails t after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
	}
}
