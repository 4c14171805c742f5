package collect

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func needSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on this machine")
	}
}

func TestExecRunner(t *testing.T) {
	needSh(t)
	ctx := context.Background()
	r := ExecRunner{Timeout: 5 * time.Second, MaxOutput: 1024}

	out, err := r.Run(ctx, "sh", "-c", "echo $LC_ALL; echo err >&2")
	if err != nil || string(out) != "C\n" {
		t.Errorf("echo: %q, %v", out, err)
	}

	out, err = r.Run(ctx, "sh", "-c", "echo not running; echo oops >&2; exit 252")
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 252 || string(out) != "not running\n" || strings.TrimSpace(string(ce.Stderr)) != "oops" {
		t.Errorf("exit 252: %q, %#v", out, err)
	}
	if !strings.Contains(err.Error(), "oops") {
		t.Errorf("error text %q lacks stderr", err)
	}

	if _, err := r.Run(ctx, "portier-no-such-command-xyz"); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("missing command: %v", err)
	}

	start := time.Now()
	_, err = ExecRunner{Timeout: 200 * time.Millisecond}.Run(ctx, "sh", "-c", "sleep 10")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("timeout: %v after %v", err, time.Since(start))
	}

	start = time.Now()
	_, err = r.Run(ctx, "sh", "-c", "while :; do echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; done")
	if !errors.Is(err, ErrOutputTooLarge) || time.Since(start) > 5*time.Second {
		t.Errorf("flood: %v after %v", err, time.Since(start))
	}
}

func TestReadFile(t *testing.T) {
	fsys := fstest.MapFS{
		"small": {Data: []byte("x")},
		"big":   {Data: make([]byte, maxFileSize+1)},
	}
	if b, err := readFile(fsys, "small"); err != nil || string(b) != "x" {
		t.Errorf("small: %q %v", b, err)
	}
	if _, err := readFile(fsys, "big"); !errors.Is(err, ErrOutputTooLarge) {
		t.Errorf("big: %v", err)
	}
	if _, err := readFile(fsys, "missing"); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("missing: %v", err)
	}
	if _, err := readFile(nil, "x"); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("nil fs: %v", err)
	}
}

func TestNormalizeText(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf16le bom crlf", utf16LE("KB1: a\r\nKB2: ü\r\n", true), "KB1: a\nKB2: ü\n"},
		{"utf16le no bom", utf16LE("True\r\n", false), "True\n"},
		{"utf16be bom", []byte{0xFE, 0xFF, 0, 'O', 0, 'k'}, "Ok"},
		{"utf8 bom", []byte("\xEF\xBB\xBFon\r\n"), "on\n"},
		{"lone cr", []byte("a\rb"), "a\nb"},
		{"gbk bytes kept", []byte("\xd6\xf7\r\n"), "\xd6\xf7\n"},
	}
	for _, tt := range tests {
		if got := normalizeText(tt.in); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	u, err := ParseWindowsUpdates(fixture(t, "windows/wua-com-search-pending-win10-1803-utf16le-bom.txt"))
	if err != nil || u.Pending != 2 {
		t.Errorf("real UTF-16 fixture: %+v %v", u, err)
	}
	if _, err := cleanValue("x", "\xd6\xf7"); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("non-UTF-8 value: %v", err)
	}
}
