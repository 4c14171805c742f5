package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X github.com/portier/portier/cli.Version=v1.2.3".
var Version = "dev"

func version(_ context.Context, _ []string, _ Env, stdout, _ io.Writer) int {
	commit, modified := "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	fmt.Fprintf(stdout, "portier %s\ncommit %s%s\n%s %s/%s\n", Version, commit, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return ExitOK
}
