package store

import "time"

// KindHandoff is the kind of sign-in hand-offs.
const KindHandoff Kind = "handoff"

// Handoff carries a signed-in console session to a route host: the console
// redirects the browser to the route host with a one-time code, and the
// proxy trades it for a session cookie of its own on that host. ID is the
// SHA-256 of the code; it is single-use (claimed) and lives a minute.
//
// Attempt binds the hand-off to the browser that started the sign-in: it is
// the SHA-256 of the secret in the per-attempt cookie the proxy set on the
// route host. The proxy accepts the code only from a browser holding that
// cookie; a hand-off without one is never accepted.
type Handoff struct {
	ID        string    `json:"id"`
	SessionID string    `json:"session_id"`
	Host      string    `json:"host"`
	Path      string    `json:"path"` // where to go on the host afterwards
	Attempt   string    `json:"attempt,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (*Handoff) Kind() Kind    { return KindHandoff }
func (r *Handoff) Key() string { return r.ID }

// Handoff returns a hand-off by id.
func (s *Store) Handoff(id string) (*Handoff, bool) {
	return first[Handoff](s.Txn(), KindHandoff, "id", id)
}

// ChildSessions returns the route-host sessions handed off from a session.
func (s *Store) ChildSessions(parentID string) []*Session {
	return all[Session](s.Txn(), KindSession, "parent", parentID)
}
