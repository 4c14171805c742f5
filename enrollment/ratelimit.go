package enrollment

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Enrollment limits per client address. Zero-touch provisioning may enroll
// many devices behind one NAT address, so the overall limit is generous;
// failures (unknown, expired or used codes, bad requests) are limited
// tightly against guessing.
const (
	enrollRate     = rate.Limit(20)
	enrollBurst    = 200
	badEnrollRate  = rate.Limit(1.0 / 6) // ten a minute
	badEnrollBurst = 20
	maxLimiters    = 100_000
)

// limiter is a table of token buckets by key, driven by the injected clock.
type limiter struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	r     rate.Limit
	burst int
}

func newLimiter(r rate.Limit, burst int) *limiter {
	return &limiter{m: map[string]*rate.Limiter{}, r: r, burst: burst}
}

// allow takes a token for key at now, reporting whether there was one.
func (l *limiter) allow(key string, now time.Time) bool {
	return l.bucket(key, now).AllowN(now, 1)
}

// ok reports whether key has a token left at now without taking it.
func (l *limiter) ok(key string, now time.Time) bool {
	return l.bucket(key, now).TokensAt(now) >= 1
}

func (l *limiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxLimiters {
			for k, v := range l.m {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
			if len(l.m) >= maxLimiters {
				l.m = map[string]*rate.Limiter{} // under attack from many addresses: start over
			}
		}
		lim = rate.NewLimiter(l.r, l.burst)
		l.m[key] = lim
	}
	return lim
}
