// Package ca is Portier's embedded certificate authority. It wraps
// smallstep's authority (github.com/smallstep/certificates) in-process,
// backed by Portier's own store, to issue, renew and revoke device client
// certificates, to publish the roots and a signed CRL, and to issue the
// server's own TLS certificate.
//
// The root and intermediate keys live either in files in the data dir
// (FileKeyStore) or sealed with a password inside the shared store
// (SealedKeyStore, for the PostgreSQL backend). Revocation is answered from
// the store's in-memory read model, so a per-request check is one lookup.
package ca
