package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The root agent installs the device identity for each person with an
// account on the device: a local account with a uid of 1000 or more (not
// nobody), a login shell, and a home directory that exists and is the
// person's own. System accounts and accounts without a home get nothing.

// minHumanUID is where Debian, Ubuntu, Fedora and Arch start people's uids.
const minHumanUID = 1000

// nobodyUID is the overflow account.
const nobodyUID = 65534

// PasswdEntry is one account line of /etc/passwd.
type PasswdEntry struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
}

// ParsePasswd reads /etc/passwd lines (name:x:uid:gid:gecos:home:shell),
// skipping comments and malformed lines.
func ParsePasswd(data []byte) []PasswdEntry {
	var out []PasswdEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
			continue
		}
		out = append(out, PasswdEntry{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]})
	}
	return out
}

// human reports whether e is a person's account.
func (e PasswdEntry) human() bool {
	if e.UID < minHumanUID || e.UID == nobodyUID || !filepath.IsAbs(e.Home) || filepath.Clean(e.Home) == "/" {
		return false
	}
	base := filepath.Base(e.Shell)
	return e.Shell != "" && base != "nologin" && base != "false"
}

// HumanUsers returns the people among the accounts of passwd whose home
// directory exists and belongs to them (owner is the home's owner uid).
func HumanUsers(passwd []byte, owner func(path string) (int, bool)) []LocalUser {
	var out []LocalUser
	seen := map[string]bool{}
	for _, e := range ParsePasswd(passwd) {
		if !e.human() || seen[e.Name] {
			continue
		}
		home := filepath.Clean(e.Home)
		if uid, ok := owner(home); !ok || uid != e.UID {
			continue
		}
		seen[e.Name] = true
		out = append(out, LocalUser{Name: e.Name, UID: e.UID, GID: e.GID, Home: home})
	}
	return out
}

// HomeUser is the person behind one home directory named by the operator
// (`--user-home`): the agent installs there as itself.
func HomeUser(home string) LocalUser {
	name := filepath.Base(home)
	return LocalUser{Name: name, UID: os.Geteuid(), GID: os.Getegid(), Home: filepath.Clean(home), AsAgent: true}
}
