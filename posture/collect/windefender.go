package collect

import (
	"strconv"
	"strings"
)

// Defender is Microsoft Defender Antivirus's state (Get-MpComputerStatus).
type Defender struct {
	RunningMode    string // Normal, Passive, EDR Block Mode, Not running…; "" on old builds
	ServiceEnabled bool
	AVEnabled      bool
	RealTime       bool
	// SignatureAgeDays is AntivirusSignatureAge; -1 when Defender has no
	// signatures (65535) or does not say.
	SignatureAgeDays int64
}

// defenderScript selects the fields the collector needs as JSON.
const defenderScript = "Get-MpComputerStatus | Select-Object AMRunningMode,AMServiceEnabled,AntivirusEnabled," +
	"RealTimeProtectionEnabled,AntivirusSignatureAge | ConvertTo-Json"

// Running is true when Defender is the active antivirus with real-time
// protection: passive and EDR block modes are not.
func (d Defender) Running() bool {
	mode := d.RunningMode == "" || d.RunningMode == "Normal"
	return mode && d.ServiceEnabled && d.AVEnabled && d.RealTime
}

// ParseMpComputerStatus parses Get-MpComputerStatus (or Get-CimInstance
// MSFT_MpComputerStatus) as JSON or Format-List. Booleans must read
// True/False; dates are ignored (they are localized).
func ParseMpComputerStatus(data []byte) (Defender, error) {
	recs, err := ParsePSObjects(data)
	if err != nil {
		return Defender{}, err
	}
	if len(recs) != 1 {
		return Defender{}, unrecognized("Get-MpComputerStatus", strconv.Itoa(len(recs))+" objects")
	}
	r := recs[0]
	d := Defender{RunningMode: r["AMRunningMode"], SignatureAgeDays: -1}
	if d.ServiceEnabled, err = psBool(r, "AMServiceEnabled"); err != nil {
		return Defender{}, err
	}
	if d.AVEnabled, err = psBool(r, "AntivirusEnabled"); err != nil {
		return Defender{}, err
	}
	if d.RealTime, err = psBool(r, "RealTimeProtectionEnabled"); err != nil {
		if _, present := r["RealTimeProtectionEnabled"]; present {
			return Defender{}, err
		}
		// A partial capture without the field: real-time state unknown, so
		// Defender does not count as running.
		d.RealTime = false
	}
	if age, ok := r["AntivirusSignatureAge"]; ok && age != "" {
		n, err := strconv.ParseInt(age, 10, 64)
		if err != nil || n < 0 {
			return Defender{}, unrecognized("AntivirusSignatureAge", age)
		}
		if n < 65535 {
			d.SignatureAgeDays = n
		}
	}
	return d, nil
}

// AVProduct is one antivirus registered with Windows Security Center.
type AVProduct struct {
	Name     string
	Enabled  bool
	UpToDate bool
}

// securityCenterScript lists the antivirus products Security Center knows
// (absent on Windows Server).
const securityCenterScript = "Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct | " +
	"Select-Object displayName,productState | ConvertTo-Json"

// ParseSecurityCenterAV parses SecurityCenter2 AntiVirusProduct objects.
// productState is undocumented; by the widely used reading, bits 12-15
// (0x1000) mean real-time protection on and the low byte 0x10 out-of-date
// signatures.
func ParseSecurityCenterAV(data []byte) ([]AVProduct, error) {
	recs, err := ParsePSObjects(data)
	if err != nil {
		return nil, err
	}
	var out []AVProduct
	for _, r := range recs {
		name, err := cleanValue("displayName", r["displayName"])
		if err != nil {
			return nil, err
		}
		state, err := strconv.ParseUint(r["productState"], 10, 32)
		if err != nil {
			return nil, unrecognized("productState", r["productState"])
		}
		out = append(out, AVProduct{
			Name:     name,
			Enabled:  (state>>8)&0x10 != 0,
			UpToDate: state&0xFF == 0,
		})
	}
	return out, nil
}

// isDefenderName recognizes Defender's own Security Center entry.
func isDefenderName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "windows defender") || strings.Contains(n, "microsoft defender")
}
