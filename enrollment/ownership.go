package enrollment

import (
	"context"
	"github.com/portier/portier/mailaddr"
	"strings"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// selfServicePrefix starts the actor id of a code an employee created for
// themself on the enrollment page. Such a code carries the ownership the
// employee asked for, which is only a request: the organization decides.
const selfServicePrefix = "user:"

// SelfServiceActor is the actor of a self-service code: the signed-in
// employee, who may ask for any ownership but is granted at most byod
// unless the organization's records (expected devices) or an
// administrator's approval say more.
func SelfServiceActor(email, remoteIP string) Actor {
	return Actor{ID: selfServicePrefix + email, RemoteIP: remoteIP}
}

// selfService reports whether a code was created by an employee for
// themself rather than by an administrator (API token) or the system.
func selfService(c *store.EnrollCode) bool { return strings.HasPrefix(c.CreatedBy, selfServicePrefix) }

// keyProtection reads how the agent says the key is stored (anything but
// "hardware" is software) and the source to record with it: the agent's
// claim when it stated anything, "" when it was silent.
func keyProtection(s string) (protection, source string) {
	protection = store.KeySoftware
	if strings.EqualFold(strings.TrimSpace(s), store.KeyHardware) {
		protection = store.KeyHardware
	}
	if strings.TrimSpace(s) != "" {
		source = store.KeySourceAgent
	}
	return protection, source
}

// ownershipFor decides a new device's ownership, who decided it, and the
// ownership an employee asked for that is left for an administrator:
//
//   - a code or token an administrator created keeps its ownership, unless
//     the serial matches an expected device, whose ownership wins;
//   - a self-service code yields byod, and corporate or cope only when the
//     serial matches an expected device assigned to the same person;
//     anything more the employee asked for waits for approval.
//
// exp is the expected device matching the reported serial or the attested
// TPM (see expectedFor), if any; the
// returned exp is the one to apply (nil when a self-service enrollment
// does not match the person it was assigned to).
func ownershipFor(c *store.EnrollCode, exp *store.ExpectedDevice) (own store.Ownership, src string, requested store.Ownership, apply *store.ExpectedDevice) {
	if !selfService(c) {
		own, src = c.Ownership, store.OwnershipByAdmin
		if exp != nil && exp.Ownership != "" {
			own, src = exp.Ownership, store.OwnershipByExpected
		}
		return own, src, "", exp
	}
	// The serial is what the agent reports: only an expected device
	// assigned to this very person may vouch for it.
	if exp != nil && (exp.OwnerEmail == "" || !mailaddr.EqualFold(exp.OwnerEmail, c.UserEmail)) {
		exp = nil
	}
	if exp != nil && exp.Ownership != "" {
		return exp.Ownership, store.OwnershipByExpected, "", exp
	}
	if c.Ownership != store.OwnershipBYOD {
		requested = c.Ownership
	}
	return store.OwnershipBYOD, store.OwnershipBySelfService, requested, exp
}

// ApproveOwnership is an administrator deciding a device's ownership: own,
// or when empty the ownership its employee asked for. It clears the
// pending request, records the decision in the device's history and the
// audit log, and recomputes the device's trust.
func (s *Service) ApproveOwnership(ctx context.Context, a Actor, id string, own store.Ownership) (*store.Device, error) {
	d, err := s.device(id)
	if err != nil {
		return nil, err
	}
	if retired(d) {
		return nil, apperr.New(apperr.Conflict, "device %s was %s; enroll it again instead", id, d.State)
	}
	if own == "" {
		if !d.PendingApproval() {
			return nil, apperr.Field("ownership", "device %s has no pending ownership request: name the ownership to set (corporate, cope or byod)", id)
		}
		own = d.RequestedOwnership
	}
	if own, err = enrollOwnership("ownership", own); err != nil {
		return nil, err
	}
	now := s.clock()
	cp := *d
	cp.Ownership, cp.OwnershipSource, cp.RequestedOwnership = own, store.OwnershipByApproval, ""
	detail := map[string]string{"from": string(d.Ownership), "to": string(own)}
	if d.RequestedOwnership != "" {
		detail["requested"] = string(d.RequestedOwnership)
	}
	if err := s.st.Write(ctx, store.Put(&cp), store.Put(store.NewDeviceEvent(now, id, "ownership_approved", detail)),
		s.auditOp(a, now, "device.ownership.approve", id, detail)); err != nil {
		return nil, err
	}
	s.recompute(ctx, id)
	d, _ = s.st.Device(id)
	return d, nil
}

// SetShared marks a device as shared (any signed-in user of the
// organization counts as its user at the proxy) or gives it back to its
// owner alone. The change is audited.
func (s *Service) SetShared(ctx context.Context, a Actor, id string, shared bool) (*store.Device, error) {
	d, err := s.device(id)
	if err != nil {
		return nil, err
	}
	if retired(d) {
		return nil, apperr.New(apperr.Conflict, "device %s was %s; enroll it again instead", id, d.State)
	}
	if d.Shared == shared {
		return d, nil
	}
	now := s.clock()
	cp := *d
	cp.Shared = shared
	action := "device.share"
	if !shared {
		action = "device.unshare"
	}
	if err := s.st.Write(ctx, store.Put(&cp), store.Put(store.NewDeviceEvent(now, id, strings.TrimPrefix(action, "device."), nil)),
		s.auditOp(a, now, action, id, nil)); err != nil {
		return nil, err
	}
	d, _ = s.st.Device(id)
	return d, nil
}

// recompute lets the posture engine recompute a device's trust after a
// change of the facts it depends on.
func (s *Service) recompute(ctx context.Context, id string) {
	if eng := s.postureEngine(); eng != nil {
		if err := eng.Recompute(ctx, id); err != nil {
			s.log.Warn("enrollment: trust recompute failed", "device", id, "err", err)
		}
	}
}
