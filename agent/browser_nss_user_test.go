//go:build linux

package agent

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestNSSStoreAsAnotherUser runs the real tools as another uid (nobody's,
// no account needed), as the root agent does for each person: the
// database and every file in it belong to that uid, and removal works as
// that uid too.
func TestNSSStoreAsAnotherUser(t *testing.T) {
	requireNSSTools(t)
	if os.Geteuid() != 0 {
		t.Skip("skipping: running the NSS tools as another user needs root")
	}
	const uid = nobodyUID
	home, err := os.MkdirTemp("", "portier-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, uid, uid); err != nil {
		t.Fatal(err)
	}
	ti := newTestIdentity(t)
	id := ti.issue(t, 42, home)
	id.Users = []LocalUser{{Name: "nobody", UID: uid, GID: uid, Home: home}}
	s := &NSSStore{Run: ExecCommands}
	ps, err := s.Install(context.Background(), id)
	if err != nil {
		t.Fatalf("install as uid %d: %v", uid, err)
	}
	db := filepath.Join(home, ".pki", "nssdb")
	for _, p := range []string{filepath.Join(home, ".pki"), db, filepath.Join(db, "cert9.db"), filepath.Join(db, "key4.db")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: owner %d mode %v, want %d and no access for others", p, st.Uid, fi.Mode(), uid)
		}
	}
	if got := nssSerials(t, db, ps[0].Nickname); len(got) != 1 || got[0] != "42" {
		t.Fatalf("serials = %v", got)
	}
	if err := s.Remove(context.Background(), ps[0]); err != nil {
		t.Fatalf("remove as uid %d: %v", uid, err)
	}
	if got := nssSerials(t, db, ps[0].Nickname); len(got) != 0 {
		t.Errorf("after removal: %v", got)
	}
	if fi, _ := os.Stat(filepath.Join(db, "cert9.db")); fi.Sys().(*syscall.Stat_t).Uid != uid {
		t.Error("the database changed owner during removal")
	}
}
