package identity

import (
	"slices"
	"sort"
)

// rolesOf returns the console roles that a person with groups gets from
// this provider's role mapping (identity_providers[].roles), sorted; nil
// when none. The session keeps them (store.Session.Roles); which of them,
// with the account's own role, counts is the console's rule.
func (p *provider) rolesOf(groups []string) []string {
	var out []string
	for role, want := range p.roles {
		for _, g := range want {
			if slices.Contains(groups, g) {
				out = append(out, role)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
