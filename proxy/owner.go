package proxy

import (
	"strings"

	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Device notes for a device that is not the signed-in person's.
const (
	noteNotOwner = "This device is enrolled to another person, so it counts as an unmanaged device for you. Use your own enrolled device, or ask IT to mark this device as shared."
	noteNoOwner  = "This device has no assigned owner, so it counts as an unmanaged device. Ask IT to assign it to you or to mark it as shared."
)

// bindOwner keeps a device only for the person it belongs to: a device
// certificate (or device credential) presented with another person's
// session is no managed device for that person. A device an administrator
// marked as shared counts for every signed-in user. It runs on every
// request, after the session and the device were resolved, and on every
// re-evaluation of an open connection.
func (p *Proxy) bindOwner(req *request) {
	d := req.device
	if d == nil || req.session == nil || d.Shared {
		return
	}
	if ownedBy(d, req.session.Email) {
		return
	}
	req.device, req.serial = nil, ""
	req.devNote = noteNotOwner
	if d.OwnerEmail == "" {
		req.devNote = noteNoOwner
	}
}

// ownedBy reports whether email is the device's owner (ASCII case only;
// a device without an owner belongs to nobody).
func ownedBy(d *store.Device, email string) bool {
	return d.OwnerEmail != "" && mailaddr.EqualFold(d.OwnerEmail, strings.TrimSpace(email))
}
