package config

import (
	"slices"
	"sort"
)

// ConsoleRoles are the console roles a role mapping may name, most
// powerful first (package console defines what each may do; a console test
// checks that the two lists agree).
var ConsoleRoles = []string{"owner", "admin", "security", "helpdesk", "auditor"}

// validateIdPRoles checks the role mapping of identity provider i
// (identity_providers[i].roles: role → the provider's groups that grant
// it): every key a console role, every group a non-empty name.
func (c *Config) validateIdPRoles(i int, p IdP) error {
	roles := make([]string, 0, len(p.Roles))
	for r := range p.Roles {
		roles = append(roles, r)
	}
	sort.Strings(roles) // the first error is the same on every run
	for _, r := range roles {
		if !slices.Contains(ConsoleRoles, r) {
			return c.errAt("identity provider %q: roles: %q is not a console role (owner, admin, security, helpdesk or auditor)",
				[]any{"identity_providers", i, "roles", r}, p.ID, r)
		}
		if len(p.Roles[r]) == 0 {
			return c.errAt("identity provider %q: roles: %s needs at least one group", []any{"identity_providers", i, "roles", r}, p.ID, r)
		}
		for j, g := range p.Roles[r] {
			if g == "" {
				return c.errAt("identity provider %q: roles: %s: a group name must not be empty", []any{"identity_providers", i, "roles", r, j}, p.ID, r)
			}
		}
	}
	return nil
}
