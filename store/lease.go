package store

import (
	"context"
	"log/slog"
	"time"
)

// Leases hand a named background job to one replica at a time. On
// PostgreSQL a lease is a row with a holder and an expiry kept by the
// database's clock; the embedded store is one process, which always holds
// every lease (SoloLeases).
type Leases interface {
	// Acquire takes the lease name for holder until ttl from now, or
	// extends it if holder has it already; it reports whether holder holds
	// it now. A lease whose holder stopped renewing it is free once its
	// expiry has passed.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Release gives the lease up if holder holds it, so that another
	// replica may take it at once.
	Release(ctx context.Context, name, holder string) error
}

// SoloLeases is the Leases of a single-process store: the one process
// always holds every lease.
type SoloLeases struct{}

// Acquire implements Leases: always held.
func (SoloLeases) Acquire(context.Context, string, string, time.Duration) (bool, error) {
	return true, nil
}

// Release implements Leases: nothing to give up.
func (SoloLeases) Release(context.Context, string, string) error { return nil }

// LeasesFor returns the Leases of a backend: its own when it is shared by
// several processes, else SoloLeases.
func LeasesFor(be Backend) Leases {
	if l, ok := be.(Leases); ok {
		return l
	}
	return SoloLeases{}
}

// Leased runs job while holder holds the lease name, until ctx ends. It
// tries to acquire the lease every ttl/3; once it holds it, it starts job
// with a context that is cancelled as soon as a renewal (every ttl/3,
// bounded by ttl/3) fails, so job stops before the lease can expire and
// another replica take it. When ctx ends it cancels job, waits for it and
// releases the lease. A replica that dies without releasing loses the
// lease ttl after its last renewal; another replica then takes it within
// ttl/3.
func Leased(ctx context.Context, l Leases, name, holder string, ttl time.Duration, log *slog.Logger, job func(context.Context)) {
	every := ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	var stop context.CancelFunc
	var finished chan struct{}
	end := func() {
		if stop != nil {
			stop()
			<-finished
			stop = nil
		}
	}
	defer func() {
		end()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
		defer cancel()
		if err := l.Release(rctx, name, holder); err != nil {
			log.Warn("lease: cannot release; it expires by itself", "lease", name, "err", err)
		}
	}()
	for {
		actx, cancel := context.WithTimeout(ctx, every)
		held, err := l.Acquire(actx, name, holder, ttl)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || !held:
			if stop != nil {
				log.Warn("lease: lost; the job stops here", "lease", name, "err", err)
			}
			end()
		case stop == nil:
			log.Info("lease: acquired; the job runs here", "lease", name, "holder", holder)
			stop, finished = startJob(ctx, job)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startJob runs job in a goroutine with a context of its own; finished is
// closed when job returns.
func startJob(ctx context.Context, job func(context.Context)) (stop context.CancelFunc, finished chan struct{}) {
	jctx, cancel := context.WithCancel(ctx)
	finished = make(chan struct{})
	go func() {
		defer close(finished)
		job(jctx)
	}()
	return cancel, finished
}

// LeaseHolder is who holds a lease now (the cluster view).
type LeaseHolder struct {
	Name, Holder string
}

// LeaseLister lists the leases held now; the shared store implements it
// (the embedded store's one process holds them all).
type LeaseLister interface {
	Holders(ctx context.Context) ([]LeaseHolder, error)
}
