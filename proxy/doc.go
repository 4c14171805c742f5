// Package proxy is Portier's hot path: for each request to a route host it
// finds the route, recognises the session and the device, evaluates the
// route's compiled policy over precomputed facts, and either forwards the
// request upstream with a signed assertion or explains the denial.
//
// Per request the proxy does a few memdb lookups (session, device,
// revocation) and one policy evaluation; the device certificate chain is
// verified once per TLS connection, and assertions are re-signed only when
// they near expiry or their claims change.
package proxy
