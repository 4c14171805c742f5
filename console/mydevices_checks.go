package console

import (
	"github.com/gin-gonic/gin"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// myCheck is a failing compliance check as its owner reads it: what is
// wrong and how to fix it.
type myCheck struct {
	Message, Fix string
}

// explainForOwner fills in v what the device's owner needs to act on:
// each failing check with its fix, the next escalation step and when it
// is due (the deadline before access is reduced), and, for a device that
// no longer reaches work apps, why.
func (c *Console) explainForOwner(g *gin.Context, dev *store.Device, v *myDeviceView) {
	switch dev.State {
	case store.DeviceQuarantined:
		v.Blocked = c.t(g, "devices.quarantined")
		return
	case store.DeviceRetired, store.DeviceWiped:
		v.Blocked = c.t(g, "devices.removed")
		return
	}
	if c.opts.Enrollment == nil || enrollment.IsBrowserDevice(dev) || dev.Compliant {
		return
	}
	ev, err := c.opts.Enrollment.Explain(dev.ID)
	if err != nil {
		return // the page still lists the failing checks by name
	}
	for _, r := range ev.Checks {
		if r.Status != posture.Pass {
			v.Checks = append(v.Checks, myCheck{Message: r.Message, Fix: r.Remediation})
		}
	}
	if ev.NextDue.IsZero() {
		return
	}
	next := false
	for i, due := range ev.Due {
		if i >= len(ev.Ladder.Steps) || due.Before(ev.NextDue) {
			continue
		}
		step := ev.Ladder.Steps[i].Name
		at := due.UTC().Format("2006-01-02 15:04 UTC")
		words := c.t(g, stepKeys[step])
		if !next {
			v.NextStep, v.NextDue, next = words, at, true
		}
		if reducesAccess(step) {
			if v.NextStep != words {
				v.ReducedStep, v.ReducedAt = words, at
			}
			return
		}
	}
}

// stepKeys are the catalogue keys that say, for the device's owner, what
// each escalation step does.
var stepKeys = map[string]string{
	posture.StepGrace:      "devices.step_grace",
	posture.StepNotify:     "devices.step_notify",
	posture.StepLowerTrust: "devices.step_lower_trust",
	posture.StepBlock:      "devices.step_block",
	posture.StepQuarantine: "devices.step_quarantine",
}

// reducesAccess reports whether an escalation step takes access away
// (rather than warning).
func reducesAccess(step string) bool {
	return step == posture.StepLowerTrust || step == posture.StepBlock || step == posture.StepQuarantine
}
