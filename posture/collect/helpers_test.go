package collect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture reads a file under testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures lists the files of one testdata folder, for fuzz seeds.
func fixtures(t testing.TB, dir string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		out = append(out, fixture(t, dir+"/"+e.Name()))
	}
	return out
}

// fakeRunner answers commands through a function and logs every call.
type fakeRunner struct {
	mu    sync.Mutex
	calls []string
	run   func(cmdline string) ([]byte, error)
}

func (f *fakeRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	cmdline := strings.TrimSpace(name + " " + strings.Join(args, " "))
	f.mu.Lock()
	f.calls = append(f.calls, cmdline)
	f.mu.Unlock()
	return f.run(cmdline)
}

func (f *fakeRunner) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// scripted returns a fakeRunner that answers from a table keyed by command
// line prefix (longest first wins); other commands are not available.
func scripted(table map[string]func() ([]byte, error)) *fakeRunner {
	return &fakeRunner{run: func(cmdline string) ([]byte, error) {
		best := ""
		for k := range table {
			if strings.HasPrefix(cmdline, k) && len(k) > len(best) {
				best = k
			}
		}
		if best == "" {
			return nil, fmt.Errorf("%s: %w", cmdline, ErrNotAvailable)
		}
		return table[best]()
	}}
}

// ok answers with output and success.
func ok(b []byte) func() ([]byte, error) { return func() ([]byte, error) { return b, nil } }

// exit answers with output and a non-zero exit status.
func exit(code int, stdout, stderr []byte) func() ([]byte, error) {
	return func() ([]byte, error) {
		return stdout, &CommandError{Command: "fake", ExitCode: code, Stderr: stderr, Err: fmt.Errorf("exit status %d", code)}
	}
}

// fixedClock is the injected clock of the tests.
func fixedClock() time.Time { return time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC) }

// byName indexes signals by name and fails on duplicates.
func byName(t *testing.T, sigs []Signal) map[string]Signal {
	t.Helper()
	m := map[string]Signal{}
	for _, s := range sigs {
		if _, dup := m[s.Name]; dup {
			t.Errorf("signal %s reported twice", s.Name)
		}
		m[s.Name] = s
	}
	return m
}

// wantValue checks that a signal carries exactly v.
func wantValue(t *testing.T, m map[string]Signal, name string, v any) {
	t.Helper()
	s, ok := m[name]
	if !ok {
		t.Errorf("%s: missing", name)
		return
	}
	if s.Error != "" || fmt.Sprintf("%#v", s.Value) != fmt.Sprintf("%#v", v) {
		t.Errorf("%s = %#v (error %q, source %q), want %#v", name, s.Value, s.Error, s.Source, v)
	}
}

// wantError checks that a signal carries an error containing substr.
func wantError(t *testing.T, m map[string]Signal, name, substr string) {
	t.Helper()
	s, ok := m[name]
	if !ok {
		t.Errorf("%s: missing", name)
		return
	}
	if s.Value != nil || s.Error == "" || !strings.Contains(s.Error, substr) {
		t.Errorf("%s = %#v error %q, want error containing %q", name, s.Value, s.Error, substr)
	}
}
