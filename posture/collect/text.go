package collect

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxValueLen bounds strings copied from tool output into signals.
const maxValueLen = 256

// ErrUnrecognized means a tool's output did not match any format the parser
// knows; the collector reports it instead of guessing (fail closed).
const ErrUnrecognized = constError("unrecognized output")

// unrecognized wraps ErrUnrecognized with a short, quoted excerpt.
func unrecognized(what, excerpt string) error {
	excerpt = strings.ToValidUTF8(excerpt, "\uFFFD")
	if len(excerpt) > 80 {
		excerpt = excerpt[:80] + "…"
	}
	return fmt.Errorf("%s: %w: %q", what, ErrUnrecognized, excerpt)
}

// normalizeText turns raw tool output into text: it decodes UTF-16 (with a
// byte-order mark, or without one when every other byte is NUL, as
// PowerShell's redirection writes it), drops a UTF-8 BOM and turns CRLF and
// lone CR into LF. Bytes that are not UTF-8 (legacy code pages) are kept; the
// parsers treat them as not understood.
func normalizeText(b []byte) string {
	var s string
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		s = decodeUTF16(b[2:], false)
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		s = decodeUTF16(b[2:], true)
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		s = string(b[3:])
	case looksUTF16LE(b):
		s = decodeUTF16(b, false)
	default:
		s = string(b)
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// looksUTF16LE detects BOM-less UTF-16LE: mostly-ASCII text whose odd bytes
// are all NUL.
func looksUTF16LE(b []byte) bool {
	if len(b) < 4 || len(b)%2 != 0 {
		return false
	}
	for i := 1; i < len(b); i += 2 {
		if b[i] != 0 || b[i-1] == 0 {
			return false
		}
	}
	return true
}

func decodeUTF16(b []byte, bigEndian bool) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		if bigEndian {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		} else {
			u = append(u, uint16(b[i+1])<<8|uint16(b[i]))
		}
	}
	return string(utf16.Decode(u))
}

// textLines normalizes output and splits it into lines without their ends.
func textLines(b []byte) []string {
	s := strings.TrimRight(normalizeText(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// firstLine returns the first non-blank line, trimmed.
func firstLine(s string) string {
	for _, l := range strings.Split(normalizeText([]byte(s)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// cleanValue trims a string taken from output and checks that it is
// printable UTF-8 of bounded length.
func cleanValue(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s: empty", what)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s: %w: not UTF-8 (legacy code page?)", what, ErrUnrecognized)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", unrecognized(what, s)
		}
	}
	if len(s) > maxValueLen {
		return "", fmt.Errorf("%s: %w: longer than %d bytes", what, ErrUnrecognized, maxValueLen)
	}
	return s, nil
}

// errorText renders a collection error for Signal.Error.
func errorText(err error) string {
	if errors.Is(err, ErrNotAvailable) {
		return "not available"
	}
	msg := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}
