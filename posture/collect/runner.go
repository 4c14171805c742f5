package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Runner runs an external command and returns its standard output.
//
// On a non-zero exit it returns the captured standard output together with a
// *CommandError, because some tools (firewall-cmd --state, dnf check-update)
// answer through their exit status. A missing command yields an error that
// matches ErrNotAvailable.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// constError is an error that can be a constant.
type constError string

// Error returns the constant message.
func (e constError) Error() string { return string(e) }

// Errors the runner and file reads report.
const (
	// ErrNotAvailable means the command or file does not exist on this device.
	ErrNotAvailable = constError("not available")
	// ErrOutputTooLarge means a command wrote more than the runner accepts;
	// its output is discarded rather than parsed truncated.
	ErrOutputTooLarge = constError("output too large")
)

// CommandError reports a command that ran and failed.
type CommandError struct {
	Command  string // the command line
	ExitCode int    // -1 when the command was killed or did not start
	Stderr   []byte // the start of standard error
	Err      error  // the underlying error
}

// Error gives the command, its exit status and the first line of stderr.
func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Command, e.Err)
	if line := firstLine(string(e.Stderr)); line != "" {
		msg += ": " + line
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *CommandError) Unwrap() error { return e.Err }

// Default limits of ExecRunner.
const (
	DefaultTimeout   = 60 * time.Second
	DefaultMaxOutput = 8 << 20
	maxStderr        = 4 << 10
	maxFileSize      = 1 << 20
)

// ExecRunner runs commands with os/exec, a timeout and a bounded output.
// Commands run with LC_ALL=C so that their output is not localized.
type ExecRunner struct {
	Timeout   time.Duration // per command; DefaultTimeout when zero
	MaxOutput int64         // bytes of stdout; DefaultMaxOutput when zero
}

var _ Runner = ExecRunner{}

// Run runs name with args and returns its standard output.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	timeout, limit := r.Timeout, r.MaxOutput
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	cmdline := strings.TrimSpace(name + " " + strings.Join(args, " "))
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmdline, ErrNotAvailable)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "LANGUAGE=C")
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)
	stdout := &capBuffer{limit: limit, onFull: cancel}
	stderr := &capBuffer{limit: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	if stdout.full {
		return nil, &CommandError{Command: cmdline, ExitCode: -1, Err: ErrOutputTooLarge}
	}
	if err != nil {
		code := -1
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stdout.buf.Bytes(), &CommandError{Command: cmdline, ExitCode: code, Stderr: stderr.buf.Bytes(), Err: err}
	}
	return stdout.buf.Bytes(), nil
}

// capBuffer keeps at most limit bytes and reports when more were written.
type capBuffer struct {
	buf    bytes.Buffer
	limit  int64
	full   bool
	onFull func()
}

// Write keeps what fits and, past the limit, records overflow and calls
// onFull once instead of failing, so the command is killed, not blocked.
func (b *capBuffer) Write(p []byte) (int, error) {
	room := b.limit - int64(b.buf.Len())
	if int64(len(p)) > room {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		if !b.full && b.onFull != nil {
			b.onFull()
		}
		b.full = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

// readFile reads a whole file from fsys, refusing files over maxFileSize.
// A missing file matches ErrNotAvailable.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	if fsys == nil {
		return nil, fmt.Errorf("/%s: no file system: %w", name, ErrNotAvailable)
	}
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("/%s: %w", name, ErrNotAvailable)
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("/%s: %w", name, ErrOutputTooLarge)
	}
	return data, nil
}
