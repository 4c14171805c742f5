// Package e2e holds Portier's end-to-end tests: a real server over real TLS,
// a real OpenID Connect code flow against an in-process provider, device
// client certificates from Portier's CA, and a real upstream. It has no
// non-test code.
package e2e
