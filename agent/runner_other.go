//go:build !unix

package agent

import (
	"context"
	"errors"
	"os/exec"
)

// ExecCommands runs commands as the agent; running as another user is
// not supported on this platform.
func ExecCommands(ctx context.Context, c Command) ([]byte, error) {
	if c.User != nil && !c.User.AsAgent {
		return nil, errors.New("agent: running a command as another user is not supported on this platform")
	}
	return exec.CommandContext(ctx, c.Path, c.Args...).CombinedOutput()
}

// fileOwner is unknown on this platform.
func fileOwner(string) (int, bool) { return 0, false }
