package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesBrokenTPMEKRoots: a tpm_ek_roots file that is missing or
// holds no certificate stops the start, naming the setting, the file and
// the problem, whether set by flag or in the config file.
func TestServeRefusesBrokenTPMEKRoots(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "roots.pem")
	os.WriteFile(notPEM, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o600)
	cfg := filepath.Join(dir, "portier.yaml")
	os.WriteFile(cfg, []byte("tpm_ek_roots: "+notPEM+"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--tpm-ek-roots", filepath.Join(dir, "nope.pem")}, []string{"tpm_ek_roots", "nope.pem"}},
		{[]string{"--config", cfg}, []string{"tpm_ek_roots", "roots.pem", `"PUBLIC KEY", want CERTIFICATE`}},
	} {
		args := append([]string{"serve", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, tc.args...)
		code, _, stderr := run(t, nil, args...)
		for _, w := range tc.want {
			if code != 1 || !strings.Contains(stderr, w) {
				t.Errorf("%v: exit %d, want 1 and %q in:\n%s", tc.args, code, w, stderr)
			}
		}
	}
}
