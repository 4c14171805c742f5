package posture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

// purgeBatch is how many deletions one store write carries.
const purgeBatch = 500

// PurgeStats counts what one purge removed.
type PurgeStats struct {
	Events    int `json:"events"`
	Actions   int `json:"actions"`
	Postures  int `json:"postures"`  // postures whose signals were cleared
	External  int `json:"external"`  // external observations removed
	Locations int `json:"locations"` // postures that lost their position
}

// Purge applies the retention periods at now: device history and
// finished actions older than theirs are deleted; a posture not refreshed
// within the posture retention keeps only its report counter (so an old
// report cannot be replayed); external observations past the posture
// retention and positions past the location retention (or no longer
// allowed) are removed.
func (e *Engine) Purge(ctx context.Context, now time.Time) error {
	st, err := e.purge(ctx, now)
	if st != (PurgeStats{}) {
		e.log.Info("posture: retention purge", "events", st.Events, "actions", st.Actions, "postures", st.Postures, "external", st.External, "locations", st.Locations)
	}
	return err
}

func (e *Engine) purge(ctx context.Context, now time.Time) (PurgeStats, error) {
	cfg := e.Config()
	var st PurgeStats
	var ops []store.Op
	var errs []error
	flush := func() {
		if len(ops) > 0 {
			if err := e.st.Write(ctx, ops...); err != nil {
				errs = append(errs, fmt.Errorf("posture: purge: %w", err))
			}
			ops = ops[:0]
		}
	}
	// Event ids sort by time: stop at the first one young enough to keep.
	cutoff := now.Add(-cfg.Privacy.Retention.Events)
	it, err := e.st.Txn().Get(string(store.KindDeviceEvent), "id")
	if err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			ev := raw.(*store.DeviceEvent)
			if !ev.At.Before(cutoff) {
				break
			}
			ops = append(ops, store.Delete(store.KindDeviceEvent, ev.ID))
			st.Events++
			if len(ops) >= purgeBatch {
				flush()
			}
		}
	}
	cutoff = now.Add(-cfg.Privacy.Retention.Actions)
	for _, a := range e.st.Actions() {
		done := a.DoneAt
		if done.IsZero() && now.After(a.ExpiresAt) && !a.ExpiresAt.IsZero() {
			done = a.ExpiresAt // never finished: it counts from its expiry
		}
		if !done.IsZero() && done.Before(cutoff) {
			ops = append(ops, store.Delete(store.KindAction, a.ID))
			st.Actions++
			if len(ops) >= purgeBatch {
				flush()
			}
		}
	}
	flush()
	for _, p := range e.st.Postures() {
		if ctx.Err() != nil {
			break
		}
		if err := e.purgePosture(ctx, cfg, p.ID, now, &st); err != nil {
			errs = append(errs, err)
		}
	}
	return st, errors.Join(errs...)
}

var locationPrefix = []byte(`"location.`)

// purgePosture trims one posture under the device's lock.
func (e *Engine) purgePosture(ctx context.Context, cfg *Config, id string, now time.Time, st *PurgeStats) error {
	p, ok := e.st.Posture(id)
	if !ok {
		return nil
	}
	keep := cfg.Privacy.Retention.Posture
	stale := p.ReportedAt.Before(now.Add(-keep)) && len(p.Signals) > 0 && string(p.Signals) != "null"
	oldExt := false
	for _, raw := range p.External {
		var x externalEntry
		if json.Unmarshal(raw, &x) != nil || x.ReceivedAt.Before(now.Add(-keep)) {
			oldExt = true
		}
	}
	hasLoc := bytes.Contains(p.Signals, locationPrefix)
	if !stale && !oldExt && !hasLoc {
		return nil
	}
	unlock := e.lock(id)
	defer unlock()
	p, ok = e.st.Posture(id)
	if !ok {
		return nil
	}
	np := *p
	dirty := false
	if p.ReportedAt.Before(now.Add(-keep)) && len(p.Signals) > 0 && string(p.Signals) != "null" {
		np.Signals = nil
		st.Postures++
		dirty = true
	} else if bytes.Contains(p.Signals, locationPrefix) {
		d, _ := e.st.Device(id)
		sigs, err := DecodeSignals(p.Signals)
		if err != nil {
			return fmt.Errorf("posture: purge %s: %w", id, err)
		}
		kept := sigs[:0]
		for _, s := range sigs {
			if catalog[s.Name].group == GroupLocation && (d == nil || !cfg.locationAllowed(d) || s.CollectedAt.Before(now.Add(-cfg.Privacy.Location.Retention))) {
				continue
			}
			kept = append(kept, s)
		}
		if removed := len(sigs) - len(kept); removed > 0 {
			st.Locations++
			dirty = true
			if np.Signals, err = json.Marshal(kept); err != nil {
				return err
			}
		}
	}
	if len(p.External) > 0 {
		np.External = make(map[string]json.RawMessage, len(p.External))
		for name, raw := range p.External {
			var x externalEntry
			if json.Unmarshal(raw, &x) != nil || x.ReceivedAt.Before(now.Add(-keep)) {
				st.External++
				dirty = true
				continue
			}
			np.External[name] = raw
		}
	}
	if !dirty {
		return nil
	}
	if err := e.st.Write(ctx, store.Put(&np)); err != nil {
		return fmt.Errorf("posture: purge %s: %w", id, err)
	}
	return nil
}
