//go:build !windows

package agent

import "os"

// elevated reports whether the agent may write machine-wide browser
// policy: it runs as root.
func elevated() bool { return os.Geteuid() == 0 }
