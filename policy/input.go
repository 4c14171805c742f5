package policy

import (
	"net/netip"
	"time"

	"github.com/portier/portier/store"
)

// Input is everything an evaluation reads, already resolved by the caller:
// the session's user, the device record looked up by certificate serial or
// WebAuthn credential, and the request context. The proxy can keep one Input
// per request (or in a sync.Pool) and fill it by assignment; slices such as
// Groups and PassingChecks may alias the session's and device record's own
// slices, since evaluation never modifies or retains them.
type Input struct {
	// Authenticated is true when the request carries a valid session. A
	// request without one is always denied: the language has no anonymous
	// access, the proxy sends the browser to sign in first.
	Authenticated bool
	// UserID is the stable user id (informational; no criterion reads it).
	UserID string
	// Email is the user's email address, compared case-insensitively.
	// Giving it lower-case (as sign-in should store it) saves an allocation
	// when a large, indexed policy is evaluated.
	Email string
	// Groups are the user's group names from the identity provider,
	// compared exactly.
	Groups []string
	// IdP is the id of the identity provider the session was created with.
	IdP string
	// MFAAt is when the user last completed a multi-factor ceremony in this
	// session (WebAuthn or TOTP); zero if never.
	MFAAt time.Time
	// SignedInAt is when the user signed in (the console sign-in a route
	// session was handed off from, not the hand-off); zero if unknown, which
	// no rule with a session_max_age matches.
	SignedInAt time.Time

	// Waves are the rollout waves the person is in, as "<plan>/<wave>"
	// keys (rollout.Key), filled by the caller from the rollout plans: a
	// report-only policy whose enforce_for names one of them is enforced
	// for this person (see Policy.EnforcedFor). No criterion reads them.
	Waves []string

	// Device is the requesting device; the zero value is an unknown,
	// unmanaged, untrusted device.
	Device Device

	// IP is the client address (IPv4-mapped IPv6 addresses are unmapped).
	IP netip.Addr
	// Country is the ISO 3166-1 alpha-2 code resolved from IP by a GeoIP;
	// empty when unknown, which policies see as the code ZZ.
	Country string
	// Now is the request time. A zero Now is a caller bug, and the request
	// is denied rather than evaluated against the wrong time.
	Now time.Time
	// Method is the HTTP method, compared case-insensitively.
	Method string
	// Path is the request's decoded, cleaned URL path (URL.Path, not
	// RawPath). Paths with dot segments or doubled slashes are cleaned again
	// before matching so that /public/../admin cannot slip past a prefix.
	Path string
}

// Device is the precomputed state of the requesting device, as the posture
// side stored it. No raw posture signal is read on the hot path.
type Device struct {
	// ID is the device id; empty when no enrolled device was recognised.
	ID string
	// Trust is the precomputed trust level.
	Trust store.Trust
	// Ownership is corporate, cope, byod or unmanaged; empty means unmanaged.
	Ownership store.Ownership
	// Platform is the operating system family, e.g. macos, windows, linux,
	// ios, android, chromeos; compared case-insensitively.
	Platform string
	// Compliant is the precomputed overall compliance verdict.
	Compliant bool
	// Managed is true when the device is enrolled with Portier (device
	// certificate or work-profile credential).
	Managed bool
	// PassingChecks are the names of the compliance checks the device passes.
	PassingChecks []string
	// LastSeen is when the device last reported posture; zero if never.
	LastSeen time.Time
	// Key is where the private key of the credential that identified the
	// device lives (the certificate the request presented): "hardware" or
	// "software"; anything else (and empty) is software.
	Key string
	// KeySource says who vouches for Key: store.KeySourceTPM when Portier
	// verified a TPM attestation, store.KeySourceAgent for the agent's
	// word, "" for nothing.
	KeySource string
	// TrustCapped says that Trust is medium for this request although the
	// device is at high, because the presented credential's key is not
	// hardware-bound (the deny page says so).
	TrustCapped bool
}
