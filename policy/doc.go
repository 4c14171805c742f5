// Package policy is Portier's access policy language: it parses the
// `policies:` section of the configuration into compiled policies and
// evaluates them for every request on the proxy's hot path.
//
// A policy holds allow rules and deny rules built from and/or/not/nor blocks
// over criteria on the user (email, domain, group, idp, mfa), the device
// (trust, ownership, platform, compliance, named checks, id, last report,
// enrollment) and the request context (ip, country, time, method, path).
// Deny wins over allow and a request no rule allows is denied. An allow rule
// that fails only for want of a recent multi-factor sign-in yields step-up,
// and allow rules may carry restrictions for work-profile (BYOD) access.
//
// Everything that can be prepared is prepared by ParsePolicies: CIDRs become
// netip.Prefix values, time zones *time.Location values, names lower-cased
// sets. Policy.Evaluate then only compares precomputed values with an Input
// the caller has already resolved (session, device record, GeoIP country), and
// does not allocate unless it denies, when it builds the human reasons.
//
// The language is documented for policy authors in docs/policies.md. The
// `portier policy lint` and `portier policy test` commands and the
// simulate API are thin wrappers over ParseFile and Policy.Evaluate, so they
// give exactly the decisions the proxy gives.
package policy
