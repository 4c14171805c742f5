package posture

import (
	"sort"

	"github.com/portier/portier/posture/collect"
)

// Signal names posture understands beyond the desktop agent's collectors:
// they come from mobile agents and external MDM/EDR sources.
const (
	// SignalRooted is true when the device is rooted or jailbroken.
	SignalRooted = collect.DeviceRooted
	// SignalLocation is the device position, "latitude,longitude" in
	// decimal degrees. It is kept only under the location rules.
	SignalLocation = collect.LocationCoordinates
	// SignalLocationAccuracy is the radius of the position's uncertainty, in meters.
	SignalLocationAccuracy = collect.LocationAccuracyMeters
)

// Signal groups a data profile or a posture source allow-list can name
// instead of single signal names.
const (
	GroupSecurity = "security" // security state of the device: what compliance checks read
	GroupSystem   = "system"   // system health: kernel, uptime, free disk space
	GroupApps     = "apps"     // the installed-application inventory
	GroupLocation = "location" // position: only under the location rules
	GroupOther    = "other"    // signals added later and not yet classified: only "all" allows them
	GroupAll      = "all"      // every signal above
)

// groupOrder lists the groups as the privacy notice presents them.
var groupOrder = [...]string{GroupSecurity, GroupSystem, GroupApps, GroupLocation, GroupOther}

// signalInfo is what posture knows of one signal name.
type signalInfo struct {
	kind  collect.Kind
	group string
	en    string // plain-language label for the privacy notice
	fr    string
	order int // position in the notice
}

// catalog is the constant table of every signal name posture accepts, built
// once from the collect package's table and posture's own names.
var catalog = buildCatalog()

func buildCatalog() map[string]signalInfo {
	labels := []struct {
		name string
		l    [3]string // group, English, French
	}{
		{collect.AgentVersion, [3]string{GroupSecurity, "Portier agent version", "version de l'agent Portier"}},
		{collect.OSName, [3]string{GroupSecurity, "operating system name", "nom du système d'exploitation"}},
		{collect.OSID, [3]string{GroupSecurity, "operating system family", "famille du système d'exploitation"}},
		{collect.OSVersion, [3]string{GroupSecurity, "operating system version", "version du système d'exploitation"}},
		{collect.OSBuild, [3]string{GroupSecurity, "operating system build", "build du système d'exploitation"}},
		{collect.DiskEncrypted, [3]string{GroupSecurity, "whether the disk is encrypted", "chiffrement du disque (oui/non)"}},
		{collect.DiskEncryptionMethod, [3]string{GroupSecurity, "disk encryption method", "méthode de chiffrement du disque"}},
		{collect.DiskEncryptionCipher, [3]string{GroupSecurity, "disk encryption algorithm", "algorithme de chiffrement du disque"}},
		{collect.UpdatesPending, [3]string{GroupSecurity, "number of pending updates", "nombre de mises à jour en attente"}},
		{collect.UpdatesSecurityPending, [3]string{GroupSecurity, "number of pending security updates", "nombre de mises à jour de sécurité en attente"}},
		{collect.UpdatesSecurityOldestDays, [3]string{GroupSecurity, "age of the oldest pending security update", "ancienneté de la plus vieille mise à jour de sécurité en attente"}},
		{collect.FirewallEnabled, [3]string{GroupSecurity, "whether the firewall is on", "pare-feu actif (oui/non)"}},
		{collect.FirewallProduct, [3]string{GroupSecurity, "which firewall is used", "nom du pare-feu"}},
		{collect.ScreenlockEnabled, [3]string{GroupSecurity, "whether the screen locks by itself", "verrouillage automatique de l'écran (oui/non)"}},
		{collect.ScreenlockDelaySeconds, [3]string{GroupSecurity, "screen lock delay", "délai de verrouillage de l'écran"}},
		{collect.SecurebootEnabled, [3]string{GroupSecurity, "whether Secure Boot is on", "démarrage sécurisé actif (oui/non)"}},
		{collect.SIPEnabled, [3]string{GroupSecurity, "whether System Integrity Protection is on", "protection de l'intégrité du système active (oui/non)"}},
		{collect.GatekeeperEnabled, [3]string{GroupSecurity, "whether Gatekeeper is on", "Gatekeeper actif (oui/non)"}},
		{collect.AntivirusRunning, [3]string{GroupSecurity, "whether an antivirus is running", "antivirus actif (oui/non)"}},
		{collect.AntivirusProduct, [3]string{GroupSecurity, "which antivirus is used", "nom de l'antivirus"}},
		{collect.AntivirusSignaturesAgeDays, [3]string{GroupSecurity, "age of the antivirus signatures", "ancienneté des signatures antivirus"}},
		{collect.MDMEnrolled, [3]string{GroupSecurity, "whether the device is enrolled in an MDM", "inscription à un MDM (oui/non)"}},
		{SignalRooted, [3]string{GroupSecurity, "whether the device is rooted or jailbroken", "appareil rooté ou jailbreaké (oui/non)"}},
		{collect.KernelVersion, [3]string{GroupSystem, "kernel version", "version du noyau"}},
		{collect.UptimeSeconds, [3]string{GroupSystem, "time since the last restart", "durée depuis le dernier redémarrage"}},
		{collect.DiskFreeBytes, [3]string{GroupSystem, "free disk space", "espace disque libre"}},
		{collect.AppsInstalled, [3]string{GroupApps, "the list of installed applications (name, version, publisher)", "la liste des applications installées (nom, version, éditeur)"}},
		{SignalLocation, [3]string{GroupLocation, "the device's position", "la position de l'appareil"}},
		{SignalLocationAccuracy, [3]string{GroupLocation, "the precision of that position", "la précision de cette position"}},
	}
	kinds := map[string]collect.Kind{
		SignalRooted:           collect.KindBool,
		SignalLocation:         collect.KindString,
		SignalLocationAccuracy: collect.KindInt,
	}
	for _, s := range collect.Specs() {
		kinds[s.Name] = s.Kind
	}
	out := make(map[string]signalInfo, len(kinds))
	for i, l := range labels {
		out[l.name] = signalInfo{kind: kinds[l.name], group: l.l[0], en: l.l[1], fr: l.l[2], order: i}
	}
	for name, k := range kinds {
		if _, ok := out[name]; !ok {
			out[name] = signalInfo{kind: k, group: GroupOther, en: name, fr: name, order: len(labels)}
		}
	}
	return out
}

// KnownSignal reports whether posture accepts a signal name.
func KnownSignal(name string) bool {
	_, ok := catalog[name]
	return ok
}

// SignalGroup returns the group a signal name belongs to ("" if unknown).
func SignalGroup(name string) string { return catalog[name].group }

// groupMembers returns the signal names of a group (all of them for GroupAll), sorted.
func groupMembers(group string) []string {
	var out []string
	for name, info := range catalog {
		if group == GroupAll || info.group == group {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// isGroup reports whether s names a signal group.
func isGroup(s string) bool {
	switch s {
	case GroupSecurity, GroupSystem, GroupApps, GroupLocation, GroupOther, GroupAll:
		return true
	}
	return false
}
