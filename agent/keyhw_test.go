package agent

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// answerRunner answers each command line with a fixed output.
type answerRunner struct {
	out   map[string][]byte
	calls []string
}

func (r *answerRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	r.calls = append(r.calls, line)
	if b, ok := r.out[line]; ok {
		return b, nil
	}
	return nil, errors.New("exit status 1")
}

// TestDetectKeyHardware: Get-Tpm's list output on Windows, sysfs and the
// tpm2-pkcs11 module on Linux, the arm64 flag on macOS; nothing found is
// "".
func TestDetectKeyHardware(t *testing.T) {
	ready, err := os.ReadFile("testdata/windows/get-tpm.txt")
	must(t, err)
	absent, err := os.ReadFile("testdata/windows/get-tpm-absent.txt")
	must(t, err)
	const getTpm = "powershell.exe -NoProfile -NonInteractive -Command Get-Tpm"
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		platform string
		out      map[string][]byte
		fs       fstest.MapFS
		want     string
	}{
		{"windows ready", PlatformWindows, map[string][]byte{getTpm: ready}, nil, "TPM (ready)"},
		{"windows without TPM", PlatformWindows, map[string][]byte{getTpm: absent}, nil, ""},
		{"windows not ready", PlatformWindows, map[string][]byte{getTpm: []byte(strings.Replace(string(ready), "TpmReady                  : True", "TpmReady                  : False", 1))}, nil, "TPM (present, not ready)"},
		{"windows Get-Tpm fails (not elevated)", PlatformWindows, nil, nil, ""},
		{"linux TPM 2.0 with tpm2-pkcs11", PlatformLinux, nil, fstest.MapFS{"sys/class/tpm/tpm0/tpm_version_major": {Data: []byte("2\n")},
			"usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so": {}}, "TPM 2.0 (tpm2-pkcs11 installed)"},
		{"linux TPM 2.0", PlatformLinux, nil, fstest.MapFS{"sys/class/tpm/tpm0/tpm_version_major": {Data: []byte("2\n")}}, "TPM 2.0"},
		{"linux TPM 1.2", PlatformLinux, nil, fstest.MapFS{"sys/class/tpm/tpm0/tpm_version_major": {Data: []byte("1\n")}}, ""},
		{"linux none", PlatformLinux, nil, fstest.MapFS{}, ""},
		{"mac apple silicon", PlatformMacOS, map[string][]byte{"sysctl -n hw.optional.arm64": []byte("1\n")}, nil, "Secure Enclave (Apple silicon)"},
		{"mac intel", PlatformMacOS, nil, nil, ""},
	} {
		r := &answerRunner{out: c.out}
		if got := DetectKeyHardware(ctx, KeyHardwareEnv{Platform: c.platform, Runner: r, FS: c.fs}); got != c.want {
			t.Errorf("%s: %q, want %q (commands %q)", c.name, got, c.want, r.calls)
		}
	}
}
