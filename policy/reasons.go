package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/store"
)

// Remediation hints, by what the user can do about a condition.
const (
	fixAskAdmin  = "Ask your administrator for access to this app."
	fixMFA       = "Sign in again with your security key."
	fixAgent     = "Open the Portier agent on this device and fix the failing checks."
	fixReport    = "Open the Portier agent so that it reports this device's status, then try again."
	fixEnroll    = "Enroll this device with Portier from the self-service portal, or use an enrolled device."
	fixOwnership = "This app is not available on this kind of device; open it from a company-managed device."
	fixPlatform  = "Open this app from a supported device."
	fixDevice    = "Open this app from a device you are allowed to use for it."
	fixKey       = "Open this app from a company device whose Portier key is kept in hardware, or ask IT to enroll this device that way."
	// trustCapNote explains a request's trust below its device's.
	trustCapNote   = "The device itself is at high, but the certificate this browser presented has a key kept in software, which caps the trust of its requests at medium."
	fixKeyAttested = "Open this app from a company device enrolled with its key in the TPM, or ask IT to enroll this device again with its TPM."
	fixNetwork     = "Connect from an allowed network (for example the office network) and try again."
	fixLocation    = "This app cannot be reached from your current location."
	fixTime        = "Try again during the hours this app is available."
	fixAction      = "Ask your administrator if you need to do this on this app."
	fixSignIn      = "Sign in and try again."
	// fixSignInAgain is the remediation of a sign-in older than a rule's
	// session_max_age; the proxy's deny page offers a button for it.
	fixSignInAgain = "Sign in again."
	fixIdP         = "Sign out and sign in again with the identity provider this app requires."
	fixInternal    = "Try again; if it keeps happening, contact your administrator."
	unknownMarker  = "unknown"
)

// CodeSessionMaxAge is the reason code of a sign-in older than a rule's
// session_max_age: signing in again fixes it.
const CodeSessionMaxAge = "session.max_age"

func noMatchReason() Reason {
	return Reason{Code: "policy.no_match", Message: "No rule allows this request.", Remediation: fixAskAdmin}
}

func unauthenticatedReason() Reason {
	return Reason{Code: "user.unauthenticated", Message: "You are not signed in.", Remediation: fixSignIn}
}

func invalidInputReason() Reason {
	return Reason{Code: "policy.input", Message: "Portier could not evaluate this request.", Remediation: fixInternal}
}

// checkMessages words well-known compliance check failures for the deny page.
var checkMessages = map[string]string{
	"disk_encrypted":   "This device's disk is not encrypted.",
	"disk_encryption":  "This device's disk is not encrypted.",
	"firewall":         "This device's firewall is off.",
	"firewall_enabled": "This device's firewall is off.",
	"screen_lock":      "This device has no screen lock.",
	"os_up_to_date":    "This device's operating system is out of date.",
	"os_version":       "This device's operating system is out of date.",
	"antivirus":        "This device's antivirus protection is not running.",
	"not_jailbroken":   "This device is jailbroken or rooted.",
	"secure_boot":      "This device does not use secure boot.",
}

// ownershipWords names ownership classes for users.
var ownershipWords = map[store.Ownership]string{
	store.OwnershipCorporate: "company-owned",
	store.OwnershipCOPE:      "company-owned, personally enabled",
	store.OwnershipBYOD:      "personal",
	store.OwnershipUnmanaged: "unmanaged",
}

