package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/clocktest"
)

// fakeShared is a hand-written shared backend: an empty store whose head
// sequence the test sets (the sequence numbers above 0 are not records,
// as audit events are not), and whose link the test can make silent.
type fakeShared struct {
	head   atomic.Uint64
	silent atomic.Bool
	wake   chan struct{}
}

func (f *fakeShared) Commit(context.Context, []Mutation) ([]Change, error) {
	return nil, errors.New("read-only fake")
}
func (f *fakeShared) Load(context.Context, func(Change) error) (uint64, error) { return 0, nil }
func (f *fakeShared) Ping(context.Context) error                               { return nil }
func (f *fakeShared) Close() error                                             { return nil }
func (f *fakeShared) Notify() <-chan struct{}                                  { return f.wake }

// held waits, as a call on a silent link does, until the link is back
// (the held bytes then arrive) or ctx ends.
func (f *fakeShared) held(ctx context.Context) error {
	for f.silent.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func (f *fakeShared) Since(ctx context.Context, _ uint64, _ int) ([]Change, error) {
	return nil, f.held(ctx)
}

func (f *fakeShared) Head(ctx context.Context) (uint64, error) {
	if err := f.held(ctx); err != nil {
		return 0, err
	}
	return f.head.Load(), nil
}

func openFake(t testing.TB, clock func() time.Time) (*Store, *fakeShared) {
	f := &fakeShared{wake: make(chan struct{})}
	s, err := OpenWith(context.Background(), f, slog.New(slog.DiscardHandler), Options{MaxStaleness: 2 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, f
}

// TestFreshnessFollowsConfirmations: a shared store is fresh only while its
// last confirmation is within the bound; a probe that hangs confirms
// nothing; a head above every record (sequence gaps) is confirmed by a
// catch-up, not by waiting for a record that never comes.
func TestFreshnessFollowsConfirmations(t *testing.T) {
	clock := clocktest.At(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s, f := openFake(t, clock.Now)
	if err := s.Fresh(); err != nil {
		t.Fatalf("just loaded: %v", err)
	}
	clock.Advance(3 * time.Second)
	if err := s.Fresh(); !errors.Is(err, ErrStale) {
		t.Fatalf("3 s without a confirmation: Fresh() = %v, want ErrStale", err)
	}
	s.probeOnce()
	if err := s.Fresh(); err != nil {
		t.Fatalf("after a probe: %v", err)
	}

	f.silent.Store(true)
	clock.Advance(time.Second)
	s.probeOnce() // hangs until its timeout
	if err := s.Fresh(); err != nil {
		t.Fatalf("1 s after the last confirmation: %v", err)
	}
	clock.Advance(1500 * time.Millisecond)
	if err := s.Fresh(); !errors.Is(err, ErrStale) {
		t.Fatalf("2.5 s after the last confirmation, link silent: Fresh() = %v, want ErrStale", err)
	}

	f.silent.Store(false)
	f.head.Store(7) // seven sequence numbers, none of them a record
	s.probeOnce()
	if err := s.Fresh(); err != nil {
		t.Fatalf("link back: %v", err)
	}
	if s.Applied() != 7 || s.Seq() != 0 {
		t.Errorf("Applied() = %d, Seq() = %d; want 7 and 0", s.Applied(), s.Seq())
	}
}

// TestEmbeddedStoreIsNeverStale: without a shared backend there is nothing
// to be behind.
func TestEmbeddedStoreIsNeverStale(t *testing.T) {
	clock := clocktest.At(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s, err := OpenWith(context.Background(), soloBackend{}, slog.New(slog.DiscardHandler), Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock.Advance(time.Hour)
	if err := s.Fresh(); err != nil || s.Staleness() != 0 {
		t.Errorf("Fresh() = %v, Staleness() = %v", err, s.Staleness())
	}
}

type soloBackend struct{}

func (soloBackend) Commit(context.Context, []Mutation) ([]Change, error)     { return nil, nil }
func (soloBackend) Load(context.Context, func(Change) error) (uint64, error) { return 0, nil }
func (soloBackend) Ping(context.Context) error                               { return nil }
func (soloBackend) Close() error                                             { return nil }

// TestCatchUpCoalesces: many concurrent callers share few catch-up rounds.
func TestCatchUpCoalesces(t *testing.T) {
	s, _ := openFake(t, time.Now)
	var wg sync.WaitGroup
	start := time.Now()
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.CatchUp(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rounds := time.Since(start)/catchUpEvery + 2
	if n := s.catchUp.rounds.Load(); n > int64(rounds) {
		t.Errorf("500 callers took %d catch-up rounds in %v, want at most %d (one per %v)", n, time.Since(start), rounds, catchUpEvery)
	}
}

// BenchmarkFresh is the check every proxied request makes.
func BenchmarkFresh(b *testing.B) {
	s, _ := openFake(b, time.Now)
	s.probeOnce()
	b.ReportAllocs()
	for b.Loop() {
		if s.Fresh() != nil {
			b.Fatal("stale")
		}
	}
}
