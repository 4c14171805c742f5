//go:build unix

package agent

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// ExecCommands runs commands for real: a command for a local user runs
// with that user's uid and gid (no supplementary groups), HOME and a
// minimal environment, so whatever it writes is the user's and it can
// reach nothing the user cannot.
func ExecCommands(ctx context.Context, c Command) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C"}
	if u := c.User; u != nil {
		cmd.Env = append(cmd.Env, "HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name)
		cmd.Dir = u.Home
		if !u.AsAgent && (u.UID != os.Geteuid() || u.GID != os.Getegid()) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
		}
	} else {
		cmd.Dir = "/"
	}
	return cmd.CombinedOutput()
}

// fileOwner returns the uid owning path (not following a final symlink).
func fileOwner(path string) (int, bool) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
