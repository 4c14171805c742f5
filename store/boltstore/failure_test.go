package boltstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

func TestSecondOpenIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portier.db")
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// bbolt's lock is an flock on the file, which a second open in the same
	// process also contends for, as a second process would.
	if _, err := boltstore.Open(path); err == nil || !strings.Contains(err.Error(), "another portier process") {
		t.Fatalf("second Open: err = %v, want a lock error", err)
	}
}

// populated returns a store file with some devices in it.
func populated(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portier.db")
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var muts []store.Mutation
	for i := range 2000 {
		d := storetest.Laptop(i, time.Unix(1_760_000_000, 0).UTC())
		v, _ := store.Encode(d)
		muts = append(muts, store.Mutation{Kind: store.KindDevice, ID: d.ID, Value: v})
	}
	if _, err := db.Commit(context.Background(), muts); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return path
}

func openAndLoad(path string) error {
	db, err := boltstore.Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := store.Open(context.Background(), db, quietLog())
	if err != nil {
		return err
	}
	st.Close()
	return nil
}

func TestCorruptFileStopsStartAndIsKept(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated to half", func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated to a few bytes", func(t *testing.T, path string) {
			if err := os.Truncate(path, 100); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta pages overwritten", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			junk := []byte(strings.Repeat("\xff", 8192))
			if _, err := f.WriteAt(junk, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"not a store file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("hello ", 5000)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := populated(t)
			tc.damage(t, path)
			before, _ := os.ReadFile(path)
			err := openAndLoad(path)
			if err == nil || !strings.Contains(err.Error(), "is corrupt") || !strings.Contains(err.Error(), "did not modify it") {
				t.Fatalf("open damaged file: err = %v, want a corruption error", err)
			}
			after, _ := os.ReadFile(path)
			if string(before) != string(after) {
				t.Error("the damaged file was modified")
			}
		})
	}
}

func TestCorruptRecordNamesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portier.db")
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(context.Background(), []store.Mutation{{Kind: store.KindDevice, ID: "dev_broken", Value: []byte("{not json")}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = openAndLoad(path)
	if err == nil || !strings.Contains(err.Error(), "device/dev_broken") {
		t.Fatalf("err = %v, want one naming device/dev_broken", err)
	}
}
