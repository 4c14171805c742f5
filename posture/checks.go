package posture

import (
	"time"

	"github.com/portier/portier/posture/collect"
)

// Compliance check names. They are stable: proxy policies reference them
// (`device: {check: disk_encrypted}`) and they are stored in
// Device.PassingChecks / FailingChecks.
const (
	CheckDiskEncrypted    = "disk_encrypted"
	CheckOSUpToDate       = "os_up_to_date"
	CheckSecurityUpdates  = "security_updates"
	CheckScreenLock       = "screen_lock"
	CheckFirewall         = "firewall_on"
	CheckAntivirus        = "antivirus_running"
	CheckNotRooted        = "not_rooted"
	CheckAgentCurrent     = "agent_current"
	CheckNoForbiddenApps  = "no_forbidden_apps"
	CheckRequiredApps     = "required_apps_present"
	CheckRecentCheckin    = "recent_checkin"
	CheckSecureBoot       = "secure_boot"
	CheckPolicyAssigned   = "policy_assigned" // synthetic: fails when no compliance policy applies to the device
	appsSignal            = collect.AppsInstalled
	agentSource           = "agent"
	externalSourcePrefix  = "external:"
	maxListedAppsInResult = 5
)

// Status is a check's outcome.
type Status string

// Check outcomes. Unknown (the signal is missing or its collector failed)
// counts as failing: compliance fails closed.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// CheckResult is the outcome of one check on one device.
type CheckResult struct {
	Name        string   `json:"name"`
	Status      Status   `json:"status"`
	Message     string   `json:"message"`
	Remediation string   `json:"remediation,omitempty"`
	Source      string   `json:"source,omitempty"` // "agent" or "external:<source>" that decided
	Policies    []string `json:"policies"`         // the policies that require the check
}

// Passing reports whether the check passed.
func (r CheckResult) Passing() bool { return r.Status == Pass }

// checkDef is one row of the check table.
type checkDef struct {
	name    string
	key     string   // the `checks:` key that turns it on
	signals []string // what it reads; none = device record only
	on      func(c *Checks) bool
	eval    func(x *evalCtx, c *Checks) CheckResult
	remedy  func(platform string) string
}

// checks is the constant table of checks, in evaluation and display order.
var checks = checkTable()

func checkTable() []checkDef {
	return []checkDef{
		{CheckDiskEncrypted, "disk_encryption", []string{collect.DiskEncrypted}, func(c *Checks) bool { return c.DiskEncryption }, evalDisk, remedyDisk},
		{CheckOSUpToDate, "min_os_version", []string{collect.OSVersion}, func(c *Checks) bool { return len(c.MinOSVersion) > 0 }, evalOS, remedyOS},
		{CheckSecurityUpdates, "max_security_update_age_days / max_pending_security_updates", []string{collect.UpdatesSecurityPending, collect.UpdatesSecurityOldestDays},
			func(c *Checks) bool { return c.MaxSecurityUpdateAgeDays >= 0 || c.MaxPendingSecurityUpdates >= 0 }, evalUpdates, remedyUpdates},
		{CheckScreenLock, "screen_lock_max_minutes", []string{collect.ScreenlockEnabled, collect.ScreenlockDelaySeconds}, func(c *Checks) bool { return c.ScreenLockMaxMinutes > 0 }, evalScreenLock, remedyScreenLock},
		{CheckFirewall, "firewall", []string{collect.FirewallEnabled}, func(c *Checks) bool { return c.Firewall }, evalFirewall, remedyFirewall},
		{CheckAntivirus, "antivirus", []string{collect.AntivirusRunning}, func(c *Checks) bool { return c.Antivirus }, evalAntivirus, remedyAntivirus},
		{CheckNotRooted, "no_root", []string{SignalRooted, collect.SIPEnabled}, func(c *Checks) bool { return c.NoRoot }, evalRooted, remedyRooted},
		{CheckAgentCurrent, "min_agent_version", []string{collect.AgentVersion}, func(c *Checks) bool { return c.MinAgentVersion != "" }, evalAgent, remedyAgent},
		{CheckNoForbiddenApps, "forbidden_apps", []string{appsSignal}, func(c *Checks) bool { return len(c.ForbiddenApps) > 0 }, evalForbidden, remedyForbidden},
		{CheckRequiredApps, "required_apps", []string{appsSignal}, func(c *Checks) bool { return len(c.RequiredApps) > 0 }, evalRequired, remedyRequired},
		{CheckRecentCheckin, "max_checkin_age", nil, func(c *Checks) bool { return c.MaxCheckinAge > 0 }, evalCheckin, remedyCheckin},
		{CheckSecureBoot, "secure_boot", []string{collect.SecurebootEnabled}, func(c *Checks) bool { return c.SecureBoot }, evalSecureBoot, remedySecureBoot},
	}
}

