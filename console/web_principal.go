package console

import "github.com/portier/portier/store"

// pageRole is the console role a signed-in browser acts with: the one
// place that turns a person and their session into a role, so a rule such
// as "console roles need a security key at sign-in" is added here and
// holds for every page.
func pageRole(u *store.User, s *store.Session) string { return u.Role }
