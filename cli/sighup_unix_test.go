//go:build unix

package cli

import (
	"os"
	"syscall"
	"testing"
)

// sighup asks this process (serving in-process) to reload its config.
func sighup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}
