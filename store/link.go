package store

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// KindIdentityLink is the kind of links between external identities and
// users.
const KindIdentityLink Kind = "identity_link"

// How an IdentityLink came to be (IdentityLink.Method).
const (
	LinkCreated  = "created"  // the first sign-in from the provider created the user
	LinkEmail    = "email"    // matched to an existing user by a verified e-mail in an allowed domain
	LinkExplicit = "explicit" // the user, signed in, linked the provider's account themselves
)

// IdentityLink ties an external identity, an OpenID Connect issuer and
// subject (the stable identity a provider asserts), to a Portier user. A
// sign-in from a provider finds its user by this link, never by e-mail.
// ID is LinkID(Issuer, Subject), so the durable store makes a link unique
// across replicas.
type IdentityLink struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Provider  string    `json:"provider"` // configured provider id the link was made through
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Email     string    `json:"email,omitempty"` // the address the provider asserted when linking
	Method    string    `json:"method"`
	CreatedAt time.Time `json:"created_at"`
}

func (*IdentityLink) Kind() Kind    { return KindIdentityLink }
func (r *IdentityLink) Key() string { return r.ID }

// LinkID is the record id of the link for an issuer and subject.
func LinkID(issuer, subject string) string {
	h := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "oidc_" + hex.EncodeToString(h[:])
}

// IdentityLink returns the link of an issuer and subject.
func (s *Store) IdentityLink(issuer, subject string) (*IdentityLink, bool) {
	return first[IdentityLink](s.Txn(), KindIdentityLink, "id", LinkID(issuer, subject))
}

// LinksOf returns the external identities linked to a user.
func (s *Store) LinksOf(userID string) []*IdentityLink {
	return all[IdentityLink](s.Txn(), KindIdentityLink, "user", userID)
}
