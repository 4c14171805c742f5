package posture

import "github.com/portier/portier/store"

// baseTrust is what a compliant, fresh device of this kind earns: full
// management (corporate, COPE) is high; a BYOD work profile manages only
// part of the device, so it tops out at medium.
func baseTrust(d *store.Device) store.Trust {
	switch {
	case d.Ownership == store.OwnershipBYOD || d.WorkProfile:
		return store.TrustMedium
	case d.Ownership == store.OwnershipCorporate || d.Ownership == store.OwnershipCOPE:
		return store.TrustHigh
	}
	return store.TrustUntrusted
}

// overTrusted reports whether a device's stored trust is above what its
// ownership and key protection can earn at all: the scheduler recomputes
// such a device at its next pass instead of waiting for a report.
func overTrusted(d *store.Device) bool {
	return d.Trust == store.TrustHigh && (baseTrust(d) != store.TrustHigh || !d.HardwareKey())
}

// trustOf applies the trust table (docs/compliance.md), first row that
// matches wins. High needs all of: an organization-owned device (corporate
// or COPE, fully managed), a hardware-bound key, and fresh, compliant
// posture; anything else is capped at medium.
func trustOf(d *store.Device, ev *Evaluation) (store.Trust, string) {
	switch {
	case d.State == store.DeviceRetired || d.State == store.DeviceWiped:
		return store.TrustUntrusted, "the device is " + string(d.State)
	case d.State == store.DevicePending:
		return store.TrustUntrusted, "the device has not finished enrolling"
	case d.State == store.DeviceQuarantined || ev.Step == StepQuarantine:
		return store.TrustUntrusted, "the device is quarantined"
	case baseTrust(d) == store.TrustUntrusted:
		return store.TrustUntrusted, "the device is not managed"
	case ev.Stale:
		return store.TrustUntrusted, "the device has not checked in recently: its posture is unknown"
	case stepRank(ev.Step) >= stepRank(StepBlock):
		return store.TrustUntrusted, "non-compliant past the block step"
	case len(ev.Policies) == 0:
		return store.TrustLow, "no compliance policy applies to the device"
	case ev.Step == StepLowerTrust:
		return store.TrustLow, "non-compliant past the lower_trust step"
	case !ev.Compliant:
		return max(baseTrust(d)-1, store.TrustLow), "non-compliant, within grace: one level below its usual trust"
	case baseTrust(d) == store.TrustMedium:
		return store.TrustMedium, "compliant work profile on a personal device"
	case !d.HardwareKey():
		// The posture comes from the agent, whose key could be copied to
		// another machine: self-reported facts alone never earn high.
		return store.TrustMedium, "compliant, fully managed device, but its key is not hardware-bound: self-reported posture is capped at medium"
	}
	return store.TrustHigh, "compliant, fully managed device with a hardware-bound key"
}
