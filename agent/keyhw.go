package agent

import (
	"context"
	"io/fs"
	"strings"

	"github.com/portier/portier/posture/collect"
)

// The agent's key is in the TPM when `portier agent enroll --key` found
// one usable (tpm.go), else a software key (docs/agent.md, "Where the
// device key lives"). What key hardware the machine has is still worth
// knowing: `portier agent status` shows it beside a software key, so
// nobody mistakes "has a TPM" for "uses it".

// KeyHardwareEnv is what DetectKeyHardware reads through.
type KeyHardwareEnv struct {
	Platform string
	Runner   collect.Runner
	FS       fs.FS // rooted at "/"
}

// tpm2PKCS11Modules are where distributions install the tpm2-pkcs11
// module (Debian and Ubuntu multiarch, Fedora, Arch).
var tpm2PKCS11Modules = []string{
	"usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
	"usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
	"usr/lib64/pkcs11/libtpm2_pkcs11.so",
	"usr/lib/pkcs11/libtpm2_pkcs11.so",
}

// DetectKeyHardware names the key hardware this machine offers, "" when
// none was found: on Windows what Get-Tpm says (it needs an elevated
// agent), on Linux a TPM 2.0 in sysfs and whether the tpm2-pkcs11 module
// is installed, on macOS a Secure Enclave on Apple silicon (a Mac with the
// T2 chip has one too, but is not told apart here).
func DetectKeyHardware(ctx context.Context, e KeyHardwareEnv) string {
	switch e.Platform {
	case PlatformWindows:
		out, err := e.Runner.Run(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-Command", "Get-Tpm")
		if err != nil {
			return ""
		}
		f := listFields(string(out))
		switch {
		case f["TpmPresent"] == "True" && f["TpmReady"] == "True":
			return "TPM (ready)"
		case f["TpmPresent"] == "True":
			return "TPM (present, not ready)"
		}
	case PlatformLinux:
		v, err := fs.ReadFile(e.FS, "sys/class/tpm/tpm0/tpm_version_major")
		if err != nil || strings.TrimSpace(string(v)) != "2" {
			return ""
		}
		for _, m := range tpm2PKCS11Modules {
			if _, err := fs.Stat(e.FS, m); err == nil {
				return "TPM 2.0 (tpm2-pkcs11 installed)"
			}
		}
		return "TPM 2.0"
	case PlatformMacOS:
		out, err := e.Runner.Run(ctx, "sysctl", "-n", "hw.optional.arm64")
		if err == nil && strings.TrimSpace(string(out)) == "1" {
			return "Secure Enclave (Apple silicon)"
		}
	}
	return ""
}

// listFields reads PowerShell's Format-List output ("Name : value" lines).
func listFields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}
