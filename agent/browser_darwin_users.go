package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// macOS keeps its accounts in Directory Services, not /etc/passwd: a root
// agent lists them with dscl. People start at uid 501; accounts whose
// name starts with "_" are the system's.

// minDarwinUID is the first uid macOS gives a person.
const minDarwinUID = 501

// ParseDSCLUIDs reads `dscl . -list /Users UniqueID` output (a name,
// spaces, a uid per line) into names and uids, skipping malformed lines.
func ParseDSCLUIDs(out []byte) []PasswdEntry {
	var users []PasswdEntry
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		uid, err := strconv.Atoi(f[1])
		if err != nil || uid < 0 {
			continue
		}
		users = append(users, PasswdEntry{Name: f[0], UID: uid})
	}
	return users
}

// DarwinUsers is the people of a Mac: accounts from dscl with a uid of
// 501 or more (not nobody), a name not starting with "_" that sudo
// accepts, a home /Users/NAME that exists and is their own, and a login
// keychain (the person has logged in at least once; exists reports it).
// Their primary group is not needed (commands run through sudo).
func DarwinUsers(ctx context.Context, run CommandRunner, owner func(path string) (int, bool), exists func(path string) bool) ([]LocalUser, error) {
	out, err := run(ctx, Command{Path: "/usr/bin/dscl", Args: []string{".", "-list", "/Users", "UniqueID"}})
	if err != nil {
		return nil, fmt.Errorf("agent: dscl: %w: %s", err, trimOut(out))
	}
	var users []LocalUser
	seen := map[string]bool{}
	for _, e := range ParseDSCLUIDs(out) {
		if e.UID < minDarwinUID || e.UID == nobodyUID || strings.HasPrefix(e.Name, "_") || !validAccount(e.Name) || seen[e.Name] {
			continue
		}
		home := filepath.Join("/Users", e.Name)
		if uid, ok := owner(home); !ok || uid != e.UID || !exists(LoginKeychain(home)) {
			continue
		}
		seen[e.Name] = true
		users = append(users, LocalUser{Name: e.Name, UID: e.UID, Home: home})
	}
	return users, nil
}
