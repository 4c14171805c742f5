package console

import "github.com/portier/portier/console/ui"

// navEntry is one menu entry and the permission it needs ("" for any
// signed-in person).
type navEntry struct {
	Path, LabelKey string
	Perm           Permission
	// Enrollment marks entries served only with the device registry, Rules
	// those served only with the rules service, Simulate those served
	// only with the what-if simulator.
	Enrollment, Rules, Simulate bool
}

// navEntries is the console menu, in order. A page added to the console
// adds its entry here with the permission its route requires.
func navEntries() []navEntry {
	return []navEntry{
		{Path: "/dashboard", LabelKey: "nav.dashboard", Perm: PermKPIRead}, // first: the admins' landing page
		{Path: "/report", LabelKey: "nav.report", Perm: PermKPIRead},
		{Path: "/", LabelKey: "nav.home"},
		{Path: "/my/devices", LabelKey: "nav.devices", Enrollment: true},
		{Path: "/enroll", LabelKey: "nav.enroll", Enrollment: true},
		{Path: "/auth/security_keys", LabelKey: "nav.security_keys"},
		{Path: "/rules", LabelKey: "nav.rules", Perm: PermRulesRead, Rules: true},
		{Path: "/whatif", LabelKey: "nav.whatif", Perm: PermPolicySimulate, Simulate: true},
		{Path: "/people", LabelKey: "nav.people", Perm: PermUsersRead},
		{Path: "/devices", LabelKey: "nav.inventory", Perm: PermDevicesRead, Enrollment: true},
		{Path: "/inventory", LabelKey: "nav.inventory_counts", Perm: PermDevicesRead, Enrollment: true},
		{Path: "/approvals", LabelKey: "nav.approvals", Perm: PermDevicesRead, Enrollment: true},
		{Path: "/rollout", LabelKey: "nav.rollout", Perm: PermRolloutRead},
		{Path: "/decisions", LabelKey: "nav.decisions", Perm: PermDecisionsRead},
		{Path: "/decisions/stats", LabelKey: "nav.decision_stats", Perm: PermDecisionsRead},
		{Path: "/audit", LabelKey: "nav.audit", Perm: PermAuditRead},
		{Path: "/cluster", LabelKey: "nav.cluster", Perm: PermClusterRead},
	}
}

// nav is the menu for role: only the entries it may open.
func (c *Console) nav(role string) []ui.NavItem {
	var out []ui.NavItem
	for _, e := range navEntries() {
		if e.Enrollment && c.opts.Enrollment == nil || e.Rules && c.opts.Rules == nil || e.Simulate && c.opts.Simulate == nil ||
			e.Perm != "" && !perms[role][e.Perm] {
			continue
		}
		out = append(out, ui.NavItem{Path: e.Path, LabelKey: e.LabelKey})
	}
	return out
}
