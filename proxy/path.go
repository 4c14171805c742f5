package proxy

import (
	"net/url"
	"strings"
)

// The path rule. Route matching, the policy's path criterion and the
// request sent upstream all see one path: the request's, normalised.
// Normalising percent-decodes unreserved characters (A-Z a-z 0-9 - . _ ~),
// merges duplicate slashes, resolves "." and ".." segments and, on a host
// whose routes set case_insensitive_paths, lower-cases ASCII letters. What
// an upstream could still read differently from Portier is refused with
// 400 instead (see normalizeEscaped).

// plainByte reports whether c may appear in a path used as it is:
// unreserved characters, '/' and the sub-delimiters an upstream reads
// literally. Not '%' (the slow path decodes), nor ';' (Java servers read it
// as a path parameter).
func plainByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '/', '!', '$', '&', '\'', '(', ')', '*', '+', ',', '=', ':', '@':
		return true
	}
	return false
}

// isPlain reports whether an escaped path is already normal: it holds only
// plain bytes (no percent sign), starts with '/', has no empty and no dot
// segment, and (when fold) no upper-case letter and no segment ending in a
// dot. It allocates nothing: it is the whole cost for ordinary requests.
func isPlain(p string, fold bool) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !plainByte(c) {
			return false
		}
		switch {
		case c == '/' && p[i-1] == '/':
			return false
		case c == '.' && p[i-1] == '/':
			return false // a dot segment, or a name starting with a dot: the slow path decides
		case fold && c >= 'A' && c <= 'Z':
			return false
		case fold && c == '.' && (i+1 == len(p) || p[i+1] == '/'):
			return false
		}
	}
	return true
}

// normalizePath rewrites u's path (Path and RawPath, kept consistent) to
// its normal form. It reports whether it had to look closer than the quick
// scan (the path may have changed) and whether the path is acceptable; when
// it is not, u is left as it was and the request must be refused.
func normalizePath(u *url.URL, fold bool) (slow, ok bool) {
	if u.RawPath == "" && isPlain(u.Path, fold) {
		return false, true // the wire form is Path itself, already normal
	}
	raw, ok := normalizeEscaped(u.EscapedPath(), fold)
	if !ok {
		return true, false
	}
	p, err := url.PathUnescape(raw)
	if err != nil {
		return true, false
	}
	u.Path, u.RawPath = p, raw
	if (&url.URL{Path: p}).EscapedPath() == raw {
		u.RawPath = "" // the default encoding: as url.Parse would have left it
	}
	return true, true
}

// normalizeEscaped normalises an escaped (wire-form) path. It refuses: a
// backslash, ';', control characters and NUL, encoded or not; an encoded
// '/'; a double encoding (an encoded '%' before two hex digits); a dot segment
// spelled with an encoded dot; a ".." above the root; and, when fold, a
// segment ending in a dot or a space (Windows drops them).
func normalizeEscaped(p string, fold bool) (string, bool) {
	if p == "" || p[0] != '/' {
		return "", false
	}
	segs := make([]string, 0, strings.Count(p, "/"))
	var seg []byte
	trailing := false
	for i := 1; i <= len(p); {
		if i == len(p) || p[i] == '/' {
			s := string(seg)
			encodedDot := strings.Contains(s, "\x00") // marker, see below
			if encodedDot {
				s = strings.ReplaceAll(s, "\x00", ".")
			}
			trailing = false
			switch s {
			case "":
				trailing = true
			case ".", "..":
				if encodedDot {
					return "", false
				}
				if s == ".." {
					if len(segs) == 0 {
						return "", false
					}
					segs = segs[:len(segs)-1]
				}
				trailing = true
			default:
				if fold && (s[len(s)-1] == '.' || strings.HasSuffix(s, "%20")) {
					return "", false // Windows drops a trailing dot or space
				}
				if doubleEncoded(s) {
					return "", false
				}
				segs = append(segs, s)
			}
			seg = seg[:0]
			i++
			continue
		}
		c := p[i]
		if c == '%' {
			v, ok := unhex2(p, i+1)
			if !ok {
				return "", false
			}
			switch {
			case v == '.':
				seg = append(seg, 0) // an encoded dot, marked until the segment ends
			case isUnreserved(v):
				seg = append(seg, foldByte(v, fold))
			case refusedEncoded(v):
				return "", false
			default:
				seg = append(seg, '%', upperHex[v>>4], upperHex[v&15])
			}
			i += 3
			continue
		}
		if c == '\\' || c == ';' || c <= 0x20 || c >= 0x7f {
			return "", false
		}
		seg = append(seg, foldByte(c, fold))
		i++
	}
	n := 1
	for _, s := range segs {
		n += len(s) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(segs) == 0 {
		b.WriteByte('/')
	}
	return b.String(), true
}

const upperHex = "0123456789ABCDEF"

// refusedEncoded reports whether a percent-encoded byte makes a path
// ambiguous: '/' and '\' (a separator to some upstreams, not to others),
// ';' (a path parameter to some), control characters and NUL.
func refusedEncoded(v byte) bool {
	return v == '/' || v == '\\' || v == ';' || v < 0x20 || v == 0x7f
}

// doubleEncoded reports whether a normalised segment holds an encoded '%'
// followed by two hex digits: a double encoding, which an upstream that
// decodes twice reads differently from Portier. The segment is in normal
// form (unreserved characters decoded, '%' always "%25"), so any double
// encoding shows here as "%25" and two hex digits.
func doubleEncoded(s string) bool {
	for i := strings.Index(s, "%25"); i >= 0; {
		if _, ok := unhex2(s, i+3); ok {
			return true
		}
		j := strings.Index(s[i+3:], "%25")
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return false
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~'
}

func foldByte(c byte, fold bool) byte {
	if fold && c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// unhex2 decodes the two hex digits at p[i:i+2].
func unhex2(p string, i int) (byte, bool) {
	if i+2 > len(p) {
		return 0, false
	}
	hi, ok1 := unhex(p[i])
	lo, ok2 := unhex(p[i+1])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
