package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"
)

// maxBatch bounds how many writes one durable transaction groups.
const maxBatch = 512

// backendTimeout bounds each backend call of the writer, so one hung call
// cannot stall every writer forever.
const backendTimeout = 15 * time.Second

// Store is Portier's state: a durable Backend plus the memdb read model.
// Reads never touch the backend. Writes are grouped by one writer goroutine
// into as few durable transactions as possible, then applied to memdb in
// sequence order before Write returns.
type Store struct {
	be  Backend
	db  *memdb.MemDB
	log *slog.Logger

	seq     atomic.Uint64 // last sequence applied to memdb
	writes  chan *writeReq
	catchup chan struct{}
	syncs   chan chan error // Sync requests, served by the writer
	done    chan struct{}
	stopped chan struct{}
	closeMu sync.Once

	changedMu sync.Mutex
	changed   chan struct{} // closed and replaced after each applied batch

	// lastErr holds the writer's last backend error (nil when it
	// succeeded); read lock-free on every proxied request.
	lastErr atomic.Pointer[error]

	// Staleness (fresh.go): shared is set for a Follower backend;
	// confirmed is when (as time since base, on clock) the read model was
	// last confirmed caught up with the shared store's head.
	shared    bool
	maxStale  time.Duration
	clock     func() time.Time
	base      time.Time
	confirmed atomic.Int64
	headSeen  atomic.Uint64
	through   atomic.Uint64 // a head read before a catch-up that succeeded
	latency   atomic.Int64
	probeDone chan struct{}

	catchUp catchUp // read-your-writes (catchup.go)
}

type writeReq struct {
	ctx  context.Context
	muts []Mutation
	err  chan error
}

// Open loads every record of the backend into memdb and starts the writer,
// with the default Options.
// A record that cannot be decoded stops Open with an error naming it: the
// store is never reset silently.
func Open(ctx context.Context, be Backend, log *slog.Logger) (*Store, error) {
	return OpenWith(ctx, be, log, Options{})
}

// OpenWith is Open with options. On a shared backend it also starts the
// staleness probe (fresh.go).
func OpenWith(ctx context.Context, be Backend, log *slog.Logger, o Options) (*Store, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("store: memdb schema: %w", err)
	}
	s := &Store{
		be: be, db: db, log: log,
		writes:  make(chan *writeReq, maxBatch),
		catchup: make(chan struct{}, 1),
		syncs:   make(chan chan error),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		changed: make(chan struct{}),

		maxStale:  o.MaxStaleness,
		clock:     o.Clock,
		probeDone: make(chan struct{}),
	}
	if s.maxStale <= 0 {
		s.maxStale = DefaultMaxStaleness
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	_, s.shared = be.(Follower)
	s.base = s.clock()
	txn := db.Txn(true)
	var seq uint64
	if _, ok := be.(ConcurrentLoader); ok {
		seq, err = load(ctx, be, txn, loadWorkers())
	} else {
		seq, err = be.Load(ctx, func(c Change) error { return insert(txn, c) })
	}
	if err != nil {
		txn.Abort()
		return nil, err
	}
	txn.Commit()
	s.seq.Store(seq)
	go s.run()
	if s.shared {
		go s.probeLoop() // the snapshot just loaded counts as confirmed at base
	} else {
		close(s.probeDone)
	}
	return s, nil
}

// Close stops the writer. It does not close the backend.
func (s *Store) Close() {
	s.closeMu.Do(func() { close(s.done) })
	<-s.stopped
	<-s.probeDone
}

// Seq is the last change sequence applied to the read model.
func (s *Store) Seq() uint64 { return s.seq.Load() }

// Txn opens a read transaction on the read model. Objects read from it must
// never be modified: copy, change the copy, and Write it.
func (s *Store) Txn() *memdb.Txn { return s.db.Txn(false) }

// Changed returns a channel closed at the next applied batch.
func (s *Store) Changed() <-chan struct{} {
	s.changedMu.Lock()
	defer s.changedMu.Unlock()
	return s.changed
}

// Healthy reports the backend's last known state: nil when reachable.
func (s *Store) Healthy(ctx context.Context) error {
	if err := s.be.Ping(ctx); err != nil {
		return err
	}
	return s.LastError()
}

// LastError is the backend error of the writer's last commit or catch-up,
// nil when it succeeded. It is cheap enough for every request: the proxy
// fails closed while the shared store cannot be followed.
func (s *Store) LastError() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Op is one write: see Put, Create and Delete.
type Op struct {
	m   Mutation
	err error
}

// Put writes a record, replacing any record of the same kind and id.
func Put(r Record) Op { return encodeOp(r, false) }

// Create writes a record only if none of its kind and id exists; otherwise
// the whole Write fails with ErrExists.
func Create(r Record) Op { return encodeOp(r, true) }

// Update writes a record only if one of its kind and id exists; otherwise
// the whole Write fails with ErrNotFound.
func Update(r Record) Op {
	op := encodeOp(r, false)
	op.m.Update = true
	return op
}

// Delete removes a record; deleting a missing record is not an error.
func Delete(k Kind, id string) Op { return Op{m: Mutation{Kind: k, ID: id}} }

func encodeOp(r Record, create bool) Op {
	b, err := Encode(r)
	if err == nil && r.Key() == "" {
		err = fmt.Errorf("store: %s record with an empty id", r.Kind())
	}
	return Op{m: Mutation{Kind: r.Kind(), ID: r.Key(), Value: b, Create: create}, err: err}
}

