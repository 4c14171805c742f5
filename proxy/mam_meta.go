package proxy

import (
	"html"
	"strings"
)

// A page may set a Content-Security-Policy of its own in a
// <meta http-equiv="Content-Security-Policy" content="…"> tag. Browsers
// enforce it together with the header policies, so it must let Portier's
// assets load too: the injector hands every <meta> start tag before the
// insertion point to rewriteMetaCSP, which amends the policy of a CSP
// meta tag by the same rule as a header's and leaves every other tag as
// it came.

// tagAttr is one attribute of a start tag as the HTML tokenizer reads it.
type tagAttr struct{ name, value string }

// rewriteMetaCSP returns the tag with its policy amended when it is a CSP
// meta tag, and ok false (the tag is left as it is) otherwise. amend is
// given the policy text (entities decoded) and reports whether it added
// the nonce; used is set then.
func rewriteMetaCSP(tag []byte, amend func(string) (string, bool), used *bool) ([]byte, bool) {
	if !containsFold(tag, "http-equiv") {
		return nil, false // most meta tags (charset, name=…): nothing to parse
	}
	attrs := parseTagAttrs(string(tag))
	equiv, content := -1, -1
	for i, a := range attrs {
		switch a.name {
		case "http-equiv":
			equiv = i
		case "content":
			content = i
		}
	}
	if equiv < 0 || content < 0 || !strings.EqualFold(strings.TrimSpace(attrs[equiv].value), "content-security-policy") {
		return nil, false
	}
	pol, nonce := amend(attrs[content].value)
	*used = *used || nonce
	attrs[content].value = pol
	var b strings.Builder
	b.Grow(len(tag) + len(pol))
	b.WriteString("<meta")
	for _, a := range attrs {
		b.WriteString(" " + a.name + `="` + html.EscapeString(a.value) + `"`)
	}
	b.WriteString(">")
	return []byte(b.String()), true
}

// parseTagAttrs reads the attributes of a start tag ("<name …>") as the
// HTML tokenizer does: names lower case, values with character references
// decoded, and of an attribute named twice only the first.
func parseTagAttrs(tag string) []tagAttr {
	tag = strings.TrimSuffix(tag, ">")
	i := strings.IndexAny(tag, " \t\n\f\r/")
	if i < 0 {
		return nil
	}
	s := tag[i:]
	var out []tagAttr
	seen := map[string]bool{}
	for {
		s = strings.TrimLeft(s, " \t\n\f\r/")
		if s == "" {
			return out
		}
		// A name runs to a space, '/', '>' or '='; a leading '=' belongs to it.
		j := 1
		for j < len(s) && !strings.ContainsRune(" \t\n\f\r/=", rune(s[j])) {
			j++
		}
		name := strings.ToLower(s[:j])
		s = strings.TrimLeft(s[j:], " \t\n\f\r")
		a := tagAttr{name: name}
		if strings.HasPrefix(s, "=") {
			s = strings.TrimLeft(s[1:], " \t\n\f\r")
			switch {
			case s != "" && (s[0] == '"' || s[0] == '\''):
				end := strings.IndexByte(s[1:], s[0])
				if end < 0 {
					end = len(s) - 1
				}
				a.value = html.UnescapeString(s[1 : 1+end])
				s = s[min(len(s), end+2):]
			default:
				end := strings.IndexAny(s, " \t\n\f\r")
				if end < 0 {
					end = len(s)
				}
				a.value = html.UnescapeString(s[:end])
				s = s[end:]
			}
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, a)
		}
	}
}

// containsFold reports whether b holds the lower-case ASCII word w in any
// case, without allocating.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		j := 0
		for j < len(w) && lower(b[i+j]) == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}
