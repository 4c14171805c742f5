// Package mailaddr is Portier's one rule for e-mail addresses, used wherever
// an address is stored or compared (users, invites, enrollment codes, device
// owners, policy criteria, sign-in):
//
//  1. leading and trailing ASCII white space is removed;
//  2. the address must be at most MaxLen bytes of printable ASCII (0x21 to
//     0x7E): no spaces, no control characters and no non-ASCII characters
//     at all, so no Unicode look-alike (the KELVIN SIGN U+212A, a Cyrillic
//     "а", a full-width "＠"…) can ever fold onto another address;
//  3. it must hold exactly one "@" with something on both sides;
//  4. ASCII letters are lowercased, in the local part too: Portier treats
//     Alice@Example.com and alice@example.com as one person. There is no
//     Unicode case folding anywhere.
//
// An address that breaks the rule is refused where it enters Portier and
// equals nothing where it is compared.
package mailaddr

import (
	"errors"
	"strings"
)

// MaxLen is the longest address accepted, in bytes (RFC 5321's path limit
// less the angle brackets).
const MaxLen = 254

// ErrInvalid is returned for an address that breaks the rule.
var ErrInvalid = errors.New("not an acceptable e-mail address (printable ASCII, one @, at most 254 characters)")

// Normalize returns the canonical form of an address, or ErrInvalid.
func Normalize(s string) (string, error) {
	s = strings.Trim(s, " \t\r\n\f\v")
	if s == "" || len(s) > MaxLen {
		return "", ErrInvalid
	}
	at := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e {
			return "", ErrInvalid
		}
		if c == '@' {
			if at >= 0 {
				return "", ErrInvalid
			}
			at = i
		}
	}
	if at < 1 || at == len(s)-1 {
		return "", ErrInvalid
	}
	return Fold(s), nil
}

// Valid reports whether s is an acceptable address.
func Valid(s string) bool {
	_, err := Normalize(s)
	return err == nil
}

// Equal reports whether a and b are the same acceptable address. An
// unacceptable address equals nothing, not even itself.
func Equal(a, b string) bool {
	na, err := Normalize(a)
	if err != nil {
		return false
	}
	nb, err := Normalize(b)
	return err == nil && na == nb
}

// Domain returns the part after the "@" of an acceptable address, in lower
// case, or "" for an unacceptable one.
func Domain(s string) string {
	n, err := Normalize(s)
	if err != nil {
		return ""
	}
	return n[strings.IndexByte(n, '@')+1:]
}

// Fold lowercases the ASCII letters of s and leaves every other byte as it
// is. It is the key under which stored addresses are indexed: an address
// stored before the rule existed that holds non-ASCII characters keeps them,
// so it can never equal a Normalize result.
func Fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// NormalizeDomain returns the canonical form of a domain name as written in
// configuration (allowed_domains): trimmed, lowercased, without a trailing
// dot, made of dot-separated non-empty labels of ASCII letters, digits and
// dashes (international names in their xn-- form); or ErrInvalid.
func NormalizeDomain(s string) (string, error) {
	d := Fold(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if d == "" || len(d) > MaxLen {
		return "", ErrInvalid
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" {
			return "", ErrInvalid
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return "", ErrInvalid
			}
		}
	}
	return d, nil
}

// EqualFold reports whether a and b are equal with ASCII letters compared
// case-insensitively and every other byte compared exactly (unlike
// strings.EqualFold, which folds Unicode: "\u212A" equals "k" there).
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
