package identity

import (
	"context"
	"sync"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
	"golang.org/x/time/rate"
)

// Password sign-in limits: per account (against guessing one password) and
// per client IP (against spraying many accounts and burning CPU on
// argon2id). Every attempt counts, right or wrong.
const (
	accountBurst = 5
	accountRate  = rate.Limit(1.0 / 60) // one more attempt a minute
	ipBurst      = 20
	ipRate       = rate.Limit(1.0 / 3) // twenty a minute
	// Starting sign-in flows before sign-in (each is a stored record) is
	// limited per client IP too.
	startBurst = 30
	startRate  = rate.Limit(1.0 / 2)
	// maxLimiters bounds each limiter table; idle entries go first.
	maxLimiters = 100_000
	// maxConcurrentHashes bounds argon2id work in flight (64 MiB each).
	maxConcurrentHashes = 4
)

// Password attempts are also counted across replicas (store.Counter: in
// PostgreSQL when the store is shared), so that N replicas do not allow N
// times the guesses: the token buckets above are per process.
var (
	sharedAccountLimit = store.Limit{Max: 10, Window: 15 * time.Minute}
	sharedIPLimit      = store.Limit{Max: 100, Window: 15 * time.Minute}
	// sharedStartLimit bounds the sign-in flows (stored records) one
	// address starts, across replicas.
	sharedStartLimit = store.Limit{Max: 300, Window: 10 * time.Minute}
	// sharedHandoffLimit bounds the hand-off records one signed-in session
	// creates (one per application opened, and again when an application's
	// session ends), across replicas: a script replaying the sign-in page
	// cannot fill the store with them.
	sharedHandoffLimit = store.Limit{Max: 120, Window: 10 * time.Minute}
)

// allowHandoff counts a hand-off created for a console session.
func (s *Service) allowHandoff(ctx context.Context, sessionID string) error {
	ok, retry, err := sharedHandoffLimit.Allow(ctx, s.counter, "handoff/"+sessionID, s.now())
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "Portier could not pass your sign-in on to the application. Try again in a minute.")
	}
	if !ok {
		s.log.Warn("identity: hand-offs rate-limited", "session", truncate(sessionID, 12))
		e := apperr.New(apperr.RateLimited, "Too many applications opened in a short time. Wait a few minutes, then try again.")
		e.RetryAfter = retry
		return e
	}
	return nil
}

// allowPassword counts a password attempt per client IP and per account,
// in this process and across replicas. A counter that cannot be reached
// refuses the attempt (fail closed).
func (s *Service) allowPassword(ctx context.Context, ip, account string, now time.Time) error {
	if !s.ips.allow(ip, now) || !s.accounts.allow(account, now) {
		return errTooMany()
	}
	for _, c := range []struct {
		key string
		l   store.Limit
	}{{"signin/ip/" + ip, sharedIPLimit}, {"signin/account/" + account, sharedAccountLimit}} {
		ok, retry, err := c.l.Allow(ctx, s.counter, c.key, now)
		if err != nil {
			return apperr.Wrap(apperr.Unavailable, err, "Sign-in is unavailable right now. Try again in a minute.")
		}
		if !ok {
			e := errTooMany()
			e.RetryAfter = retry
			return e
		}
	}
	return nil
}

// limiter is a table of token buckets by key, driven by the injected clock.
type limiter struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	r     rate.Limit
	burst int
	max   int
}

func newLimiter(r rate.Limit, burst, max int) *limiter {
	return &limiter{m: map[string]*rate.Limiter{}, r: r, burst: burst, max: max}
}

// allow takes one token for key at now, reporting whether there was one.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= l.max {
			l.pruneLocked(now)
		}
		lim = rate.NewLimiter(l.r, l.burst)
		l.m[key] = lim
	}
	return lim.AllowN(now, 1)
}

// prune forgets keys whose bucket is full again (they carry no state).
func (l *limiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
}

func (l *limiter) pruneLocked(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
	// Still full under a flood of fresh keys: drop an arbitrary tenth rather
	// than grow without bound.
	if len(l.m) >= l.max {
		n := l.max / 10
		for k := range l.m {
			if n--; n < 0 {
				break
			}
			delete(l.m, k)
		}
	}
}

func errTooMany() *apperr.Error {
	return apperr.New(apperr.RateLimited, "Too many sign-in attempts. Wait a minute, then try again.")
}

// allowStart takes a token for starting a pre-sign-in flow (a stored
// record) from an IP, in this process and across replicas.
func (s *Service) allowStart(ctx context.Context, c ClientInfo) error {
	now := s.now()
	if !s.starts.allow(c.IP, now) {
		s.log.Warn("identity: sign-in starts rate-limited", "ip", c.IP)
		return errTooMany()
	}
	ok, retry, err := sharedStartLimit.Allow(ctx, s.counter, "signin/start/"+c.IP, now)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "Sign-in is unavailable right now. Try again in a minute.")
	}
	if !ok {
		s.log.Warn("identity: sign-in starts rate-limited across replicas", "ip", c.IP)
		e := errTooMany()
		e.RetryAfter = retry
		return e
	}
	return nil
}