// reason words a leaf whose value is not want: want true says what is
// missing, want false says what is present that must not be.
func (l *leaf) reason(e *env, want bool) Reason {
	in := e.in
	switch l.kind {
	case kEmail, kEmailSuffix:
		if want {
			return Reason{"email", fmt.Sprintf("This app is not available to your account (%s).", orUnknown(in.Email)), fixAskAdmin, ""}
		}
		return Reason{"email", fmt.Sprintf("This app is not available to your account (%s).", in.Email), fixAskAdmin, ""}
	case kDomain:
		if want {
			return Reason{"domain", fmt.Sprintf("This app is only available to accounts from %s; yours is from %s.", orList(l.set.list), orUnknown(e.domain)), fixAskAdmin, ""}
		}
		return Reason{"domain", fmt.Sprintf("This app is not available to accounts from %s.", e.domain), fixAskAdmin, ""}
	case kGroupAny, kGroupAll:
		return groupReason(l, in, want)
	case kIdP:
		if want {
			return Reason{"idp", fmt.Sprintf("You signed in with %s; this app needs %s.", orUnknown(in.IdP), orList(l.set.list)), fixIdP, ""}
		}
		return Reason{"idp", fmt.Sprintf("This app is not available when signed in with %s.", in.IdP), fixIdP, ""}
	case kMFA:
		if !want {
			return Reason{"mfa", "This app is not available right after a multi-factor sign-in.", fixAskAdmin, ""}
		}
		if l.dur == 0 {
			return Reason{"mfa", "This app needs a multi-factor sign-in.", fixMFA, ""}
		}
		return Reason{"mfa", fmt.Sprintf("This app needs a multi-factor sign-in within the last %s.", formatDuration(l.dur)), fixMFA, ""}
	case kSessionAge:
		if !want { // cannot happen: session_max_age is only on allow rules
			return Reason{CodeSessionMaxAge, "This app is not available to a recent sign-in.", fixAskAdmin, ""}
		}
		return Reason{CodeSessionMaxAge, fmt.Sprintf("You signed in too long ago for this app: it needs a sign-in within the last %s.", formatDuration(l.dur)), fixSignInAgain, ""}
	case kTrust:
		t := in.Device.Trust
		if !want {
			return Reason{"device.trust", fmt.Sprintf("This app is not available on devices with trust level %s.", t), fixAgent, ""}
		}
		msg := fmt.Sprintf("This device's trust level is %s; this app needs %s.", t, trustRange(l.lo, l.hi))
		if in.Device.TrustCapped {
			return Reason{"device.trust", msg + " " + trustCapNote, fixKey, ""}
		}
		return Reason{"device.trust", msg, fixAgent, ""}
	case kOwnership:
		o := ownership(&in.Device)
		if want {
			var words []string
			for _, s := range l.set.list {
				w := ownershipWords[store.Ownership(s)]
				if s == string(store.OwnershipCOPE) && contains(l.set.list, string(store.OwnershipCorporate)) {
					continue // both are company-owned
				}
				words = append(words, w)
			}
			return Reason{"device.ownership", fmt.Sprintf("This app is only available on %s devices; this device is %s.", orList(words), ownershipWords[o]), fixOwnership, ""}
		}
		return Reason{"device.ownership", fmt.Sprintf("This app is not available on %s devices.", ownershipWords[o]), fixOwnership, ""}
	case kPlatform:
		if want {
			return Reason{"device.platform", fmt.Sprintf("This app is only available on %s; this device runs %s.", orList(l.set.list), orUnknown(in.Device.Platform)), fixPlatform, ""}
		}
		return Reason{"device.platform", fmt.Sprintf("This app is not available on %s devices.", in.Device.Platform), fixPlatform, ""}
	case kCompliant:
		if !in.Device.Compliant {
			return Reason{"device.compliant", "This device does not comply with the security policy.", fixAgent, ""}
		}
		return Reason{"device.compliant", "This app is not available on compliant devices.", fixAskAdmin, ""}
	case kCheck:
		code := "device.check:" + l.check
		if want {
			msg, ok := checkMessages[l.check]
			if !ok {
				msg = fmt.Sprintf("This device does not pass the compliance check %q.", l.check)
			}
			return Reason{code, msg, fixAgent, ""}
		}
		return Reason{code, fmt.Sprintf("This app is not available on devices that pass the check %q.", l.check), fixAskAdmin, ""}
	case kDeviceID:
		if in.Device.ID == "" {
			return Reason{"device.id", "No enrolled device was recognized for this request.", fixEnroll, ""}
		}
		if want {
			return Reason{"device.id", fmt.Sprintf("This device (%s) is not allowed for this app.", in.Device.ID), fixDevice, ""}
		}
		return Reason{"device.id", fmt.Sprintf("This app is not available on this device (%s).", in.Device.ID), fixDevice, ""}
	case kSeenWithin:
		if !want {
			return Reason{"device.seen_within", fmt.Sprintf("This app is not available on devices that reported their status within %s.", formatDuration(l.dur)), fixAskAdmin, ""}
		}
		if in.Device.LastSeen.IsZero() {
			return Reason{"device.seen_within", "This device has never reported its status.", fixReport, ""}
		}
		return Reason{"device.seen_within", fmt.Sprintf("This device last reported its status %s ago; this app needs a report within %s.",
			formatDuration(in.Now.Sub(in.Device.LastSeen)), formatDuration(l.dur)), fixReport, ""}
	case kKey:
		if !in.Device.Managed {
			return Reason{"device.key", "This device is not enrolled with Portier, so it holds no device key.", fixEnroll, ""}
		}
		if l.b == want {
			return Reason{"device.key", "This app needs a device whose key is kept in hardware (TPM or secure enclave); this device's key is stored in software.", fixKey, ""}
		}
		return Reason{"device.key", "This app is not available on devices whose key is kept in hardware.", fixAskAdmin, ""}
	case kKeyAttested:
		if !in.Device.Managed {
			return Reason{"device.key", "This device is not enrolled with Portier, so it holds no device key.", fixEnroll, ""}
		}
		if want {
			what := "stored in software"
			if hardwareKey(&in.Device) {
				what = "said to be kept in hardware, but Portier could not verify it"
			}
			return Reason{"device.key", "This app needs a device whose key is kept in a TPM and verified by Portier; the key this device presented is " + what + ".", fixKeyAttested, ""}
		}
		return Reason{"device.key", "This app is not available on devices whose key Portier verified in hardware.", fixAskAdmin, ""}
	case kManaged:
		if !in.Device.Managed {
			return Reason{"device.managed", "This device is not enrolled with Portier.", fixEnroll, ""}
		}
		return Reason{"device.managed", "This app is not available on enrolled devices.", fixAskAdmin, ""}
	case kIPIn, kIPNotIn:
		ip := unknownMarker
		if e.ip.IsValid() {
			ip = e.ip.String()
		}
		if (l.kind == kIPIn) == want {
			return Reason{"ip", fmt.Sprintf("Your network address (%s) is not in an allowed range.", ip), fixNetwork, ""}
		}
		return Reason{"ip", fmt.Sprintf("This app is not available from your network address (%s).", ip), fixNetwork, ""}
	case kCountryIn, kCountryNotIn:
		cc := countryName(e.country)
		if e.country == countryIndex("") {
			cc = "unknown"
		}
		return Reason{"country", fmt.Sprintf("This app is not available from your location (%s).", cc), fixLocation, ""}
	case kTime:
		now := in.Now.In(l.win.Loc).Format("Mon 15:04")
		if want {
			return Reason{"time", fmt.Sprintf("This app is only available %s; it is now %s.", l.win.describe(), now), fixTime, ""}
		}
		return Reason{"time", fmt.Sprintf("This app is not available %s; it is now %s.", l.win.describe(), now), fixTime, ""}
	case kMethod:
		return Reason{"method", fmt.Sprintf("The %s method is not allowed on this app.", strings.ToUpper(in.Method)), fixAction, ""}
	case kPathIs, kPathPrefix:
		return Reason{"path", fmt.Sprintf("Access to %s is not allowed.", e.path), fixAction, ""}
	}
	return Reason{"policy", "A policy condition was not met.", fixAskAdmin, ""}
}

