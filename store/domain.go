package store

import (
	"fmt"
	"strings"
)

// Trust is a device's precomputed trust level, lowest to highest.
type Trust int

// Trust levels. The zero value is the lowest: an unknown device is untrusted.
const (
	TrustUntrusted Trust = iota
	TrustLow
	TrustMedium
	TrustHigh
)

var trustNames = [...]string{"untrusted", "low", "medium", "high"}

func (t Trust) String() string {
	if t < 0 || int(t) >= len(trustNames) {
		return fmt.Sprintf("trust(%d)", int(t))
	}
	return trustNames[t]
}

// ParseTrust reads a trust level name.
func ParseTrust(s string) (Trust, error) {
	for i, n := range trustNames {
		if strings.EqualFold(s, n) {
			return Trust(i), nil
		}
	}
	return 0, fmt.Errorf("unknown trust level %q (want untrusted, low, medium or high)", s)
}

// MarshalText writes the level's name.
func (t Trust) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a level name.
func (t *Trust) UnmarshalText(b []byte) error {
	v, err := ParseTrust(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Ownership says who owns a device; it decides what may be collected from it
// and which remote actions are allowed.
type Ownership string

// Ownership values.
const (
	OwnershipCorporate Ownership = "corporate"
	OwnershipCOPE      Ownership = "cope"
	OwnershipBYOD      Ownership = "byod"
	OwnershipUnmanaged Ownership = "unmanaged"
)

// ParseOwnership reads an ownership name.
func ParseOwnership(s string) (Ownership, error) {
	switch o := Ownership(strings.ToLower(s)); o {
	case OwnershipCorporate, OwnershipCOPE, OwnershipBYOD, OwnershipUnmanaged:
		return o, nil
	}
	return "", fmt.Errorf("unknown ownership %q (want corporate, cope, byod or unmanaged)", s)
}

// DeviceState is a device's place in its lifecycle.
type DeviceState string

// Device lifecycle states.
const (
	DevicePending     DeviceState = "pending"
	DeviceActive      DeviceState = "active"
	DeviceQuarantined DeviceState = "quarantined"
	DeviceRetired     DeviceState = "retired"
	DeviceWiped       DeviceState = "wiped"
)
