package agentwire

import (
	"fmt"
	"strconv"
	"strings"
)

// The protocol version. A change that an older peer can ignore (a new
// optional field, a new endpoint) raises Minor; a change that an older peer
// would misread raises Major. Peers talk only when their majors are equal.
const (
	// Major is the protocol's major version.
	Major = 1
	// Minor is the protocol's minor version.
	// 1.1: RenewRequest.KeyProtection.
	// 1.2: TPM key attestation (attest/challenge, KeyAttestation in enroll
	// and renew), browser certificates, Certificate.KeyProtection.
	Minor = 2
	// Version is "Major.Minor", as sent in VersionHeader.
	Version = "1.2"
	// VersionHeader carries the sender's protocol version: the agent sends
	// it on every request, the server on every answer of the agent API. A
	// message without it comes from a peer older than the header, which
	// speaks 1.0.
	VersionHeader = "Portier-Agent-Protocol"
)

// maxVersionLen bounds the header value ParseVersion reads, and
// maxPartLen each of its numbers.
const (
	maxVersionLen = 16
	maxPartLen    = 4
)

// ParseVersion reads a VersionHeader value "MAJOR.MINOR" (decimal numbers
// of at most four digits, no sign). An empty value is 1.0: the peer predates the header.
func ParseVersion(s string) (major, minor int, err error) {
	if s == "" {
		return 1, 0, nil
	}
	bad := fmt.Errorf("agentwire: %s must be MAJOR.MINOR such as %s", VersionHeader, Version)
	if len(s) > maxVersionLen {
		return 0, 0, bad
	}
	ma, mi, ok := strings.Cut(s, ".")
	if !ok || !digits(ma) || !digits(mi) {
		return 0, 0, bad
	}
	if major, err = strconv.Atoi(ma); err != nil {
		return 0, 0, bad
	}
	if minor, err = strconv.Atoi(mi); err != nil {
		return 0, 0, bad
	}
	return major, minor, nil
}

// digits reports whether s is one to maxPartLen ASCII digits.
func digits(s string) bool {
	if s == "" || len(s) > maxPartLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// VersionError says that the peer speaks another major version.
type VersionError struct {
	// Peer is the peer's version as it announced it.
	Peer string
	// PeerMajor is its major version.
	PeerMajor int
}

// Error names both versions.
func (e *VersionError) Error() string {
	return fmt.Sprintf("the peer speaks Portier agent protocol %s, this side speaks %s", e.Peer, Version)
}

// PeerNewer reports whether the peer's major version is above Major: this
// side is the one to upgrade.
func (e *VersionError) PeerNewer() bool { return e.PeerMajor > Major }

// CheckVersion checks a peer's VersionHeader value: nil when it speaks this
// major version (or sent no header), a *VersionError when its major
// differs, another error when the value is malformed.
func CheckVersion(header string) error {
	major, _, err := ParseVersion(header)
	if err != nil {
		return err
	}
	if major != Major {
		return &VersionError{Peer: header, PeerMajor: major}
	}
	return nil
}
