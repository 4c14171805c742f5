package enrollment

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// Self-service enrollment (the /enroll page) lets any signed-in employee
// create codes, so it is bounded three ways: per user and per client
// address over time (counted across replicas), and by how many of a user's
// codes may be open (unused and unexpired) at once.
var (
	selfServicePerUser = store.Limit{Max: 10, Window: time.Hour}
	selfServicePerIP   = store.Limit{Max: 30, Window: time.Hour}
)

// MaxOpenSelfServiceCodes is how many unused, unexpired self-service codes
// one user may hold at once.
const MaxOpenSelfServiceCodes = 5

// SelfServiceCode issues a one-time code for a signed-in employee, bound to
// them. Past a limit it fails with a RateLimited error (429) that says when
// to try again; if the shared counter cannot be reached it refuses (503).
func (s *Service) SelfServiceCode(ctx context.Context, a Actor, email string, own store.Ownership) (*IssuedCode, error) {
	now := s.clock()
	if err := s.selfServiceAllowed(ctx, "user:"+email, selfServicePerUser, now); err != nil {
		s.log.Warn("enrollment: self-service codes rate-limited", "user", email, "ip", a.RemoteIP)
		return nil, err
	}
	if err := s.selfServiceAllowed(ctx, "ip:"+a.RemoteIP, selfServicePerIP, now); err != nil {
		s.log.Warn("enrollment: self-service codes rate-limited", "user", email, "ip", a.RemoteIP)
		return nil, err
	}
	if n, next := s.openSelfServiceCodes(email, now); n >= MaxOpenSelfServiceCodes {
		return nil, apperr.TooMany(next.Sub(now),
			"You already have %d unused enrollment codes. Use one, or wait until the oldest expires at %s UTC.",
			n, next.UTC().Format("15:04"))
	}
	return s.CreateCode(ctx, a, CodeRequest{Ownership: own, UserEmail: email})
}

func (s *Service) selfServiceAllowed(ctx context.Context, key string, l store.Limit, now time.Time) error {
	ok, retry, err := l.Allow(ctx, s.counter, "enroll/self/"+key, now)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "enrollment codes cannot be issued right now; try again in a minute")
	}
	if !ok {
		return apperr.TooMany(retry, "Too many enrollment codes requested. Try again in %s.", roundUp(retry))
	}
	return nil
}

// openSelfServiceCodes counts the user's own unused, unexpired,
// unrevoked codes and returns when the first of them expires.
func (s *Service) openSelfServiceCodes(email string, now time.Time) (int, time.Time) {
	n, next := 0, time.Time{}
	for _, c := range s.st.EnrollCodes() {
		if c.CreatedBy != "user:"+email || c.MaxUses != 1 || c.Revoked || !now.Before(c.ExpiresAt) || s.uses(c) >= c.MaxUses {
			continue
		}
		n++
		if next.IsZero() || c.ExpiresAt.Before(next) {
			next = c.ExpiresAt
		}
	}
	return n, next
}

// roundUp shows a wait in whole minutes (at least one).
func roundUp(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
