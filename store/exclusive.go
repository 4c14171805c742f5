package store

import (
	"context"
	"errors"
	"fmt"
)

// Locker is a Backend shared by several processes that can hold a named
// lock across all of them (PostgreSQL: a session advisory lock). The
// embedded backend is single-process (its file is locked) and needs none.
type Locker interface {
	// Lock waits for the named lock until ctx ends; unlock releases it.
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// Exclusive runs fn while this process alone holds the named lock (when the
// backend is shared), after catching up with every change committed before
// the lock was taken. Work that must happen once per installation, such as
// first-run initialisation, runs inside it: the next process to get the
// lock sees everything the previous one wrote.
func (s *Store) Exclusive(ctx context.Context, name string, fn func() error) error {
	if l, ok := s.be.(Locker); ok {
		unlock, err := l.Lock(ctx, name)
		if err != nil {
			return fmt.Errorf("store: lock %q: %w", name, err)
		}
		defer unlock()
	}
	if err := s.Sync(ctx); err != nil {
		return err
	}
	return fn()
}

// Sync brings the read model up to date with a shared backend now, instead
// of at the next notification: when it returns, every change committed (by
// any process) before it was called is visible. On a single-process backend
// the read model is always current and Sync returns at once.
func (s *Store) Sync(ctx context.Context) error {
	if _, ok := s.be.(Follower); !ok {
		return nil
	}
	done := make(chan error, 1)
	select {
	case s.syncs <- done:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return errors.New("store: closed")
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
