package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// CatchUpWait bounds how long Find waits for this replica to catch up with
// the shared store before it answers "not found".
const CatchUpWait = time.Second

// catchUpEvery is the shortest time between two catch-up rounds: however
// many requests ask (a burst of unknown cookies, an attacker spraying
// random ones), one replica reads the shared store for them at most this
// often.
const catchUpEvery = 20 * time.Millisecond

// catchUp coalesces CatchUp callers into rounds: a caller joins the next
// round to start after it arrived, so one read of the shared store serves
// every caller waiting for it.
type catchUp struct {
	mu      sync.Mutex
	running bool
	pending *catchUpRound
	last    time.Time
	rounds  atomic.Int64 // rounds run, for tests
}

type catchUpRound struct {
	done chan struct{}
	err  error
}

// CatchUp brings the read model up to date with the shared store: when it
// returns nil, every change committed (by any replica) before it was called
// is visible. Concurrent callers share rounds, and rounds are at least
// catchUpEvery apart, so a flood of callers costs the database at most one
// catch-up read per catchUpEvery. On the embedded store it returns at once.
func (s *Store) CatchUp(ctx context.Context) error {
	if !s.shared {
		return nil
	}
	c := &s.catchUp
	c.mu.Lock()
	if c.pending == nil {
		c.pending = &catchUpRound{done: make(chan struct{})}
	}
	r := c.pending
	if !c.running {
		c.running = true
		go s.catchUpRounds()
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// catchUpRounds serves pending rounds one after another until none is left.
func (s *Store) catchUpRounds() {
	c := &s.catchUp
	for {
		c.mu.Lock()
		r := c.pending
		if r == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		wait := catchUpEvery - time.Since(c.last)
		c.mu.Unlock()
		if wait > 0 {
			time.Sleep(wait) // callers arriving meanwhile join this round
		}
		c.mu.Lock()
		c.pending = nil
		c.mu.Unlock()
		c.rounds.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), CatchUpWait)
		r.err = s.Sync(ctx)
		cancel()
		c.mu.Lock()
		c.last = time.Now()
		c.mu.Unlock()
		close(r.done)
	}
}

// Find is the lookup of something a client presents — a session cookie, a
// hand-off, a sign-in flow, an enrollment code — that another replica may
// have written an instant ago (read-your-writes behind a load balancer
// without stickiness). get looks in the read model; when it finds nothing
// on a shared store, Find catches up (at most CatchUpWait) and looks again.
func Find[T any](s *Store, get func() (T, bool)) (T, bool) {
	if v, ok := get(); ok || !s.shared {
		return v, ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), CatchUpWait)
	defer cancel()
	_ = s.CatchUp(ctx) // on failure the second look finds what the first did
	return get()
}
