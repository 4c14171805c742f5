package enrollment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// device returns a device by id, or a not-found client error.
func (s *Service) device(id string) (*store.Device, error) {
	d, ok := s.st.Device(id)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no device %q", id)
	}
	return d, nil
}

// revokeOps returns the writes that revoke every unexpired certificate
// issued to a device (a renewed device has several), so none of them
// opens anything any more, and the serials they revoke. The caller commits
// them in the same Write as the records that say why (the device retired,
// the action acknowledged): a replica that dies mid-way leaves neither.
func (s *Service) revokeOps(deviceID string, reasonCode int, why string) ([]store.Op, []string, error) {
	it, err := s.st.Txn().Get(string(store.KindCertificate), "device", deviceID)
	if err != nil {
		return nil, nil, fmt.Errorf("enrollment: list certificates of %s: %w", deviceID, err)
	}
	now := s.clock()
	var ops []store.Op
	var serials []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		c := raw.(*store.Certificate)
		if !c.NotAfter.After(now) {
			continue
		}
		op, ok, err := s.ca.RevokeOp(c.ID, reasonCode, why)
		if err != nil {
			return nil, nil, fmt.Errorf("enrollment: revoke certificate %s of %s: %w", c.ID, deviceID, err)
		}
		if ok {
			ops, serials = append(ops, op), append(serials, c.ID)
		}
	}
	return ops, serials, nil
}

// revokeAttempts bounds how often writeRevoking builds its write again
// after losing a race to revoke one of the serials.
const revokeAttempts = 3

// writeRevoking commits, in one Write, the revocation of every unexpired
// certificate of a device together with the ops build returns (given the
// revocation ops, which it must include). When another writer revoked one
// of the serials first (the Write fails with store.ErrExists), it catches
// up and builds the write again; any other ErrExists (an idempotency key
// claimed meanwhile) is returned as is.
func (s *Service) writeRevoking(ctx context.Context, deviceID string, reasonCode int, why string, build func(revs []store.Op) []store.Op) error {
	for attempt := 1; ; attempt++ {
		revs, serials, err := s.revokeOps(deviceID, reasonCode, why)
		if err != nil {
			return err
		}
		err = s.st.Write(ctx, build(revs)...)
		if err == nil {
			for _, serial := range serials {
				s.log.Info("enrollment: revoked certificate", "serial", serial, "device", deviceID,
					"reason_code", reasonCode, "reason", why)
			}
			return nil
		}
		if !errors.Is(err, store.ErrExists) || len(serials) == 0 || attempt == revokeAttempts {
			return err
		}
		if _, raced := store.Find(s.st, func() (string, bool) { return anyRevoked(s.st, serials) }); !raced {
			return err
		}
	}
}

// anyRevoked returns the first of serials that is revoked.
func anyRevoked(st *store.Store, serials []string) (string, bool) {
	for _, serial := range serials {
		if st.IsRevoked(serial) {
			return serial, true
		}
	}
	return "", false
}

// retireOps returns the writes that take a device out of management:
// its state, its browser device credentials, its open actions, and the
// history entry. The certificates' revocation goes in the same Write
// (writeRevoking). The action
// keep (the one retiring the device, if any) is left to the caller.
func (s *Service) retireOps(d *store.Device, state store.DeviceState, now time.Time, why, keep string) []store.Op {
	cp := *d
	cp.State = state
	cp.Trust = store.TrustUntrusted
	cp.Compliant = false
	cp.RetiredAt = now.UTC()
	ops := []store.Op{store.Put(&cp),
		store.Put(store.NewDeviceEvent(now, d.ID, string(state), map[string]string{"reason": why}))}
	if u, ok := s.st.UserByEmail(d.OwnerEmail); ok && d.OwnerEmail != "" {
		for _, c := range s.st.CredentialsOf(u.ID) {
			if c.Purpose == "device" && c.DeviceID == d.ID {
				ops = append(ops, store.Delete(store.KindCredential, c.ID))
			}
		}
	}
	for _, a := range s.st.ActionsOf(d.ID) {
		if open(a.Status) && a.ID != keep {
			ac := *a
			ac.Status, ac.DoneAt, ac.Result = store.ActionExpired, now.UTC(), "the device was "+string(state)
			ops = append(ops, store.Put(&ac))
		}
	}
	return ops
}

