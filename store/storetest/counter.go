package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// RunCounter is the conformance suite of store.Counter. newCounters returns
// two counters over one fresh shared state: two processes on one database,
// or the same in-process counter twice.
func RunCounter(t *testing.T, newCounters func(t *testing.T) (a, b store.Counter)) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	const window = 10 * time.Minute

	t.Run("CountsWithinWindowAndStartsOver", func(t *testing.T) {
		a, _ := newCounters(t)
		for i := 1; i <= 3; i++ {
			if n, err := a.Count(ctx, "k", window, t0.Add(time.Duration(i)*time.Minute)); err != nil || n != i {
				t.Fatalf("event %d: n = %d, %v", i, n, err)
			}
		}
		if n, _ := a.Count(ctx, "other", window, t0); n != 1 {
			t.Errorf("another key: n = %d, want 1", n)
		}
		if n, _ := a.Count(ctx, "k", window, t0.Add(window)); n != 1 {
			t.Errorf("next window: n = %d, want 1", n)
		}
		if n, _ := a.Count(ctx, "k", window, t0.Add(window-time.Second)); n != 2 {
			t.Errorf("a late event of the previous window counts in the newest: n = %d, want 2", n)
		}
	})
	t.Run("SharedBetweenProcesses", func(t *testing.T) {
		a, b := newCounters(t)
		const each = 25
		var wg sync.WaitGroup
		for _, c := range []store.Counter{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if _, err := c.Count(ctx, "shared", window, t0); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if n, err := b.Count(ctx, "shared", window, t0); err != nil || n != 2*each+1 {
			t.Errorf("after %d events on each side: n = %d, %v; want %d", each, n, err, 2*each+1)
		}
	})
	t.Run("LimitRefusesPastMax", func(t *testing.T) {
		a, b := newCounters(t)
		l := store.Limit{Max: 4, Window: window}
		now := t0.Add(3 * time.Minute)
		for i := range 6 {
			c := []store.Counter{a, b}[i%2]
			ok, retry, err := l.Allow(ctx, c, "limited", now)
			if err != nil {
				t.Fatal(err)
			}
			if want := i < l.Max; ok != want {
				t.Fatalf("attempt %d: ok = %v, want %v", i+1, ok, want)
			}
			if !ok && retry != 7*time.Minute {
				t.Errorf("attempt %d: retry after %s, want 7m0s (the end of the window)", i+1, retry)
			}
		}
		if ok, _, _ := l.Allow(ctx, a, "limited", t0.Add(window)); !ok {
			t.Error("refused in the next window")
		}
	})
	t.Run("KeysAreOpaque", func(t *testing.T) {
		a, _ := newCounters(t)
		for i, k := range []string{"", "user:ada@example.com", "ip:2001:db8::1", "quote'\"; DROP", fmt.Sprint(make([]byte, 300))} {
			if n, err := a.Count(ctx, k, window, t0); err != nil || n != 1 {
				t.Errorf("key %d: n = %d, %v", i, n, err)
			}
		}
	})
}
