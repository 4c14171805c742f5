package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// fakeStore is a BrowserStore that remembers what it holds.
type fakeStore struct {
	mu      sync.Mutex
	held    map[string]string // path -> serial
	origins []string
	log     []string
	// failInstall makes Install fail when set.
	failInstall func(id *BrowserIdentity) error
}

func newFakeStore() *fakeStore { return &fakeStore{held: map[string]string{}} }

func (f *fakeStore) Name() string { return "fake" }

func (f *fakeStore) Install(_ context.Context, id *BrowserIdentity) ([]Placement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failInstall != nil {
		if err := f.failInstall(id); err != nil {
			return nil, err
		}
	}
	var out []Placement
	for _, u := range id.Users {
		p := Placement{Store: "fake", User: u.Name, Home: u.Home, Path: filepath.Join(u.Home, "fake-db"), Serial: id.Leaf.SerialNumber.String()}
		f.held[p.Path] = p.Serial
		f.log = append(f.log, "install "+p.Serial)
		out = append(out, p)
	}
	f.origins = id.Origins
	return out, nil
}

func (f *fakeStore) Remove(_ context.Context, p Placement) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held[p.Path] == p.Serial {
		delete(f.held, p.Path)
	}
	f.log = append(f.log, "remove "+p.Serial)
	return nil
}

func (f *fakeStore) serials() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.held {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// browserAgent enrolls an agent whose browser store is fs.
func browserAgent(t *testing.T, s *server, fs *fakeStore) (*Agent, string, *BrowserOptions) {
	t.Helper()
	a, dir := enrolled(t, s, store.OwnershipCorporate, &fakeRunner{}, &fakeCollect{}, nil)
	a.Close()
	home := t.TempDir()
	bo := &BrowserOptions{Stores: []BrowserStore{fs}, Users: func() ([]LocalUser, error) { return []LocalUser{HomeUser(home)}, nil }}
	a, err := Open(Options{StateDir: dir, Version: "test", Platform: PlatformLinux, Runner: &fakeRunner{}, Collect: (&fakeCollect{}).collect, Browser: bo})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a, dir, bo
}

// TestBrowserIdentityFollowsTheCertificate: installed at the first cycle,
// left alone while nothing changes, replaced (old one removed) after a
// renewal, and removed when the server revokes the device.
func TestBrowserIdentityFollowsTheCertificate(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	fs := newFakeStore()
	a, dir, _ := browserAgent(t, s, fs)
	ctx := context.Background()
	must(t, a.Once(ctx))
	first := fs.serials()
	if len(first) != 1 {
		t.Fatalf("after the first cycle the store holds %v", first)
	}
	if want := strings.TrimSuffix(s.url, "/"); !slices.Contains(fs.origins, want) {
		t.Errorf("origins %v do not include the server %s", fs.origins, want)
	}
	must(t, a.Once(ctx))
	if len(fs.log) != 1 {
		t.Errorf("an unchanged identity was installed again: %v", fs.log)
	}
	must(t, a.Renew(ctx))
	second := fs.serials()
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("after renewal the store holds %v (before %v)", second, first)
	}
	if want := []string{"install " + first[0], "remove " + first[0], "install " + second[0]}; !slices.Equal(fs.log, want) {
		t.Errorf("store calls %v, want %v", fs.log, want)
	}
	st, err := ReadStatus(dir, time.Now())
	if err != nil || len(st.Browser.Placements) != 1 || st.Browser.Placements[0].Serial != second[0] || st.Certificate.Serial != second[0] {
		t.Fatalf("status = %+v, %v", st, err)
	}
	// Revoked: the next cycle is refused and the identity leaves the browsers.
	s.queue(t, a.DeviceID(), "revoke", nil)
	if err := a.Once(ctx); !IsStatus(err, 401) {
		t.Fatalf("cycle after revoke: %v", err)
	}
	if got := fs.serials(); len(got) != 0 {
		t.Errorf("after revocation the store still holds %v", got)
	}
}

// TestSelectiveWipeRemovesBrowserIdentity: a wipe takes the identity out
// of the browsers before the agent's files go.
func TestSelectiveWipeRemovesBrowserIdentity(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	fs := newFakeStore()
	a, _, _ := browserAgent(t, s, fs)
	ctx := context.Background()
	must(t, a.Once(ctx))
	s.queue(t, a.DeviceID(), "selective_wipe", nil)
	if err := a.Once(ctx); !errors.Is(err, ErrUnenrolled) {
		t.Fatalf("selective wipe: %v", err)
	}
	if got := fs.serials(); len(got) != 0 {
		t.Errorf("after the wipe the store still holds %v", got)
	}
}

// TestUnenrollRemovesEverythingAndRetires: unenroll empties the browser
// stores, the server retires the device, the state is deleted.
func TestUnenrollRemovesEverythingAndRetires(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	fs := newFakeStore()
	a, dir, _ := browserAgent(t, s, fs)
	ctx := context.Background()
	must(t, a.Once(ctx))
	id := a.DeviceID()
	res, err := a.Unenroll(ctx, false)
	if err != nil || !res.ServerTold || len(res.Removed) != 1 {
		t.Fatalf("unenroll = %+v, %v", res, err)
	}
	if got := fs.serials(); len(got) != 0 {
		t.Errorf("after unenroll the store holds %v", got)
	}
	if d, _ := s.st.Device(id); d.State != store.DeviceRetired {
		t.Errorf("device state %s, want retired", d.State)
	}
	for _, f := range []string{KeyFile, CertFile, StateFile, BrowserFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", f, err)
		}
	}
	// A failed install is recorded for status and retried next cycle.
	fs2 := newFakeStore()
	fs2.failInstall = func(*BrowserIdentity) error { return errors.New("certutil: boom") }
	b, dir2, _ := browserAgent(t, s, fs2)
	if err := b.SyncBrowsers(ctx); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("sync with a failing store: %v", err)
	}
	st, _ := ReadStatus(dir2, time.Now())
	if len(st.Browser.Errors) != 1 || !strings.Contains(st.Browser.Errors[0], "boom") {
		t.Errorf("status errors = %v", st.Browser.Errors)
	}
	fs2.failInstall = nil
	must(t, b.SyncBrowsers(ctx))
	if len(fs2.serials()) != 1 {
		t.Errorf("the retry did not install: %v", fs2.log)
	}
}
