package store

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/hashicorp/go-memdb"
)

// loadBatch is how many records the loader hands a decoder at a time: large
// enough that the channel hand-offs cost little beside the decoding, small
// enough that the batches in flight stay a few megabytes.
const loadBatch = 256

// batch is a run of changes read in order, decoded by one worker.
type batch struct {
	changes []Change
	recs    []Record // recs[i] decoded from changes[i]; nil: delete or skip
	err     error    // the first decode error in the batch, naming the record
	done    chan struct{}
}

// errLoadStopped ends the backend's Load once inserting has failed.
var errLoadStopped = errors.New("store: load stopped")

// load reads every record of be into txn and returns the sequence the
// snapshot is consistent at. The backend's rows are read on one goroutine,
// decoded on workers goroutines a batch at a time, and inserted in the
// order read on the caller's goroutine (memdb transactions are not safe for
// concurrent use), so the first record that cannot be decoded or indexed,
// in read order, is the one the error names, as when it was all
// sequential. At most 2×workers+3 batches are in flight: those queued for
// insertion, the one being inserted, the one being sent and the one being
// filled.
func load(ctx context.Context, be Backend, txn *memdb.Txn, workers int) (uint64, error) {
	if workers < 1 {
		workers = 1
	}
	work := make(chan *batch, workers)
	ordered := make(chan *batch, 2*workers)
	stop := make(chan struct{})

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				b.decode()
			}
		})
	}

	type result struct {
		seq uint64
		err error
	}
	loaded := make(chan result, 1)
	go func() {
		defer close(ordered)
		defer close(work)
		cur := &batch{changes: make([]Change, 0, loadBatch)}
		send := func() error {
			cur.done = make(chan struct{})
			select {
			case work <- cur:
			case <-stop:
				return errLoadStopped
			}
			select {
			case ordered <- cur:
			case <-stop:
				return errLoadStopped
			}
			cur = &batch{changes: make([]Change, 0, loadBatch)}
			return nil
		}
		seq, err := be.Load(ctx, func(c Change) error {
			cur.changes = append(cur.changes, c)
			if len(cur.changes) == loadBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(cur.changes) > 0 {
			err = send()
		}
		loaded <- result{seq, err}
	}()

	var insertErr error
	for b := range ordered {
		if insertErr != nil {
			continue // drain: the loader stops at its next send
		}
		<-b.done
		if insertErr = b.insert(txn); insertErr != nil {
			close(stop)
		}
	}
	wg.Wait()
	res := <-loaded
	if insertErr != nil {
		return 0, insertErr
	}
	return res.seq, res.err
}

// maxLoadWorkers caps the decoders: past a few, the single inserting
// goroutine is the bottleneck and more decoders only hold more batches.
const maxLoadWorkers = 8

// loadWorkers is how many goroutines decode records during a load: one
// per usable core, at most maxLoadWorkers.
func loadWorkers() int { return min(runtime.GOMAXPROCS(0), maxLoadWorkers) }

// decode decodes every change of the batch, stopping at the first that
// fails.
func (b *batch) decode() {
	defer close(b.done)
	b.recs = make([]Record, len(b.changes))
	for i, c := range b.changes {
		r, err := decodeChange(c)
		if err != nil {
			b.err = err
			b.changes = b.changes[:i] // insert those before it, then fail
			return
		}
		b.recs[i] = r
	}
}

// insert puts the batch's decoded changes into txn, in order, and then
// returns the batch's decode error if it had one.
func (b *batch) insert(txn *memdb.Txn) error {
	for i, c := range b.changes {
		if err := put(txn, c, b.recs[i]); err != nil {
			return err
		}
	}
	return b.err
}
