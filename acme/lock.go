package acme

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Lock timing: a lock is a store lease of lockTTL, renewed every third of
// it while held, so a replica that dies holding one frees it within
// lockTTL; a waiting replica asks again every lockPoll.
const (
	lockTTL  = 2 * time.Minute
	lockPoll = 500 * time.Millisecond
)

// locks are the named locks of one process: the lease (across processes)
// and a local turn (between the goroutines of this process).
type locks struct {
	mu   sync.Mutex
	turn map[string]chan struct{} // closed when the local holder unlocks
	held map[string]heldLock
}

type heldLock struct {
	holder string
	stop   context.CancelFunc
	done   chan struct{}
}

func newLocks() *locks {
	return &locks{turn: map[string]chan struct{}{}, held: map[string]heldLock{}}
}

// takeTurn waits until no goroutine of this process holds name.
func (l *locks) takeTurn(ctx context.Context, name string) error {
	for {
		l.mu.Lock()
		ch, busy := l.turn[name]
		if !busy {
			l.turn[name] = make(chan struct{})
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *locks) endTurn(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.turn[name]; ok {
		close(ch)
		delete(l.turn, name)
	}
	delete(l.held, name)
}

func leaseName(name string) string { return "acme:" + name }

// Lock implements certmagic.Locker: it waits for this process's turn,
// then for the store's lease of the name, keeps the lease renewed until
// Unlock, and catches up with the store so that the holder sees what the
// previous one wrote (a certificate another replica just obtained).
func (s *Storage) Lock(ctx context.Context, name string) error {
	if err := s.locks.takeTurn(ctx, name); err != nil {
		return err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	holder := s.holder + "/" + hex.EncodeToString(b)
	for {
		held, err := s.leases.Acquire(ctx, leaseName(name), holder, lockTTL)
		if err == nil && held {
			break
		}
		if err != nil {
			s.log.Warn("acme: cannot take a lock; retrying", "lock", name, "err", err)
		}
		select {
		case <-ctx.Done():
			s.locks.endTurn(name)
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h := heldLock{holder: holder, stop: stop, done: make(chan struct{})}
	go s.keep(kctx, name, holder, h.done)
	s.locks.mu.Lock()
	s.locks.held[name] = h
	s.locks.mu.Unlock()
	if err := s.st.Sync(ctx); err != nil {
		_ = s.Unlock(context.WithoutCancel(ctx), name)
		return fmt.Errorf("acme: lock %s: catch up with the store: %w", name, err)
	}
	return nil
}

// keep renews a held lease until ctx ends.
func (s *Storage) keep(ctx context.Context, name, holder string, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(lockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if held, err := s.leases.Acquire(ctx, leaseName(name), holder, lockTTL); err != nil || !held {
				s.log.Warn("acme: cannot renew a lock", "lock", name, "held", held, "err", err)
			}
		}
	}
}

// Unlock implements certmagic.Locker.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.locks.mu.Lock()
	h, ok := s.locks.held[name]
	s.locks.mu.Unlock()
	if !ok {
		return fmt.Errorf("acme: unlock %s: not locked here", name)
	}
	h.stop()
	<-h.done
	err := s.leases.Release(ctx, leaseName(name), h.holder)
	s.locks.endTurn(name)
	if err != nil {
		return fmt.Errorf("acme: unlock %s: %w", name, err)
	}
	return nil
}