// Write makes ops durable in one transaction, then visible in the read
// model, before it returns.
func (s *Store) Write(ctx context.Context, ops ...Op) error {
	req := &writeReq{ctx: ctx, muts: make([]Mutation, len(ops)), err: make(chan error, 1)}
	for i, op := range ops {
		if op.err != nil {
			return op.err
		}
		req.muts[i] = op.m
	}
	muts, err := s.withEmailClaims(req.muts)
	if err != nil {
		return err
	}
	req.muts = muts
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return errors.New("store: closed")
	}
	select {
	case err := <-req.err:
		if errors.Is(err, ErrExists) && len(muts) > len(ops) {
			return s.emailTaken(muts[len(ops):], err)
		}
		return err
	case <-ctx.Done():
		// The write may still land; the caller only stops waiting.
		return ctx.Err()
	}
}

// run is the single writer: it owns memdb writes and the backend commits.
func (s *Store) run() {
	defer close(s.stopped)
	var notify <-chan struct{}
	var tick <-chan time.Time
	if f, ok := s.be.(Follower); ok {
		notify = f.Notify()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.done:
			return
		case req := <-s.writes:
			s.commit(s.gather(req))
		case c := <-s.syncs:
			c <- s.follow()
		case <-notify:
			s.follow()
		case <-tick:
			s.follow()
		}
	}
}

// gather takes req and whatever other writes are already waiting.
func (s *Store) gather(first *writeReq) []*writeReq {
	batch := []*writeReq{first}
	for len(batch) < maxBatch {
		select {
		case r := <-s.writes:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (s *Store) commit(batch []*writeReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	var muts []Mutation
	for _, r := range live {
		muts = append(muts, r.muts...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	changes, err := s.be.Commit(ctx, muts)
	cancel()
	err = unavailable(err)
	if refused(err) && len(live) > 1 {
		// One request's condition failed; do not fail its neighbours with it.
		for _, r := range live {
			s.commit([]*writeReq{r})
		}
		return
	}
	if err == nil {
		err = s.apply(changes)
	}
	if !refused(err) {
		s.setHealth(err) // a refused condition is an answer, not an outage
	}
	for _, r := range live {
		r.err <- err
	}
}

// apply brings memdb up to date with changes just committed here. For a
// shared backend other processes may have committed in between, so catch up
// by sequence instead.
func (s *Store) apply(changes []Change) error {
	if _, ok := s.be.(Follower); ok {
		return s.follow()
	}
	return s.insertAll(changes)
}

// follow catches up with a shared backend, in sequence order. All pages of
// one catch-up are applied in one memdb transaction, so readers never see
// half of another process's commit.
func (s *Store) follow() error {
	f := s.be.(Follower)
	var all []Change
	next := s.seq.Load()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		changes, err := f.Since(ctx, next, 1000)
		cancel()
		if err != nil {
			s.setHealth(err)
			return fmt.Errorf("store: catch up: %w", err)
		}
		if len(changes) == 0 {
			break
		}
		all = append(all, changes...)
		next = changes[len(changes)-1].Seq
	}
	s.setHealth(nil)
	return s.insertAll(all)
}

func (s *Store) insertAll(changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	txn := s.db.Txn(true)
	for _, c := range changes {
		if c.Seq <= s.seq.Load() {
			continue
		}
		if err := insert(txn, c); err != nil {
			txn.Abort()
			s.log.Error("store: cannot apply change", "seq", c.Seq, "kind", c.Kind, "id", c.ID, "err", err)
			return err
		}
	}
	txn.Commit()
	s.seq.Store(changes[len(changes)-1].Seq)
	s.changedMu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.changedMu.Unlock()
	return nil
}

func (s *Store) setHealth(err error) {
	if err == nil {
		s.lastErr.Store(nil)
		return
	}
	s.lastErr.Store(&err)
}

// insert applies one change to txn.
func insert(txn *memdb.Txn, c Change) error {
	r, err := decodeChange(c)
	if err != nil {
		return err
	}
	return put(txn, c, r)
}

// outside reports whether records of kind k are known but kept out of the
// read model (the audit log, history kinds).
func outside(k Kind) bool {
	if InReadModel(k) {
		return false
	}
	_, known := specs[k]
	return known
}

// decodeChange decodes the record c writes; nil for a delete or a kind
// kept outside the read model. It is safe for concurrent use.
func decodeChange(c Change) (Record, error) {
	if outside(c.Kind) || c.Deleted || c.Value == nil {
		return nil, nil
	}
	r, err := Decode(c.Kind, c.Value)
	if err != nil {
		return nil, fmt.Errorf("store: record %s/%s is corrupt: %w", c.Kind, c.ID, err)
	}
	return r, nil
}

// put applies c to txn, with r its record decoded by decodeChange.
func put(txn *memdb.Txn, c Change, r Record) error {
	if outside(c.Kind) {
		return nil // the audit log and history are read from the backend
	}
	table := string(c.Kind)
	if c.Deleted || c.Value == nil {
		if _, err := txn.DeleteAll(table, "id", c.ID); err != nil {
			return fmt.Errorf("store: delete %s/%s: %w", c.Kind, c.ID, err)
		}
		return nil
	}
	if err := txn.Insert(table, r); err != nil {
		return fmt.Errorf("store: index %s/%s: %w", c.Kind, c.ID, err)
	}
	return nil
}
