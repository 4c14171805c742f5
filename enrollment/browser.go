package enrollment

import (
	"context"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// A browser device is a personal phone or computer registered from the
// /enroll page with a device-bound passkey instead of the agent: a BYOD
// work-profile record with no certificate and no agent posture. Creating
// one is self-service, so it is bounded like self-service codes (per user
// and per address over time, counted across replicas) and by how many a
// person may hold at once.
var (
	browserPerUser = store.Limit{Max: 10, Window: time.Hour}
	browserPerIP   = store.Limit{Max: 30, Window: time.Hour}
)

// MaxBrowserDevices is how many active browser devices (registered with a
// passkey, without the agent) one person may have at once.
const MaxBrowserDevices = 5

// MethodBrowserPasskey names, in the device's "enrolled" event and the
// audit detail, an enrollment by a device-bound passkey.
const MethodBrowserPasskey = "browser_passkey"

// BrowserDevice is what a browser tells about itself when it registers as
// a personal device.
type BrowserDevice struct {
	// ID is the device id reserved by StartBrowserDevice.
	ID string
	// Platform is the browser's platform (BrowserPlatform of its User-Agent).
	Platform string
	// Credential is the device-bound passkey's id; AAGUID names the
	// authenticator model (all zero when the authenticator does not say).
	Credential string
	AAGUID     []byte
}

// StartBrowserDevice checks that the signed-in person email may register
// one more browser device now and returns the id the new device will get.
// Past a limit it fails with a RateLimited error (429, with when to try
// again) or a Conflict (too many devices); if the shared counter cannot be
// reached it refuses (503).
func (s *Service) StartBrowserDevice(ctx context.Context, a Actor, email string) (string, error) {
	if email == "" {
		return "", apperr.New(apperr.Forbidden, "Sign in to register a device.")
	}
	now := s.clock()
	if n := s.browserDevices(email); n >= MaxBrowserDevices {
		return "", apperr.New(apperr.Conflict,
			"You already have %d personal devices registered in the browser, the most allowed. Remove one on the My devices page first.", n)
	}
	for _, l := range []struct {
		key string
		lim store.Limit
	}{{"user:" + email, browserPerUser}, {"ip:" + a.RemoteIP, browserPerIP}} {
		ok, retry, err := l.lim.Allow(ctx, s.counter, "enroll/browser/"+l.key, now)
		if err != nil {
			return "", apperr.Wrap(apperr.Unavailable, err, "Devices cannot be registered right now; try again in a minute.")
		}
		if !ok {
			s.log.Warn("enrollment: browser device registration rate-limited", "user", email, "ip", a.RemoteIP)
			return "", apperr.TooMany(retry, "Too many device registrations. Try again in %s.", roundUp(retry))
		}
	}
	return newDeviceID(), nil
}

// BrowserDeviceOps are the writes that record a browser device for the
// person email: the device (BYOD, work profile, active, untrusted until the
// posture engine computes its trust), its "enrolled" event and the audit
// event. The caller writes them in the same transaction as the passkey, so
// neither exists without the other, then calls Recompute.
func (s *Service) BrowserDeviceOps(a Actor, email string, b BrowserDevice) ([]store.Op, *store.Device, error) {
	if b.ID == "" || email == "" {
		return nil, nil, apperr.New(apperr.Invalid, "The device registration is incomplete. Start again.")
	}
	if n := s.browserDevices(email); n >= MaxBrowserDevices {
		return nil, nil, apperr.New(apperr.Conflict,
			"You already have %d personal devices registered in the browser, the most allowed. Remove one on the My devices page first.", n)
	}
	now := s.clock().UTC()
	d := &store.Device{
		ID: b.ID, Name: browserDeviceName(b.Platform), Platform: b.Platform,
		Ownership: store.OwnershipBYOD, OwnershipSource: store.OwnershipBySelfService,
		OwnerEmail: email, State: store.DeviceActive, Trust: store.TrustUntrusted,
		WorkProfile: true, EnrolledAt: now, LastSeen: now, ProvisionStart: now,
	}
	detail := map[string]string{"method": MethodBrowserPasskey, "ownership": string(d.Ownership),
		"ownership_source": d.OwnershipSource, "work_profile": "true", "credential": b.Credential,
		"authenticator": aaguidString(b.AAGUID)}
	if d.Platform != "" {
		detail["platform"] = d.Platform
	}
	ops := []store.Op{
		store.Create(d),
		store.Put(store.NewDeviceEvent(now, d.ID, "enrolled", detail)),
		s.auditOp(a, now, "device.enroll", d.ID, detail),
	}
	return ops, d, nil
}

// Recompute has the posture engine compute a device's trust now (a new
// browser device has no agent posture; see docs/enrollment.md for what it
// earns). A failure is logged: the device stays untrusted.
func (s *Service) Recompute(ctx context.Context, id string) { s.recompute(ctx, id) }

// browserDevices counts the person's active browser devices: BYOD records
// owned by email that no agent enrolled (no certificate).
func (s *Service) browserDevices(email string) int {
	n := 0
	for _, d := range s.st.DevicesOwnedBy(email) { // compared by the mailaddr rule
		if IsBrowserDevice(d) && d.State != store.DeviceRetired && d.State != store.DeviceWiped {
			n++
		}
	}
	return n
}

// IsBrowserDevice reports whether a device was registered by a browser
// passkey (no agent): an agent enrollment always records a certificate.
func IsBrowserDevice(d *store.Device) bool {
	return d.CertSerial == "" && d.AgentVersion == "" && d.Ownership == store.OwnershipBYOD && d.WorkProfile
}

func browserDeviceName(platform string) string {
	if n, ok := platformNames[platform]; ok {
		return "Browser on " + n
	}
	return "Browser"
}

// aaguidString formats an authenticator AAGUID as a UUID ("" when absent).
func aaguidString(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}
