package collect

import (
	"strings"
)

// ParseMokutilSBState parses `mokutil --sb-state` (stdout or, for the no-EFI
// message, stderr). "SecureBoot enabled" is true unless shim validation is
// off; "SecureBoot disabled", setup mode and a system without EFI variables
// or Secure Boot support are false. Anything else is an error.
func ParseMokutilSBState(data []byte) (bool, error) {
	enabled, known := false, false
	for _, l := range textLines(data) {
		switch strings.TrimSpace(l) {
		case "":
		case "SecureBoot enabled":
			enabled, known = true, true
		case "SecureBoot disabled",
			"EFI variables are not supported on this system",
			"This system doesn't support Secure Boot",
			"Platform is in Setup Mode":
			return false, nil
		case "SecureBoot validation is disabled in shim":
			return false, nil
		default:
			return false, unrecognized("mokutil --sb-state", l)
		}
	}
	if !known {
		return false, unrecognized("mokutil --sb-state", string(data))
	}
	return enabled, nil
}

// efiSecureBootVar is the efivarfs file holding the SecureBoot variable.
const efiSecureBootVar = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

// ParseEFISecureBootVar parses the efivarfs SecureBoot variable: four bytes
// of attributes then one byte, 1 when Secure Boot is on.
func ParseEFISecureBootVar(data []byte) (bool, error) {
	if len(data) != 5 {
		return false, unrecognized("efivars SecureBoot", string(data))
	}
	switch data[4] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, unrecognized("efivars SecureBoot", string(data[4:]))
}

// ParseConfirmSecureBootUEFI parses PowerShell's Confirm-SecureBootUEFI:
// "True" or "False", or the error it prints on a BIOS machine ("Cmdlet not
// supported on this platform"), which is false. Other errors (e.g. access
// denied when not elevated) are errors.
func ParseConfirmSecureBootUEFI(data []byte) (bool, error) {
	text := strings.TrimSpace(normalizeText(data))
	switch text {
	case "True":
		return true, nil
	case "False":
		return false, nil
	}
	if strings.Contains(text, "Cmdlet not supported on this platform") {
		return false, nil
	}
	return false, unrecognized("Confirm-SecureBootUEFI", text)
}
