package posture

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // device zones resolve the same on minimal images

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// ActionQueue queues a remote action for a device; package enrollment
// implements it. Posture uses it for the `notify` step (a "message"
// action) and for the selective wipe a quarantine may queue.
type ActionQueue interface {
	Enqueue(ctx context.Context, deviceID, actionType string, params map[string]string, requestedBy string) error
}

// RequestedBy is the actor posture names when it queues an action or writes history.
const RequestedBy = "system:posture"

// Options are the Engine's dependencies.
type Options struct {
	Store   *store.Store
	Clock   func() time.Time
	Log     *slog.Logger
	Config  *Config     // nil = Default()
	Actions ActionQueue // nil = actions are logged, not queued
	// Waves, when set, are the rollout waves ("<plan>/<wave>") of a
	// device's owner: a report-only policy whose enforce_for names one of
	// them is enforced for the device (see Config.ForWaves).
	Waves func(*store.Device) []string
	// TickInterval is how often Run moves ladders and staleness forward (default 1m).
	TickInterval time.Duration
	// PurgeInterval is how often a tick also runs the retention purge (default 1h).
	PurgeInterval time.Duration
}

// Engine computes and stores device compliance and trust: on every posture
// report, on external observations, on lifecycle changes and as time passes.
type Engine struct {
	st      *store.Store
	clock   func() time.Time
	log     *slog.Logger
	actions ActionQueue
	cfg     atomic.Pointer[Config]
	waves   func(*store.Device) []string

	tickEvery, purgeEvery time.Duration
	locks                 [256]sync.Mutex // per-device read-modify-write, striped
	zones                 sync.Map        // zone name -> *time.Location (valid names only)
	purgeMu               sync.Mutex
	lastPurge             time.Time
}

// New builds an Engine. Store and Clock are required.
func New(o Options) (*Engine, error) {
	if o.Store == nil || o.Clock == nil {
		return nil, errors.New("posture: New needs a Store and a Clock")
	}
	e := &Engine{st: o.Store, clock: o.Clock, log: o.Log, actions: o.Actions, waves: o.Waves, tickEvery: o.TickInterval, purgeEvery: o.PurgeInterval}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.tickEvery <= 0 {
		e.tickEvery = time.Minute
	}
	if e.purgeEvery <= 0 {
		e.purgeEvery = time.Hour
	}
	cfg := o.Config
	if cfg == nil {
		cfg = Default()
	}
	e.cfg.Store(cfg)
	return e, nil
}

// Config returns the configuration in force.
func (e *Engine) Config() *Config { return e.cfg.Load() }

// SetConfig swaps the configuration (on reload). Call RecomputeAll after
// it so stored trust follows the new policies.
func (e *Engine) SetConfig(c *Config) { e.cfg.Store(c) }

// Profile returns the device's effective data profile.
func (e *Engine) Profile(d *store.Device) DataProfile { return e.Config().Profile(d) }

// lock serialises read-modify-write of one device.
func (e *Engine) lock(deviceID string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(deviceID))
	m := &e.locks[h.Sum32()%uint32(len(e.locks))]
	m.Lock()
	return m.Unlock
}

// zone resolves an IANA zone name, caching valid ones.
func (e *Engine) zone(name string) *time.Location {
	if name == "" {
		return nil
	}
	if v, ok := e.zones.Load(name); ok {
		return v.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil
	}
	e.zones.Store(name, loc)
	return loc
}

func errUnknown() error {
	return &apperr.Error{Code: apperr.NotFound, Msg: "unknown device", Err: ErrUnknownDevice}
}

func errRetired(state store.DeviceState) error {
	return &apperr.Error{Code: apperr.Forbidden, Msg: "the device is " + string(state) + " and may no longer report", Err: ErrRetired}
}

func errReplay(msg string) error {
	return &apperr.Error{Code: apperr.Conflict, Msg: msg, Err: ErrReplay}
}

// device returns a device that may still report.
func (e *Engine) device(id string) (*store.Device, error) {
	d, ok := e.st.Device(id)
	if !ok {
		return nil, errUnknown()
	}
	if d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		return nil, errRetired(d.State)
	}
	return d, nil
}

// queued is an action to queue once the state that caused it is durable.
type queued struct {
	typ    string
	params map[string]string
}

// enqueue queues actions after their cause was written: at most once.
func (e *Engine) enqueue(ctx context.Context, deviceID string, qs []queued) {
	for _, q := range qs {
		if e.actions == nil {
			e.log.Warn("posture: no action queue; action not sent", "device", deviceID, "type", q.typ)
			continue
		}
		if err := e.actions.Enqueue(ctx, deviceID, q.typ, q.params, RequestedBy); err != nil {
			e.log.Error("posture: cannot queue action", "device", deviceID, "type", q.typ, "err", err)
		}
	}
}
