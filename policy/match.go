package policy

import (
	"strings"
	"time"

	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// match computes one criterion against the request.
func (l *leaf) match(e *env) bool {
	in := e.in
	switch l.kind {
	case kEmail:
		return in.Email != "" && l.set.has(in.Email)
	case kEmailSuffix:
		for _, s := range l.strs {
			if hasSuffixFold(in.Email, s) {
				return true
			}
		}
		return false
	case kDomain:
		return e.domain != "" && l.set.has(e.domain)
	case kGroupAny:
		for _, g := range in.Groups {
			if l.set.has(g) {
				return true
			}
		}
		return false
	case kGroupAll:
		for _, want := range l.strs {
			if !contains(in.Groups, want) {
				return false
			}
		}
		return true
	case kIdP:
		return l.set.has(in.IdP)
	case kMFA:
		if e.assumeMFA {
			return true
		}
		return mfaFresh(in, l)
	case kTrust:
		t := in.Device.Trust
		return t >= l.lo && t <= l.hi
	case kOwnership:
		return l.set.has(string(ownership(&in.Device)))
	case kPlatform:
		return in.Device.Platform != "" && l.set.has(in.Device.Platform)
	case kCompliant:
		return in.Device.Compliant == l.b
	case kCheck:
		return contains(in.Device.PassingChecks, l.check)
	case kDeviceID:
		return in.Device.ID != "" && l.set.has(in.Device.ID)
	case kSeenWithin:
		ls := in.Device.LastSeen
		return !ls.IsZero() && in.Now.Sub(ls) <= l.dur
	case kManaged:
		return in.Device.Managed == l.b
	case kKey:
		return in.Device.Managed && hardwareKey(&in.Device) == l.b
	case kKeyAttested:
		return in.Device.Managed && attestedKey(&in.Device)
	case kIPIn:
		return inPrefixes(e, l)
	case kIPNotIn:
		return !inPrefixes(e, l)
	case kCountryIn:
		return l.country.has(e.country)
	case kCountryNotIn:
		return !l.country.has(e.country)
	case kTime:
		return l.win.Contains(in.Now)
	case kMethod:
		return l.set.has(in.Method)
	case kPathIs:
		return l.set.has(e.path)
	case kSessionAge:
		return e.assumeSignIn || sessionFresh(in, l.dur)
	case kPathPrefix:
		for _, s := range l.strs {
			if strings.HasPrefix(e.path, s) {
				return true
			}
		}
		return false
	}
	return false
}

func mfaFresh(in *Input, l *leaf) bool {
	if in.MFAAt.IsZero() {
		return false
	}
	return l.dur == 0 || in.Now.Sub(in.MFAAt) <= l.dur
}

// sessionFresh reports whether the sign-in is younger than max; an unknown
// sign-in time is never fresh (fail closed).
func sessionFresh(in *Input, max time.Duration) bool {
	return !in.SignedInAt.IsZero() && in.Now.Sub(in.SignedInAt) < max
}

func inPrefixes(e *env, l *leaf) bool {
	if !e.ip.IsValid() {
		return false
	}
	if e.ip.Is4() {
		ip := ipv4Int(e.ip)
		for _, n := range l.nets4 {
			if ip&n.mask == n.addr {
				return true
			}
		}
		return false
	}
	for _, p := range l.prefixes {
		if p.Contains(e.ip) {
			return true
		}
	}
	return false
}

// hardwareKey reports whether the device's key is hardware-bound; any
// other value is software.
func hardwareKey(d *Device) bool { return d.Key == store.KeyHardware }

// attestedKey reports whether the device's key is hardware-bound and
// Portier verified it (TPM key attestation).
func attestedKey(d *Device) bool { return hardwareKey(d) && d.KeySource == store.KeySourceTPM }

// ownership treats an unset ownership as unmanaged.
func ownership(d *Device) store.Ownership {
	if d.Ownership == "" {
		return store.OwnershipUnmanaged
	}
	return d.Ownership
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && mailaddr.EqualFold(s[len(s)-len(suffix):], suffix)
}
