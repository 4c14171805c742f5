package identity

import (
	"github.com/portier/portier/store"
)

// The writes that end sessions, for sign-out here and for administrators
// through the console API (which adds its own audit event to the same
// write).

// EndSessionOps ends session id: a console session together with every
// route session handed off from it, or a single route session.
func EndSessionOps(st *store.Store, id string) []store.Op {
	ops := []store.Op{store.Delete(store.KindSession, id)}
	for _, c := range st.ChildSessions(id) {
		ops = append(ops, store.Delete(store.KindSession, c.ID))
	}
	return ops
}

// EndUserOps ends every session of a user, console and route sessions
// alike: signed out everywhere.
func EndUserOps(st *store.Store, userID string) []store.Op {
	var ops []store.Op
	for _, s := range st.SessionsOf(userID) {
		ops = append(ops, store.Delete(store.KindSession, s.ID))
	}
	return ops
}
