// Package assertion signs the X-Portier-Assertion JWT that the proxy sends
// upstream (ES256, short-lived) and publishes the public keys as a JWKS.
//
// Keys live in the store so every replica signs with keys every verifier
// knows. Rotation publishes the next key in the JWKS before any token is
// signed with it, and keeps retired keys published until every token they
// signed has expired, so verifiers that cache the JWKS never break.
package assertion
