package agent

import "golang.org/x/sys/windows"

// elevated reports whether the agent may write machine-wide browser
// policy: on Windows, an elevated token (an administrator or LocalSystem).
func elevated() bool { return windows.GetCurrentProcessToken().IsElevated() }
