//go:build !windows

package cli

import "context"

// asService runs fn under the platform's service manager when it started
// the process. Only Windows needs this: systemd and launchd run the agent
// as a plain process.
func asService(string, func(context.Context) int) (int, bool) { return 0, false }
