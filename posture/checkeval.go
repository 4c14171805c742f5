package posture

import (
	"fmt"
	"iter"
	"path"
	"strings"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// observed is one signal value and where it came from.
type observed struct {
	sig    collect.Signal
	source string // "agent" or "external:<name>"
}

// evalCtx is what the check functions read.
type evalCtx struct {
	d        *store.Device
	now      time.Time
	platform string
	sigs     []observed // the agent's values first, then each source's
}

// cands yields every source's value of a signal. A linear scan of a few
// dozen entries beats building an index for one evaluation.
func (x *evalCtx) cands(name string) iter.Seq[observed] {
	return func(yield func(observed) bool) {
		for i := range x.sigs {
			if x.sigs[i].sig.Name == name && !yield(x.sigs[i]) {
				return
			}
		}
	}
}

// has reports whether any source reported the signal.
func (x *evalCtx) has(name string) bool {
	for i := range x.sigs {
		if x.sigs[i].sig.Name == name {
			return true
		}
	}
	return false
}

type verdict int

const (
	vUnknown verdict = iota
	vPass
	vFail
)

// judge applies test to every source's value of a signal: any source that
// reports a failing value fails the check (the strictest source wins); a
// pass needs at least one readable value; otherwise the state is unknown.
func (x *evalCtx) judge(name string, test func(v any) (verdict, string)) (Status, string, string) {
	if !x.has(name) {
		return Unknown, name + " was not reported", ""
	}
	var passMsg, passSrc, unknownMsg string
	for c := range x.cands(name) {
		if !c.sig.OK() {
			if unknownMsg == "" {
				unknownMsg = name + " could not be read"
				if c.sig.Error != "" {
					unknownMsg += ": " + c.sig.Error
				}
			}
			continue
		}
		v, msg := test(c.sig.Value)
		switch v {
		case vFail:
			return Fail, msg, c.source
		case vPass:
			if passSrc == "" {
				passMsg, passSrc = msg, c.source
			}
		default:
			if unknownMsg == "" {
				unknownMsg = msg
			}
		}
	}
	if passSrc != "" {
		return Pass, passMsg, passSrc
	}
	return Unknown, unknownMsg, ""
}

// first returns the first readable value of a signal, if any.
func (x *evalCtx) first(name string) (any, bool) {
	for c := range x.cands(name) {
		if c.sig.OK() {
			return c.sig.Value, true
		}
	}
	return nil, false
}

func result(name string, st Status, msg, src string) CheckResult {
	if st == Unknown {
		msg += " (an unknown state counts as failing)"
	}
	return CheckResult{Name: name, Status: st, Message: msg, Source: src}
}

func boolIs(want bool, yes, no string) func(any) (verdict, string) {
	return func(v any) (verdict, string) {
		b, ok := v.(bool)
		switch {
		case !ok:
			return vUnknown, "unexpected value type"
		case b == want:
			return vPass, yes
		}
		return vFail, no
	}
}

func evalDisk(x *evalCtx, _ *Checks) CheckResult {
	st, msg, src := x.judge(collect.DiskEncrypted, boolIs(true, "the disk is encrypted", "the disk is not encrypted"))
	if m, ok := x.first(collect.DiskEncryptionMethod); ok && st == Pass {
		msg += fmt.Sprintf(" (%v)", m)
	}
	return result(CheckDiskEncrypted, st, msg, src)
}

func evalFirewall(x *evalCtx, _ *Checks) CheckResult {
	st, msg, src := x.judge(collect.FirewallEnabled, boolIs(true, "the firewall is on", "the firewall is off"))
	return result(CheckFirewall, st, msg, src)
}

func evalAntivirus(x *evalCtx, _ *Checks) CheckResult {
	st, msg, src := x.judge(collect.AntivirusRunning, boolIs(true, "an antivirus is running", "no antivirus with real-time protection is running"))
	return result(CheckAntivirus, st, msg, src)
}

func evalSecureBoot(x *evalCtx, _ *Checks) CheckResult {
	st, msg, src := x.judge(collect.SecurebootEnabled, boolIs(true, "Secure Boot is on", "Secure Boot is off"))
	return result(CheckSecureBoot, st, msg, src)
}

func evalRooted(x *evalCtx, _ *Checks) CheckResult {
	if !x.has(SignalRooted) && x.platform == "macos" {
		st, msg, src := x.judge(collect.SIPEnabled, boolIs(true, "System Integrity Protection is on", "System Integrity Protection is off or customised"))
		return result(CheckNotRooted, st, msg, src)
	}
	st, msg, src := x.judge(SignalRooted, boolIs(false, "the device is not rooted or jailbroken", "the device is rooted or jailbroken"))
	return result(CheckNotRooted, st, msg, src)
}

func evalOS(x *evalCtx, c *Checks) CheckResult {
	osID, idKnown := x.first(collect.OSID)
	id, _ := osID.(string)
	key := strings.ToLower(id)
	want, ok := c.MinOSVersion[key]
	if !ok {
		key = x.platform
		want, ok = c.MinOSVersion[key]
	}
	if !ok {
		if idKnown {
			return CheckResult{Name: CheckOSUpToDate, Status: Pass, Message: fmt.Sprintf("no minimum version is set for %s", id)}
		}
		return result(CheckOSUpToDate, Unknown, "the operating system was not reported", "")
	}
	st, msg, src := x.judge(collect.OSVersion, func(v any) (verdict, string) {
		s, _ := v.(string)
		ok, err := versionAtLeast(s, want)
		switch {
		case err != nil:
			return vUnknown, fmt.Sprintf("the OS version %q cannot be compared with %s", s, want)
		case !ok:
			return vFail, fmt.Sprintf("%s %s is older than the minimum %s", key, s, want)
		}
		return vPass, fmt.Sprintf("%s %s meets the minimum %s", key, s, want)
	})
	return result(CheckOSUpToDate, st, msg, src)
}

func evalAgent(x *evalCtx, c *Checks) CheckResult {
	st, msg, src := x.judge(collect.AgentVersion, func(v any) (verdict, string) {
		s, _ := v.(string)
		ok, err := versionAtLeast(s, c.MinAgentVersion)
		switch {
		case err != nil:
			return vUnknown, fmt.Sprintf("the agent version %q cannot be compared with %s", s, c.MinAgentVersion)
		case !ok:
			return vFail, fmt.Sprintf("agent %s is older than the minimum %s", s, c.MinAgentVersion)
		}
		return vPass, fmt.Sprintf("agent %s meets the minimum %s", s, c.MinAgentVersion)
	})
	return result(CheckAgentCurrent, st, msg, src)
}

func intAtMost(limit int64, what string) func(any) (verdict, string) {
	return func(v any) (verdict, string) {
		n, ok := v.(int64)
		switch {
		case !ok:
			return vUnknown, "unexpected value type"
		case n > limit:
			return vFail, fmt.Sprintf("%s is %d, more than the allowed %d", what, n, limit)
		}
		return vPass, fmt.Sprintf("%s is %d (at most %d)", what, n, limit)
	}
}

// evalUpdates checks both update limits; with nothing pending the age of
// the oldest pending update is trivially within any limit.
func evalUpdates(x *evalCtx, c *Checks) CheckResult {
	type part struct {
		st       Status
		msg, src string
	}
	var parts []part
	if c.MaxPendingSecurityUpdates >= 0 {
		st, msg, src := x.judge(collect.UpdatesSecurityPending, intAtMost(c.MaxPendingSecurityUpdates, "pending security updates"))
		parts = append(parts, part{st, msg, src})
	}
	if c.MaxSecurityUpdateAgeDays >= 0 {
		n, ok := x.first(collect.UpdatesSecurityPending)
		if ok && n == int64(0) && !anyOK(x.cands(collect.UpdatesSecurityOldestDays)) {
			parts = append(parts, part{Pass, "no security update is pending", ""})
		} else {
			st, msg, src := x.judge(collect.UpdatesSecurityOldestDays, intAtMost(c.MaxSecurityUpdateAgeDays, "the oldest pending security update's age in days"))
			parts = append(parts, part{st, msg, src})
		}
	}
	worst := parts[0]
	msgs := make([]string, len(parts))
	for i, p := range parts {
		msgs[i] = p.msg
		if p.st == Fail || (p.st == Unknown && worst.st == Pass) {
			worst = p
		}
	}
	msg := strings.Join(msgs, "; ")
	if worst.st == Pass {
		return CheckResult{Name: CheckSecurityUpdates, Status: Pass, Message: msg, Source: worst.src}
	}
	return result(CheckSecurityUpdates, worst.st, msg, worst.src)
}

func anyOK(cands iter.Seq[observed]) bool {
	for c := range cands {
		if c.sig.OK() {
			return true
		}
	}
	return false
}

func evalScreenLock(x *evalCtx, c *Checks) CheckResult {
	st, msg, src := x.judge(collect.ScreenlockEnabled, boolIs(true, "the screen locks by itself", "the screen does not lock by itself"))
	if st != Pass {
		return result(CheckScreenLock, st, msg, src)
	}
	limit := c.ScreenLockMaxMinutes * 60
	st, msg, src = x.judge(collect.ScreenlockDelaySeconds, func(v any) (verdict, string) {
		n, ok := v.(int64)
		switch {
		case !ok:
			return vUnknown, "unexpected value type"
		case n > limit:
			return vFail, fmt.Sprintf("the screen locks after %s, later than the allowed %d minutes", humanSeconds(n), c.ScreenLockMaxMinutes)
		}
		return vPass, fmt.Sprintf("the screen locks after %s (at most %d minutes)", humanSeconds(n), c.ScreenLockMaxMinutes)
	})
	return result(CheckScreenLock, st, msg, src)
}

func humanSeconds(n int64) string {
	if n%60 == 0 {
		return fmt.Sprintf("%d min", n/60)
	}
	return fmt.Sprintf("%d s", n)
}

// apps returns every reported application name, lower-cased, across sources.
func (x *evalCtx) apps() ([]string, Status, string) {
	var names []string
	status, msg := Unknown, "the application inventory was not reported"
	for c := range x.cands(appsSignal) {
		list, ok := c.sig.Value.([]collect.App)
		if !c.sig.OK() || !ok {
			if c.sig.Error != "" {
				msg = "the application inventory could not be read: " + c.sig.Error
			}
			continue
		}
		status = Pass
		for _, a := range list {
			names = append(names, strings.ToLower(a.Name))
		}
	}
	return names, status, msg
}

func matchApp(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}

func evalForbidden(x *evalCtx, c *Checks) CheckResult {
	names, st, msg := x.apps()
	if st != Pass {
		return result(CheckNoForbiddenApps, st, msg, "")
	}
	var found []string
	for _, n := range names {
		for _, p := range c.ForbiddenApps {
			if matchApp(p, n) && !contains(found, n) {
				found = append(found, n)
			}
		}
	}
	if len(found) > 0 {
		return result(CheckNoForbiddenApps, Fail, "forbidden applications installed: "+listSome(found), "")
	}
	return result(CheckNoForbiddenApps, Pass, "no forbidden application is installed", "")
}

func evalRequired(x *evalCtx, c *Checks) CheckResult {
	names, st, msg := x.apps()
	if st != Pass {
		return result(CheckRequiredApps, st, msg, "")
	}
	var missing []string
	for _, p := range c.RequiredApps {
		found := false
		for _, n := range names {
			if matchApp(p, n) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return result(CheckRequiredApps, Fail, "required applications missing: "+listSome(missing), "")
	}
	return result(CheckRequiredApps, Pass, "every required application is installed", "")
}

func listSome(list []string) string {
	if len(list) <= maxListedAppsInResult {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:maxListedAppsInResult], ", ") + fmt.Sprintf(" and %d more", len(list)-maxListedAppsInResult)
}

func evalCheckin(x *evalCtx, c *Checks) CheckResult {
	if x.d.LastSeen.IsZero() {
		return result(CheckRecentCheckin, Fail, "the device has never reported its posture", "")
	}
	age := x.now.Sub(x.d.LastSeen)
	if age > c.MaxCheckinAge {
		return result(CheckRecentCheckin, Fail, fmt.Sprintf("last check-in %s ago, more than the allowed %s", roundAge(age), c.MaxCheckinAge), "")
	}
	return result(CheckRecentCheckin, Pass, fmt.Sprintf("last check-in %s ago", roundAge(age)), "")
}

func roundAge(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}
