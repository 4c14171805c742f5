package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

func TestEnrollWritesPinnedCredentials(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	a, dir := enrolled(t, s, store.OwnershipCorporate, &fakeRunner{}, &fakeCollect{}, nil)
	for name, mode := range map[string]os.FileMode{KeyFile: 0o600, CertFile: 0o644, CAFile: 0o644, StateFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	crt, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if n := bytes.Count(crt, []byte("BEGIN CERTIFICATE")); n != 2 {
		t.Errorf("device.crt holds %d certificates, want leaf + intermediate", n)
	}
	d, ok := s.st.Device(a.DeviceID())
	if !ok || d.Hostname != "test-host" || d.AgentVersion != "test" {
		t.Errorf("device = %+v", d)
	}
	// The agent's key is a file: it says software, and the server records
	// that as the agent's claim.
	if d.KeyProtection != store.KeySoftware || d.KeyProtectionSource != store.KeySourceAgent {
		t.Errorf("key protection %q from %q, want software as the agent's claim", d.KeyProtection, d.KeyProtectionSource)
	}
	// Enrolling again needs --force.
	_, err := Enroll(context.Background(), EnrollOptions{Server: s.url, Code: s.code(t, store.OwnershipCorporate), StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("second enrollment: %v", err)
	}
}

func TestEnrollChecksTheRootFingerprint(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	dir := t.TempDir()
	_, err := Enroll(context.Background(), EnrollOptions{Server: s.url, Code: s.code(t, store.OwnershipCorporate),
		Fingerprint: strings.Repeat("ab", 32), StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "refusing to enroll") {
		t.Fatalf("wrong fingerprint: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		t.Error("a key was written despite the refusal")
	}
	var out bytes.Buffer
	colons := strings.ToUpper(s.ca.Fingerprint()[:2]) + ":" + s.ca.Fingerprint()[2:]
	if _, err := Enroll(context.Background(), EnrollOptions{Server: s.url, Code: s.code(t, store.OwnershipCorporate),
		Fingerprint: "SHA256 " + colons, StateDir: dir, Out: &out, KeyMode: KeyModeSoftware}); err != nil {
		t.Fatalf("right fingerprint, other spelling: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("warning despite a pinned fingerprint: %s", out.String())
	}
	out.Reset()
	if _, err := Enroll(context.Background(), EnrollOptions{Server: s.url, Code: s.code(t, store.OwnershipCorporate),
		StateDir: t.TempDir(), Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "WARNING") || !strings.Contains(out.String(), s.ca.Fingerprint()) {
		t.Errorf("trust on first use without a warning: %q", out.String())
	}
	_, err = Enroll(context.Background(), EnrollOptions{Server: "http://" + strings.TrimPrefix(s.url, "https://"), Code: "x", StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("http server: %v", err)
	}
	_, err = Enroll(context.Background(), EnrollOptions{Server: s.url, Code: "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", StateDir: t.TempDir()})
	if !IsStatus(err, 401) {
		t.Errorf("unknown code: %v", err)
	}
}

func TestOnceSendsAllowedPostureAndRenews(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	col := &fakeCollect{}
	a, dir := enrolled(t, s, store.OwnershipCorporate, &fakeRunner{}, col, nil)
	must(t, a.Once(context.Background()))
	p, ok := s.st.Posture(a.DeviceID())
	if !ok || !strings.Contains(string(p.Signals), "disk.encrypted") || p.ReportSeq != 1 {
		t.Fatalf("posture = %+v", p)
	}
	if !col.allowed.Has("apps.installed") {
		t.Error("the corporate profile should allow the application inventory")
	}
	if text, err := CachedPrivacy(dir); err != nil || text == "" {
		t.Errorf("privacy notice not kept: %v", err)
	}
	// Renewal at two thirds of the lifetime.
	old, _ := os.ReadFile(filepath.Join(dir, CertFile))
	a.o.Clock = func() time.Time { return a.st.RenewAfter.Add(time.Second) }
	must(t, a.Once(context.Background()))
	renewed, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if bytes.Equal(old, renewed) {
		t.Fatal("certificate not renewed")
	}
	st, _ := loadState(dir)
	if !st.RenewAfter.After(time.Now()) || st.Seq != 2 {
		t.Errorf("state after renewal = %+v", st)
	}
	d, _ := s.st.Device(a.DeviceID())
	if hist := s.st.DeviceEvents(d.ID); hist[len(hist)-1].Type != "certificate_renewed" && !containsEvent(hist, "certificate_renewed") {
		t.Errorf("history = %+v", hist)
	}
	// The renewed certificate is the one presented from now on.
	a.o.Clock = time.Now
	must(t, a.Once(context.Background()))
}

func containsEvent(evs []*store.DeviceEvent, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

func TestSeqCatchesUpAfterRestoredState(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	a, dir := enrolled(t, s, store.OwnershipCorporate, &fakeRunner{}, &fakeCollect{}, nil)
	must(t, a.Once(context.Background()))
	for range 3 {
		_, err := a.SendPosture(context.Background(), false)
		must(t, err)
	}
	a.st.Seq = 1 // a state dir restored from an old backup
	res, err := a.SendPosture(context.Background(), false)
	if err != nil || !res.Accepted || a.st.Seq != 5 {
		t.Fatalf("catch-up: %+v seq %d %v", res, a.st.Seq, err)
	}
	st, _ := loadState(dir)
	if st.Seq != 5 {
		t.Errorf("saved seq %d", st.Seq)
	}
	// Unchanged values are not sent again early.
	res, err = a.SendPosture(context.Background(), true)
	if err != nil || res.Accepted || a.st.Seq != 5 {
		t.Errorf("unchanged report sent: %+v %v", res, err)
	}
}

func TestActionsRunAtMostOnceDespiteRedelivery(t *testing.T) {
	s := newServer(t, enrollment.Config{WipeEnabled: true})
	run := &fakeRunner{}
	a, dir := enrolled(t, s, store.OwnershipCorporate, run, &fakeCollect{}, []string{"sh", "-c", "true"})
	ctx := context.Background()
	must(t, a.Once(ctx))
	lock := s.queue(t, a.DeviceID(), "lock", nil)
	msg := s.queue(t, a.DeviceID(), "message", map[string]string{"title": "IT", "text": "Reboot tonight; it's \"important\""})
	recollect := s.queue(t, a.DeviceID(), "recollect", nil)
	delivered, err := a.PollActions(ctx, 0)
	if err != nil || len(delivered) != 3 {
		t.Fatalf("poll: %d %v", len(delivered), err)
	}
	// The agent "crashes" before running them: the server delivers again.
	again, err := a.PollActions(ctx, 0)
	if err != nil || len(again) != 3 {
		t.Fatalf("redelivery: %d %v", len(again), err)
	}
	must(t, a.Execute(ctx, again))
	must(t, a.Execute(ctx, delivered)) // the replayed long-poll answer
	must(t, a.Once(ctx))
	if n := run.count("loginctl lock-sessions"); n != 1 {
		t.Errorf("lock ran %d times", n)
	}
	if n := run.count("notify-send"); n != 1 {
		t.Errorf("message shown %d times", n)
	}
	for _, id := range []string{lock.ID, msg.ID, recollect.ID} {
		if act, _ := s.st.Action(id); act.Status != store.ActionAcknowledged {
			t.Errorf("action %s (%s) is %s: %s", id, act.Type, act.Status, act.Result)
		}
	}
	if c := run.calls[1]; !strings.HasSuffix(c, `Reboot tonight; it's "important"`) {
		t.Errorf("message command = %q", c)
	}
	// A failing command is reported failed, once.
	run.fail = map[string]error{"loginctl": errors.New("no session")}
	lock2 := s.queue(t, a.DeviceID(), "lock", nil)
	must(t, a.Once(ctx))
	if act, _ := s.st.Action(lock2.ID); act.Status != store.ActionFailed || !strings.Contains(act.Result, "no session") {
		t.Errorf("failed lock = %+v", act)
	}
	// Wipe runs the operator command (here a harmless fake) once; its
	// result reaches the server even though the first two reports are
	// refused (a replica killed under the agent).
	wipe := s.queue(t, a.DeviceID(), "wipe", nil)
	s.lostResults.Store(2)
	if err := a.Once(ctx); !errors.Is(err, ErrUnenrolled) {
		t.Fatalf("wipe: %v", err)
	}
	if n := run.count("sh -c true"); n != 1 {
		t.Errorf("wipe command ran %d times", n)
	}
	if act, _ := s.st.Action(wipe.ID); act.Status != store.ActionAcknowledged {
		t.Errorf("wipe = %s", act.Status)
	}
	if d, _ := s.st.Device(a.DeviceID()); d.State != store.DeviceWiped {
		t.Errorf("device after wipe = %s", d.State)
	}
	if err := a.Once(ctx); !IsStatus(err, 401) {
		t.Errorf("the wiped device still connects: %v", err)
	}
	_ = dir
}

func TestInterruptedActionIsNotRunAgain(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	run := &fakeRunner{}
	a, dir := enrolled(t, s, store.OwnershipCorporate, run, &fakeCollect{}, nil)
	ctx := context.Background()
	lock := s.queue(t, a.DeviceID(), "lock", nil)
	// The journal says the lock started, then the agent died.
	j, _ := openJournal(filepath.Join(dir, JournalFile))
	must(t, j.record(journalEntry{ID: lock.ID, State: journalStarted, At: time.Now()}))
	f, _ := os.OpenFile(filepath.Join(dir, JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"act_torn","sta`) // a torn last line
	f.Close()
	b, err := Open(Options{StateDir: dir, Platform: PlatformLinux, Runner: run, Collect: (&fakeCollect{}).collect})
	must(t, err)
	defer b.Close()
	must(t, b.Once(ctx))
	if n := run.count("loginctl"); n != 0 {
		t.Errorf("interrupted lock ran again %d times", n)
	}
	if act, _ := s.st.Action(lock.ID); act.Status != store.ActionFailed || !strings.Contains(act.Result, "interrupted") {
		t.Errorf("interrupted action = %+v", act)
	}
	_ = a
}

func TestBYODWorkProfileAndSelectiveWipe(t *testing.T) {
	s := newServer(t, enrollment.Config{WipeEnabled: true})
	run, col := &fakeRunner{}, &fakeCollect{}
	a, dir := enrolled(t, s, store.OwnershipBYOD, run, col, nil)
	if a.Dir() != filepath.Join(dir, WorkProfileDir) {
		t.Fatalf("work profile dir = %s", a.Dir())
	}
	ctx := context.Background()
	must(t, a.Once(ctx))
	if col.allowed.Has("apps.installed") {
		t.Error("the BYOD profile lets the agent collect the application inventory")
	}
	p, _ := s.st.Posture(a.DeviceID())
	if strings.Contains(string(p.Signals), "apps.installed") {
		t.Error("the server kept the application inventory of a BYOD device")
	}
	if _, _, err := s.svc.RequestAction(ctx, admin, a.DeviceID(), enrollment.ActionRequest{Type: "wipe"}, ""); err == nil {
		t.Fatal("full wipe of a BYOD device accepted")
	}
	sw := s.queue(t, a.DeviceID(), "selective_wipe", nil)
	if err := a.Once(ctx); !errors.Is(err, ErrUnenrolled) {
		t.Fatalf("selective wipe: %v", err)
	}
	if _, err := os.Stat(a.Dir()); !os.IsNotExist(err) {
		t.Errorf("work profile still there: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the state dir itself was removed: %v", err)
	}
	if act, _ := s.st.Action(sw.ID); act.Status != store.ActionAcknowledged {
		t.Errorf("selective wipe = %s", act.Status)
	}
	if d, _ := s.st.Device(a.DeviceID()); d.State != store.DeviceRetired {
		t.Errorf("device = %s", d.State)
	}
	if _, err := Open(Options{StateDir: dir}); !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("open after wipe: %v", err)
	}
}

func TestRunStopsWhenRevoked(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	a, _ := enrolled(t, s, store.OwnershipCorporate, &fakeRunner{}, &fakeCollect{}, nil)
	a.o.PollWait = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	s.queue(t, a.DeviceID(), "revoke", nil)
	select {
	case err := <-done:
		if !IsStatus(err, 401) {
			t.Errorf("Run after revoke: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not stop after the revocation")
	}
}
