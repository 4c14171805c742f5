package proxy

import "strings"

// amendCSP rewrites one Content-Security-Policy header value so that the
// application's policy also lets Portier's own assets load: the source
// base (https://host/.portier/mam/, which only Portier answers) is added
// to the directive that governs stylesheets, and, when withScript, to the
// one that governs scripts. Nothing else changes: no 'unsafe-inline' is
// ever added, and the application's nonces and hashes keep their meaning.
//
// Where a script directive uses 'strict-dynamic' (which ignores URL
// sources) or nonces or hashes, nonce is added as 'nonce-…' too and
// usedNonce reports it: Portier's script element then carries it. Adding
// a nonce there changes nothing for the application's inline scripts,
// since a nonce or hash already switches 'unsafe-inline' off.
//
// A value may hold several policies separated by commas; each is amended.
func amendCSP(v, base, nonce string, withScript bool) (out string, usedNonce bool) {
	policies := strings.Split(v, ",")
	for i, pol := range policies {
		var used bool
		policies[i], used = amendPolicy(pol, base, nonce, withScript)
		usedNonce = usedNonce || used
	}
	return strings.Join(policies, ", "), usedNonce
}

// amendPolicy amends one policy as amendCSP does; a <meta> tag's policy
// is one policy (its commas separate nothing).
func amendPolicy(pol, base, nonce string, withScript bool) (out string, usedNonce bool) {
	dirs := amendDirective(splitDirectives(pol), "style", base, "")
	if withScript {
		dirs, usedNonce = amendScript(dirs, base, nonce)
	}
	return joinDirectives(dirs), usedNonce
}

// directive is one CSP directive: its lower-case name and its sources.
type directive struct {
	name    string
	sources []string
}

func splitDirectives(pol string) []directive {
	var out []directive
	for _, d := range strings.Split(pol, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		out = append(out, directive{name: strings.ToLower(f[0]), sources: f[1:]})
	}
	return out
}

func joinDirectives(dirs []directive) string {
	parts := make([]string, len(dirs))
	for i, d := range dirs {
		parts[i] = strings.Join(append([]string{d.name}, d.sources...), " ")
	}
	return strings.Join(parts, "; ")
}

// governing is the index of the directive that decides for kind's
// elements (style-src-elem, then style-src, then default-src; the same for
// script), and whether it is default-src; -1 when none does.
func governing(dirs []directive, kind string) (int, bool) {
	for _, name := range []string{kind + "-src-elem", kind + "-src"} {
		for i, d := range dirs {
			if d.name == name {
				return i, false
			}
		}
	}
	for i, d := range dirs {
		if d.name == "default-src" {
			return i, true
		}
	}
	return -1, false
}

// amendDirective adds sources to the directive governing kind. When that
// is default-src, a kind-src directive with default-src's sources plus
// the new ones is added instead, so nothing else gains anything.
func amendDirective(dirs []directive, kind string, add ...string) []directive {
	i, isDefault := governing(dirs, kind)
	if i < 0 {
		return dirs
	}
	var srcs []string
	for _, s := range dirs[i].sources {
		if !strings.EqualFold(s, "'none'") {
			srcs = append(srcs, s)
		}
	}
	for _, a := range add {
		if a != "" {
			srcs = append(srcs, a)
		}
	}
	if isDefault {
		return append(dirs, directive{name: kind + "-src", sources: srcs})
	}
	dirs[i].sources = srcs
	return dirs
}

// amendScript adds base, and the nonce when the script directive needs
// one, to the directive governing scripts.
func amendScript(dirs []directive, base, nonce string) ([]directive, bool) {
	i, _ := governing(dirs, "script")
	if i < 0 {
		return dirs, false
	}
	need := false
	for _, s := range dirs[i].sources {
		l := strings.ToLower(s)
		if l == "'strict-dynamic'" || strings.HasPrefix(l, "'nonce-") || strings.HasPrefix(l, "'sha256-") ||
			strings.HasPrefix(l, "'sha384-") || strings.HasPrefix(l, "'sha512-") {
			need = true
			break
		}
	}
	if !need {
		return amendDirective(dirs, "script", base), false
	}
	return amendDirective(dirs, "script", base, "'nonce-"+nonce+"'"), true
}
