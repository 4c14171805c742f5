package collect

import (
	"fmt"
	"strings"
)

// BitLockerVolume is one volume as Get-BitLockerVolume or manage-bde shows
// it, with Get-BitLockerVolume's (not localized) enum names.
type BitLockerVolume struct {
	MountPoint       string // "C:"
	VolumeType       string // OperatingSystem, Data, FixedData…
	VolumeStatus     string // FullyEncrypted, FullyDecrypted, EncryptionInProgress…
	ProtectionStatus string // On, Off, Unknown
	EncryptionMethod string // XtsAes128, Aes256, None… (may be empty)
}

// bitlockerScript lists the system drive's BitLocker state as Format-List,
// whose enum values are names, not numbers.
const bitlockerScript = "Get-BitLockerVolume -MountPoint $env:SystemDrive | Format-List " +
	"MountPoint,VolumeType,VolumeStatus,ProtectionStatus,EncryptionMethod,EncryptionPercentage"

// knownVolumeStatus is the BitLockerVolumeStatus enum.
func knownVolumeStatus(s string) bool {
	switch s {
	case "FullyDecrypted", "FullyEncrypted", "EncryptionInProgress", "DecryptionInProgress",
		"EncryptionSuspended", "DecryptionSuspended", "EncryptionPaused", "DecryptionPaused":
		return true
	}
	return false
}

// ParseBitLockerVolumes parses Get-BitLockerVolume output as Format-List,
// Format-Table or JSON with enum names. Numeric enums (plain ConvertTo-Json)
// and unknown status words are errors.
func ParseBitLockerVolumes(data []byte) ([]BitLockerVolume, error) {
	recs, err := ParsePSObjects(data)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, unrecognized("Get-BitLockerVolume", "no volumes")
	}
	vols := make([]BitLockerVolume, 0, len(recs))
	for _, r := range recs {
		v := BitLockerVolume{
			MountPoint: r["MountPoint"], VolumeType: r["VolumeType"], VolumeStatus: r["VolumeStatus"],
			ProtectionStatus: r["ProtectionStatus"], EncryptionMethod: r["EncryptionMethod"],
		}
		if !knownVolumeStatus(v.VolumeStatus) {
			return nil, unrecognized("VolumeStatus", v.VolumeStatus)
		}
		switch v.ProtectionStatus {
		case "On", "Off", "Unknown":
		default:
			return nil, unrecognized("ProtectionStatus", v.ProtectionStatus)
		}
		vols = append(vols, v)
	}
	return vols, nil
}

// SystemVolume picks the operating-system volume: VolumeType
// OperatingSystem, else the volume mounted at drive (e.g. "C:").
func SystemVolume(vols []BitLockerVolume, drive string) (BitLockerVolume, error) {
	for _, v := range vols {
		if v.VolumeType == "OperatingSystem" {
			return v, nil
		}
	}
	for _, v := range vols {
		if strings.EqualFold(v.MountPoint, drive) {
			return v, nil
		}
	}
	return BitLockerVolume{}, fmt.Errorf("BitLocker: no operating-system volume")
}

// Encrypted is true only for a fully encrypted volume whose protection is
// on: suspended protection or a clear key (device encryption not yet
// backed up) leaves the data readable.
func (v BitLockerVolume) Encrypted() bool {
	return v.VolumeStatus == "FullyEncrypted" && v.ProtectionStatus == "On"
}

// Method is "bitlocker", or "none" for a fully decrypted volume.
func (v BitLockerVolume) Method() string {
	if v.VolumeStatus == "FullyDecrypted" {
		return "none"
	}
	return "bitlocker"
}

// Cipher maps EncryptionMethod to a disk.encryption_cipher value.
func (v BitLockerVolume) Cipher() (string, bool) {
	switch v.EncryptionMethod {
	case "XtsAes128":
		return "xts-aes-128", true
	case "XtsAes256":
		return "xts-aes-256", true
	case "Aes128":
		return "aes-cbc-128", true
	case "Aes256":
		return "aes-cbc-256", true
	case "Aes128Diffuser":
		return "aes-cbc-128-diffuser", true
	case "Aes256Diffuser":
		return "aes-cbc-256-diffuser", true
	case "Hardware":
		return "hardware", true
	}
	return "", false
}

// ParseManageBDE parses the English output of `manage-bde -status C:` (the
// volume block, with or without the tool's header) into the
// Get-BitLockerVolume vocabulary. Other display languages are errors.
func ParseManageBDE(data []byte) (BitLockerVolume, error) {
	var v BitLockerVolume
	for _, l := range textLines(data) {
		t := strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(t, "Volume "); ok && len(rest) >= 2 && rest[1] == ':' {
			v.MountPoint = rest[:2]
			continue
		}
		k, val, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(k) {
		case "Conversion Status":
			v.VolumeStatus = manageBDEConversion(val)
			if v.VolumeStatus == "" {
				return BitLockerVolume{}, unrecognized("manage-bde Conversion Status", val)
			}
		case "Protection Status":
			switch {
			case val == "Protection On":
				v.ProtectionStatus = "On"
			case strings.HasPrefix(val, "Protection Off"):
				v.ProtectionStatus = "Off"
			default:
				return BitLockerVolume{}, unrecognized("manage-bde Protection Status", val)
			}
		case "Encryption Method":
			v.EncryptionMethod = manageBDEMethod(val)
		}
	}
	if v.VolumeStatus == "" || v.ProtectionStatus == "" {
		return BitLockerVolume{}, unrecognized("manage-bde", "no Conversion Status / Protection Status (not English?)")
	}
	return v, nil
}

func manageBDEConversion(s string) string {
	switch s {
	case "Fully Encrypted", "Used Space Only Encrypted":
		return "FullyEncrypted"
	case "Fully Decrypted":
		return "FullyDecrypted"
	case "Encryption in Progress":
		return "EncryptionInProgress"
	case "Decryption in Progress":
		return "DecryptionInProgress"
	case "Encryption Paused":
		return "EncryptionPaused"
	case "Decryption Paused":
		return "DecryptionPaused"
	}
	return ""
}

func manageBDEMethod(s string) string {
	switch s {
	case "XTS-AES 128":
		return "XtsAes128"
	case "XTS-AES 256":
		return "XtsAes256"
	case "AES 128":
		return "Aes128"
	case "AES 256":
		return "Aes256"
	case "AES 128 with Diffuser":
		return "Aes128Diffuser"
	case "AES 256 with Diffuser":
		return "Aes256Diffuser"
	case "Hardware Encryption":
		return "Hardware"
	case "None":
		return "None"
	}
	return ""
}