// CheckNames lists every check name a proxy policy may reference, in table order.
func CheckNames() []string {
	out := make([]string, 0, len(checks)+1)
	for _, d := range checks {
		out = append(out, d.name)
	}
	return append(out, CheckPolicyAssigned)
}

// merge folds policy b's checks into a, keeping the strictest of each:
// the highest minimum version, the lowest maximum, any "required", and the
// union of app lists.
func merge(a *Checks, b *Checks) {
	for k, v := range b.MinOSVersion {
		if a.MinOSVersion == nil {
			a.MinOSVersion = map[string]string{}
		}
		a.MinOSVersion[k] = maxVersion(a.MinOSVersion[k], v)
	}
	a.MaxSecurityUpdateAgeDays = minLimit(a.MaxSecurityUpdateAgeDays, b.MaxSecurityUpdateAgeDays)
	a.MaxPendingSecurityUpdates = minLimit(a.MaxPendingSecurityUpdates, b.MaxPendingSecurityUpdates)
	a.DiskEncryption = a.DiskEncryption || b.DiskEncryption
	a.Firewall = a.Firewall || b.Firewall
	a.Antivirus = a.Antivirus || b.Antivirus
	a.NoRoot = a.NoRoot || b.NoRoot
	a.SecureBoot = a.SecureBoot || b.SecureBoot
	if b.ScreenLockMaxMinutes > 0 && (a.ScreenLockMaxMinutes == 0 || b.ScreenLockMaxMinutes < a.ScreenLockMaxMinutes) {
		a.ScreenLockMaxMinutes = b.ScreenLockMaxMinutes
	}
	a.MinAgentVersion = maxVersion(a.MinAgentVersion, b.MinAgentVersion)
	a.ForbiddenApps = union(a.ForbiddenApps, b.ForbiddenApps)
	a.RequiredApps = union(a.RequiredApps, b.RequiredApps)
	if b.MaxCheckinAge > 0 && (a.MaxCheckinAge == 0 || b.MaxCheckinAge < a.MaxCheckinAge) {
		a.MaxCheckinAge = b.MaxCheckinAge
	}
}

func minLimit(a, b int64) int64 {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

func union(a, b []string) []string {
	out := a
	for _, s := range b {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// mergeLadders folds the ladders of the policies whose checks fail: the
// shortest grace, each step at the earliest time any of them sets, a step
// if any has it, and a selective wipe if any asks for one. Steps are then
// made monotonic by pulling an earlier step forward to a later one's time.
func mergeLadders(pols []*Policy) (time.Duration, Ladder) {
	grace := time.Duration(-1)
	at := map[string]time.Duration{}
	var wipe bool
	for _, p := range pols {
		if grace < 0 || p.Grace < grace {
			grace = p.Grace
		}
		for _, s := range p.Ladder.Steps {
			if d, ok := at[s.Name]; !ok || s.After < d {
				at[s.Name] = s.After
			}
		}
		wipe = wipe || p.Ladder.QueueSelectiveWipe
	}
	if grace < 0 {
		grace = DefaultGrace
	}
	var l Ladder
	for i := len(stepOrder) - 1; i >= 2; i-- {
		name := stepOrder[i]
		d, ok := at[name]
		if !ok {
			continue
		}
		if len(l.Steps) > 0 && l.Steps[0].After < d {
			d = l.Steps[0].After
		}
		l.Steps = append([]Step{{name, d}}, l.Steps...)
	}
	_, hasQ := at[StepQuarantine]
	l.QueueSelectiveWipe = wipe && hasQ
	return grace, l
}
