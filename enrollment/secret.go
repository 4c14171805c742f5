package enrollment

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/portier/portier/identity"
)

// Codes are 25 characters of Crockford's base32 (125 bits), shown in five
// groups of five so people can read them out and type them. Only their
// SHA-256 is stored.
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeLen      = 25
	codeGroup    = 5
)

// newCode returns a fresh code in its display form (XXXXX-XXXXX-...).
func newCode() string {
	var raw [codeLen]byte
	_, _ = rand.Read(raw[:])
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%codeGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[r&31])
	}
	return b.String()
}

// normalizeCode turns what a person typed into the canonical code: upper
// case, no separators, and the letters people confuse with digits mapped
// as Crockford's base32 says. It reports false when the result cannot be a
// code, so nothing is looked up for it.
func normalizeCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(codeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != codeLen {
		return "", false
	}
	return b.String(), true
}

// codeID is the store id of a code: the SHA-256 of its canonical form.
func codeID(canonical string) string { return identity.HashSecret(canonical) }

// newDeviceID returns a device id: "dev_" and 20 hex digits (80 bits).
func newDeviceID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "dev_" + hex.EncodeToString(b[:])
}

// newActionID returns an action id.
func newActionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "act_" + hex.EncodeToString(b[:])
}
