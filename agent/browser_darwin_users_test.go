package agent

import (
	"context"
	"os"
	"slices"
	"testing"
)

// TestDarwinUsers: the people of a Mac are the dscl accounts from uid 501
// without a leading underscore whose /Users home is their own.
func TestDarwinUsers(t *testing.T) {
	out, err := os.ReadFile("testdata/darwin/dscl-list-users-uniqueid.txt")
	if err != nil {
		t.Fatal(err)
	}
	rec := &cmdRecorder{answer: func(Command) ([]byte, error) { return out, nil }}
	owners := map[string]int{"/Users/alice": 501, "/Users/bob": 502, "/Users/_nonhuman": 501, "/Users/mallory-no-home": 503}
	keychains := map[string]bool{LoginKeychain("/Users/alice"): true, LoginKeychain("/Users/bob"): true, LoginKeychain("/Users/_nonhuman"): true}
	hasKeychain := func(p string) bool { return keychains[p] }
	users, err := DarwinUsers(context.Background(), rec.run, func(p string) (int, bool) { uid, ok := owners[p]; return uid, ok }, hasKeychain)
	if err != nil {
		t.Fatal(err)
	}
	want := []LocalUser{{Name: "alice", UID: 501, Home: "/Users/alice"}, {Name: "bob", UID: 502, Home: "/Users/bob"}}
	if !slices.Equal(users, want) {
		t.Fatalf("users = %+v, want %+v", users, want)
	}
	if got := rec.lines(); !slices.Equal(got, []string{"/usr/bin/dscl . -list /Users UniqueID"}) {
		t.Fatalf("commands = %v", got)
	}
	// mallory-no-home owns a home but never logged in (no login keychain).
	// A home owned by someone else is not that person's.
	owners["/Users/bob"] = 501
	users, _ = DarwinUsers(context.Background(), rec.run, func(p string) (int, bool) { uid, ok := owners[p]; return uid, ok }, hasKeychain)
	if len(users) != 1 || users[0].Name != "alice" {
		t.Fatalf("users = %+v, want alice only", users)
	}
	if _, err := DarwinUsers(context.Background(), func(context.Context, Command) ([]byte, error) { return []byte("boom"), exitError("exit status 1") }, nil, nil); err == nil {
		t.Fatal("a failing dscl gave no error")
	}
}

func FuzzParseDSCLUIDs(f *testing.F) {
	b, _ := os.ReadFile("testdata/darwin/dscl-list-users-uniqueid.txt")
	f.Add(b)
	f.Add([]byte("a 1 2\n\tb\t-5\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, e := range ParseDSCLUIDs(in) {
			if e.UID < 0 || e.Name == "" {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
