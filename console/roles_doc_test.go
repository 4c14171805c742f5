package console

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// roleMatrix renders perms as the Markdown table of docs/roles.md: one row
// per permission, one column per role.
func roleMatrix() string {
	roles := []string{RoleOwner, RoleAdmin, RoleSecurity, RoleHelpdesk, RoleAuditor}
	set := map[Permission]bool{}
	for _, ps := range perms {
		for p := range ps {
			set[p] = true
		}
	}
	all := make([]string, 0, len(set))
	for p := range set {
		all = append(all, string(p))
	}
	sort.Strings(all)
	var b strings.Builder
	b.WriteString("| permission | " + strings.Join(roles, " | ") + " | employee |\n")
	b.WriteString("|---" + strings.Repeat("|:-:", len(roles)+1) + "|\n")
	for _, p := range all {
		b.WriteString("| `" + p + "` |")
		for _, r := range roles {
			if perms[r][Permission(p)] {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("   |")
			}
		}
		b.WriteString("   |\n")
	}
	return b.String()
}

// TestRoleMatrixDocumented: docs/roles.md shows exactly the permissions
// the code grants, so the page cannot drift from perms.
func TestRoleMatrixDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/roles.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := roleMatrix(); !strings.Contains(string(doc), want) {
		t.Errorf("docs/roles.md does not hold the role matrix of perms; put this table there:\n\n%s", want)
	}
}
