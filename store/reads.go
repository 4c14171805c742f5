package store

import (
	"github.com/hashicorp/go-memdb"

	"github.com/portier/portier/mailaddr"
)

// first returns the record of type T found by index, or false.
func first[T any](txn *memdb.Txn, k Kind, index string, args ...any) (*T, bool) {
	raw, err := txn.First(string(k), index, args...)
	if err != nil || raw == nil {
		return nil, false
	}
	v, ok := raw.(*T)
	return v, ok
}

// all returns every record of type T matching index (all of the kind with "id").
func all[T any](txn *memdb.Txn, k Kind, index string, args ...any) []*T {
	it, err := txn.Get(string(k), index, args...)
	if err != nil {
		return nil
	}
	var out []*T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*T))
	}
	return out
}

// Device returns a device by id.
func (s *Store) Device(id string) (*Device, bool) {
	return first[Device](s.Txn(), KindDevice, "id", id)
}

// DeviceByCertSerial returns the device a certificate serial was issued to.
func (s *Store) DeviceByCertSerial(serial string) (*Device, bool) {
	return first[Device](s.Txn(), KindDevice, "cert_serial", serial)
}

// DeviceBySerial returns a device by hardware serial number.
func (s *Store) DeviceBySerial(serial string) (*Device, bool) {
	return first[Device](s.Txn(), KindDevice, "serial", serial)
}

// Devices returns every device, ordered by id.
func (s *Store) Devices() []*Device { return all[Device](s.Txn(), KindDevice, "id") }

// DevicesOwnedBy returns the devices enrolled for an owner email, compared
// by the mailaddr rule (an unacceptable address owns nothing).
func (s *Store) DevicesOwnedBy(email string) []*Device {
	n, err := mailaddr.Normalize(email)
	if err != nil {
		return nil
	}
	return all[Device](s.Txn(), KindDevice, "owner", n)
}

// Certificate returns an issued certificate by serial.
func (s *Store) Certificate(serial string) (*Certificate, bool) {
	return first[Certificate](s.Txn(), KindCertificate, "id", serial)
}

// Revocation returns the revocation of a serial, if it was revoked.
func (s *Store) Revocation(serial string) (*Revocation, bool) {
	return first[Revocation](s.Txn(), KindRevocation, "id", serial)
}

// IsRevoked reports whether a certificate serial is revoked: one lookup.
func (s *Store) IsRevoked(serial string) bool {
	raw, err := s.db.Txn(false).First(string(KindRevocation), "id", serial)
	return err == nil && raw != nil
}

// Revocations returns every revocation, for the CRL.
func (s *Store) Revocations() []*Revocation { return all[Revocation](s.Txn(), KindRevocation, "id") }

// Session returns a session by id (the hash of its cookie).
func (s *Store) Session(id string) (*Session, bool) {
	return first[Session](s.Txn(), KindSession, "id", id)
}

// SessionsOf returns a user's sessions.
func (s *Store) SessionsOf(userID string) []*Session {
	return all[Session](s.Txn(), KindSession, "user", userID)
}

// User returns a user by id.
func (s *Store) User(id string) (*User, bool) { return first[User](s.Txn(), KindUser, "id", id) }

// UserByEmail returns a user by email, compared by the mailaddr rule: ASCII
// case does not matter, and an address with any non-ASCII character finds
// no one.
func (s *Store) UserByEmail(email string) (*User, bool) {
	n, err := mailaddr.Normalize(email)
	if err != nil {
		return nil, false
	}
	return first[User](s.Txn(), KindUser, "email", n)
}

// Users returns every user.
func (s *Store) Users() []*User { return all[User](s.Txn(), KindUser, "id") }

// Token returns an API token by id.
func (s *Store) Token(id string) (*Token, bool) { return first[Token](s.Txn(), KindToken, "id", id) }

// TokenBySecretHash returns the API token whose secret hashes to h.
func (s *Store) TokenBySecretHash(h string) (*Token, bool) {
	return first[Token](s.Txn(), KindToken, "secret", h)
}

// Tokens returns every API token.
func (s *Store) Tokens() []*Token { return all[Token](s.Txn(), KindToken, "id") }

// Invite returns an invite by id (the hash of its secret).
func (s *Store) Invite(id string) (*Invite, bool) {
	return first[Invite](s.Txn(), KindInvite, "id", id)
}

// Invites returns every invite.
func (s *Store) Invites() []*Invite { return all[Invite](s.Txn(), KindInvite, "id") }

// Blob returns named data.
func (s *Store) Blob(id string) (*Blob, bool) { return first[Blob](s.Txn(), KindBlob, "id", id) }
