package proxy

// spoofable reports whether a client-sent header name must not reach an
// upstream: it names, up to case and '_' for '-', a header Portier sets
// (X-Portier-*, X-Forwarded-*, Forwarded, X-Real-IP) or one that
// frameworks read to learn the client's address (Client-IP,
// True-Client-IP, X-Client-IP, X-Cluster-Client-IP), the request's path
// (X-Original-URL, X-Rewrite-URL) or its method (X-HTTP-Method-Override,
// X-HTTP-Method, X-Method-Override), all of which Portier has decided on
// already. CGI, WSGI and PHP read X_Portier_Email and X-Portier-Email as
// the same HTTP_X_PORTIER_EMAIL, so both spellings go.
func spoofable(k string) bool {
	if len(k) < 9 {
		return false
	}
	switch k[0] | 0x20 {
	case 'x':
		return hasNamePrefix(k, "x-portier") || hasNamePrefix(k, "x-forwarded-") ||
			sameName(k, "x-real-ip") || sameName(k, "x-client-ip") || sameName(k, "x-cluster-client-ip") ||
			sameName(k, "x-original-url") || sameName(k, "x-rewrite-url") ||
			sameName(k, "x-http-method-override") || sameName(k, "x-http-method") || sameName(k, "x-method-override")
	case 'f':
		return sameName(k, "forwarded")
	case 'c':
		return sameName(k, "client-ip")
	case 't':
		return sameName(k, "true-client-ip")
	}
	return false
}

// sameName compares a header name with a lower-case one, ignoring case and
// reading '_' as '-'.
func sameName(k, lower string) bool {
	return len(k) == len(lower) && hasNamePrefix(k, lower)
}

// hasNamePrefix is sameName for a prefix of k.
func hasNamePrefix(k, lower string) bool {
	if len(k) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := k[i]
		if c == '_' {
			c = '-'
		} else if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
