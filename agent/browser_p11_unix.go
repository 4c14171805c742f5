//go:build unix

package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// maxPersonToolOutput bounds what the agent reads back from a person's tool.
const maxPersonToolOutput = 64 << 10

// readPersonFile reads a file a person's tool wrote into a directory the
// person owns: never through a symbolic link, only a regular file with one
// link owned by the person, so a person cannot make the agent read
// another file.
func readPersonFile(path string, u LocalUser) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || !ok || st.Nlink != 1 || (!u.AsAgent && int(st.Uid) != u.UID) {
		return nil, fmt.Errorf("%s is not a plain file of %s", path, u.Name)
	}
	return readLimited(f, path, maxPersonToolOutput)
}

// personGroups are the person's supplementary groups (as their login
// session has them), nil when they cannot be read.
func personGroups(u LocalUser) []uint32 {
	acct, err := user.LookupId(strconv.Itoa(u.UID))
	if err != nil {
		return nil
	}
	ids, err := acct.GroupIds()
	if err != nil {
		return nil
	}
	var out []uint32
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			out = append(out, uint32(g))
		}
	}
	return out
}

// PersonCommands is ExecCommands with the person's supplementary groups:
// the TPM tools must open /dev/tpmrm0, which distributions give to a
// group (tss), exactly as the person's browser will.
func PersonCommands(ctx context.Context, c Command) ([]byte, error) {
	u := c.User
	if u == nil || u.AsAgent || (u.UID == os.Geteuid() && u.GID == os.Getegid()) {
		return ExecCommands(ctx, c)
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C",
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name}
	cmd.Dir = u.Home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: personGroups(*u)}}
	return cmd.CombinedOutput()
}

// personCanOpen checks that the person may read and write dev by its
// owner, group and mode.
func personCanOpen(dev string, u LocalUser) error {
	fi, err := os.Stat(dev)
	if err != nil {
		return fmt.Errorf("no TPM device: %w", err)
	}
	if u.AsAgent {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot read the owner of %s", dev)
	}
	m := fi.Mode().Perm()
	switch {
	case int(st.Uid) == u.UID && m&0o600 == 0o600, m&0o006 == 0o006:
		return nil
	case m&0o060 == 0o060:
		if int(st.Gid) == u.GID {
			return nil
		}
		for _, g := range personGroups(u) {
			if g == st.Gid {
				return nil
			}
		}
	}
	return fmt.Errorf("%s cannot open %s (mode %v, group %d): add them to its group (Debian: tss)", u.Name, dev, m, st.Gid)
}