func groupReason(l *leaf, in *Input, want bool) Reason {
	if want {
		if l.kind == kGroupAll {
			var missing []string
			for _, g := range l.strs {
				if !contains(in.Groups, g) {
					missing = append(missing, g)
				}
			}
			return Reason{"group", fmt.Sprintf("This app needs membership of all of the groups %s; you are not in %s.",
				strings.Join(l.strs, ", "), strings.Join(missing, ", ")), fixAskAdmin, ""}
		}
		if len(l.strs) == 1 {
			return Reason{"group", fmt.Sprintf("This app needs membership of the group %s.", l.strs[0]), fixAskAdmin, ""}
		}
		return Reason{"group", fmt.Sprintf("This app needs membership of one of the groups %s.", strings.Join(l.strs, ", ")), fixAskAdmin, ""}
	}
	var present []string
	for _, g := range l.strs {
		if contains(in.Groups, g) {
			present = append(present, g)
		}
	}
	return Reason{"group", fmt.Sprintf("This app is not available to members of %s.", strings.Join(present, ", ")), fixAskAdmin, ""}
}

func trustRange(lo, hi store.Trust) string {
	switch {
	case lo == hi:
		return "exactly " + lo.String()
	case hi == store.TrustHigh:
		return lo.String() + " or higher"
	case lo == store.TrustUntrusted:
		return hi.String() + " or lower"
	}
	return "between " + lo.String() + " and " + hi.String()
}

func orList(items []string) string {
	switch len(items) {
	case 0:
		return unknownMarker
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func orUnknown(s string) string {
	if s == "" {
		return unknownMarker
	}
	return s
}

// formatDuration drops zero units: 15m rather than 15m0s, 24h rather than 24h0m0s.
func formatDuration(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	d = d.Round(time.Second)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
