//go:build !linux && !darwin

package collect

import "os/exec"

// setProcessGroup is a no-op here: cancellation kills the command only.
func setProcessGroup(cmd *exec.Cmd) {}
