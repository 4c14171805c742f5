package store

import (
	"context"
	"sync"
	"time"
)

// Counter counts events per key in fixed time windows. On PostgreSQL the
// count is kept in the database, so that N replicas together allow what one
// would, not N times as much; the embedded store is one process and counts
// in memory (MemoryCounter).
type Counter interface {
	// Count adds one event for key in the window of length window that
	// contains now (windows start at multiples of window since the zero
	// time, the same on every replica) and returns the key's events in that
	// window, this one included.
	Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
}

// Limit allows at most Max events per key in each Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// Allow counts one event for key and reports whether it is within the
// limit; when it is not, retryAfter is the time until the window ends. A
// counter error is returned as is: callers refuse the event (fail closed).
func (l Limit) Allow(ctx context.Context, c Counter, key string, now time.Time) (ok bool, retryAfter time.Duration, err error) {
	n, err := c.Count(ctx, key, l.Window, now)
	if err != nil {
		return false, 0, err
	}
	if n <= l.Max {
		return true, 0, nil
	}
	return false, now.Truncate(l.Window).Add(l.Window).Sub(now), nil
}

// MemoryCounter is an in-process Counter for the single-process embedded
// store. It holds at most its max keys: when full it forgets windows that
// have ended, and if none has, it starts over (under a flood of new keys a
// few extra events slip through rather than memory growing without bound).
type MemoryCounter struct {
	mu  sync.Mutex
	max int
	m   map[string]memWindow
}

type memWindow struct {
	start, end time.Time
	n          int
}

var _ Counter = (*MemoryCounter)(nil)

// NewMemoryCounter returns a MemoryCounter holding at most max keys.
func NewMemoryCounter(max int) *MemoryCounter {
	return &MemoryCounter{max: max, m: map[string]memWindow{}}
}

// Count implements Counter.
func (c *MemoryCounter) Count(_ context.Context, key string, window time.Duration, now time.Time) (int, error) {
	start := now.Truncate(window)
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.m[key]
	switch {
	case ok && !start.After(w.start):
		w.n++ // this window, or an earlier one seen late: count it in the newest
	default:
		if !ok && len(c.m) >= c.max {
			c.pruneLocked(now)
		}
		w = memWindow{start: start, end: start.Add(window), n: 1}
	}
	c.m[key] = w
	return w.n, nil
}

func (c *MemoryCounter) pruneLocked(now time.Time) {
	for k, w := range c.m {
		if !now.Before(w.end) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= c.max {
		c.m = map[string]memWindow{}
	}
}

// maxMemoryKeys bounds the in-process counter of CounterFor.
const maxMemoryKeys = 100_000

// CounterFor returns the Counter of a backend: its own when it is shared by
// several processes and counts in the database, else an in-process one.
func CounterFor(be Backend) Counter {
	if c, ok := be.(Counter); ok {
		return c
	}
	return NewMemoryCounter(maxMemoryKeys)
}
