// Package acme gives the HTTPS listener publicly trusted certificates from
// an ACME certificate authority, with github.com/caddyserver/certmagic
// doing the protocol, the renewals and the challenge answers. Its Storage
// keeps certmagic's certificates, account keys and challenge tokens in
// Portier's store (private keys sealed), and its locks are the store's
// leases, so the replicas of one installation share one certificate per
// host and only one of them orders it.
package acme