// Retire takes a device out of management: every certificate it holds is
// revoked (the proxy refuses it at its next request), its browser device
// credentials are removed, and its open actions are closed. Retiring a
// retired device again does nothing.
func (s *Service) Retire(ctx context.Context, a Actor, id, why string) (*store.Device, error) {
	d, err := s.device(id)
	if err != nil || retired(d) {
		return d, err
	}
	if why == "" {
		why = "retired by " + a.ID
	}
	now := s.clock()
	err = s.writeRevoking(ctx, id, ca.ReasonCessationOfOperation, why, func(revs []store.Op) []store.Op {
		cur := d
		if c, ok := s.st.Device(id); ok {
			cur = c
		}
		ops := append(revs, s.retireOps(cur, store.DeviceRetired, now, why, "")...)
		return append(ops, s.auditOp(a, now, "device.retire", id, map[string]string{"reason": why}))
	})
	if err != nil {
		return nil, err
	}
	d, _ = s.st.Device(id)
	return d, nil
}

// setState moves an enrolled device between active and quarantined, then
// lets the posture engine recompute its trust.
func (s *Service) setState(ctx context.Context, a Actor, id string, to store.DeviceState, why string, extra ...store.Op) (*store.Device, error) {
	d, err := s.device(id)
	if err != nil {
		return nil, err
	}
	if retired(d) {
		return nil, apperr.New(apperr.Conflict, "device %s was %s; enroll it again instead", id, d.State)
	}
	now := s.clock()
	cp := *d
	cp.State = to
	if to == store.DeviceQuarantined {
		cp.Trust = store.TrustUntrusted
	}
	detail := map[string]string{"from": string(d.State)}
	if why != "" {
		detail["reason"] = why
	}
	ops := append([]store.Op{store.Put(&cp), store.Put(store.NewDeviceEvent(now, id, string(to), detail)),
		s.auditOp(a, now, "device."+string(to), id, detail)}, extra...)
	if err := s.st.Write(ctx, ops...); err != nil {
		return nil, err
	}
	if eng := s.postureEngine(); eng != nil {
		if err := eng.Recompute(ctx, id); err != nil {
			s.log.Warn("enrollment: trust recompute after a state change failed", "device", id, "err", err)
		}
	}
	d, _ = s.st.Device(id)
	return d, nil
}

// Quarantine marks a device quarantined: untrusted at the proxy's next
// request until released, while its agent keeps reporting and taking
// actions.
func (s *Service) Quarantine(ctx context.Context, a Actor, id, why string) (*store.Device, error) {
	return s.setState(ctx, a, id, store.DeviceQuarantined, why)
}

// Release ends a device's quarantine; posture decides its trust again.
func (s *Service) Release(ctx context.Context, a Actor, id string) (*store.Device, error) {
	d, err := s.device(id)
	if err != nil {
		return nil, err
	}
	if d.State == store.DeviceActive {
		return d, nil
	}
	if d.State != store.DeviceQuarantined && d.State != store.DevicePending {
		return nil, apperr.New(apperr.Conflict, "device %s is %s, not quarantined", id, d.State)
	}
	d, err = s.setState(ctx, a, id, store.DeviceActive, "")
	if err != nil {
		return nil, err
	}
	// A quarantine may come from the compliance ladder: start it again.
	if eng := s.postureEngine(); eng != nil {
		if err := eng.ResetEscalation(ctx, id, a.ID); err != nil {
			s.log.Warn("enrollment: cannot reset the escalation of a released device", "device", id, "err", err)
		}
		d, _ = s.st.Device(id)
	}
	return d, nil
}
