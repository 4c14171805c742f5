package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portier/portier/agentwire"
)

// Action is a remote action as the server delivers it.
type Action = agentwire.Action

// PollActions asks the server for this device's open actions, waiting up
// to wait for one to be queued.
func (a *Agent) PollActions(ctx context.Context, wait time.Duration) ([]*Action, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+pollGrace)
	defer cancel()
	var out agentwire.Actions
	q := url.Values{"wait": {wait.String()}}
	if err := a.c.call(ctx, http.MethodGet, "/api/v1/agent/actions?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Actions, nil
}

// Execute runs each delivered action at most once and reports its result.
// An action id already in the journal is not run again: its recorded
// result is reported again (an action interrupted by a crash is reported
// failed). It returns ErrUnenrolled after a wipe.
func (a *Agent) Execute(ctx context.Context, acts []*Action) error {
	for _, act := range acts {
		if act == nil || act.ID == "" || (act.DeviceID != "" && act.DeviceID != a.st.DeviceID) {
			continue
		}
		if e, ok := a.j.get(act.ID); ok {
			status, result := e.Status, e.Result
			if e.State != journalDone {
				status, result = agentwire.StatusFailed, "interrupted: the agent stopped while running this action; it is not run again"
				if err := a.j.record(journalEntry{ID: act.ID, State: journalDone, Status: status, Result: result, At: a.o.Clock().UTC()}); err != nil {
					return err
				}
			}
			a.o.Log.Info("agent: action already handled; reporting again", "action", act.ID, "type", act.Type)
			if err := a.report(ctx, act.ID, status, result); err != nil {
				return err
			}
			continue
		}
		// The id is on disk before the action starts: a crash or a
		// re-delivery can never run it twice.
		if err := a.j.record(journalEntry{ID: act.ID, State: journalStarted, At: a.o.Clock().UTC()}); err != nil {
			return fmt.Errorf("agent: cannot journal action %s, not running it: %w", act.ID, err)
		}
		a.o.Log.Info("agent: running action", "action", act.ID, "type", act.Type)
		status, result, unenroll := a.run(ctx, act)
		if !(unenroll && act.Type == agentwire.ActionSelectiveWipe) { // the journal went with the work profile
			if err := a.j.record(journalEntry{ID: act.ID, State: journalDone, Status: status, Result: result, At: a.o.Clock().UTC()}); err != nil {
				return err
			}
		}
		if unenroll {
			// The last word of a wiped device: a few tries, so that one
			// lost answer (a server replica killed, say) does not leave the
			// wipe unknown to the server until it expires.
			if err := a.reportLast(ctx, act.ID, status, result); err != nil {
				a.o.Log.Warn("agent: could not report the wipe; the server will see the action expire", "action", act.ID, "err", err)
			}
			return ErrUnenrolled
		}
		if err := a.report(ctx, act.ID, status, result); err != nil {
			return err
		}
	}
	return nil
}

// report sends an action's result; an action the server already closed
// (acknowledged, or expired meanwhile) is not an error.
func (a *Agent) report(ctx context.Context, id, status, result string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	err := a.c.call(ctx, http.MethodPost, "/api/v1/agent/actions/"+url.PathEscape(id)+"/result",
		agentwire.ActionResult{Status: status, Result: agentwire.ClipResult(result)}, nil)
	if IsStatus(err, http.StatusConflict) || IsStatus(err, http.StatusNotFound) {
		a.o.Log.Info("agent: the server already closed this action", "action", id, "err", err)
		return nil
	}
	return err
}

// lastReportTries and lastReportPause bound reportLast.
const (
	lastReportTries = 4
	lastReportPause = 500 * time.Millisecond
)

// reportLast reports a result the agent gets no later chance to send:
// retried a few times a short pause apart. The server accepts a repeated
// report of the same result.
func (a *Agent) reportLast(ctx context.Context, id, status, result string) error {
	var err error
	for i := range lastReportTries {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(lastReportPause):
			}
		}
		if err = a.report(ctx, id, status, result); err == nil {
			return nil
		}
	}
	return err
}

// run carries out one action and says whether the agent must stop.
func (a *Agent) run(ctx context.Context, act *Action) (status, result string, unenroll bool) {
	ok := func(msg string) (string, string, bool) { return agentwire.StatusAcknowledged, msg, false }
	failed := func(err error) (string, string, bool) { return agentwire.StatusFailed, err.Error(), false }
	switch act.Type {
	case agentwire.ActionLock:
		if err := a.command(ctx, lockCommand(a.o.Platform)); err != nil {
			return failed(fmt.Errorf("lock failed: %w", err))
		}
		return ok("screen locked")
	case agentwire.ActionMessage:
		title, text := act.Params["title"], act.Params["text"]
		if title == "" {
			title = "Message from IT"
		}
		if err := a.command(ctx, messageCommand(a.o.Platform, title, text)); err != nil {
			a.o.Log.Warn("agent: message from IT (no desktop notification could be shown)", "title", title, "text", text, "err", err)
			return ok("no desktop notification available; the message was written to the agent log")
		}
		return ok("notification shown")
	case agentwire.ActionRecollect:
		res, err := a.SendPosture(ctx, false)
		if err != nil {
			return failed(fmt.Errorf("recollect failed: %w", err))
		}
		return ok(fmt.Sprintf("posture sent (seq %d, accepted %v)", a.st.Seq, res.Accepted))
	case agentwire.ActionSelectiveWipe:
		a.removeBrowsers(ctx)
		if err := a.removeProfile(); err != nil {
			return agentwire.StatusFailed, "selective wipe failed: " + err.Error(), false
		}
		return agentwire.StatusAcknowledged, "work profile removed: agent data, key and certificate deleted", true
	case agentwire.ActionWipe:
		if len(a.o.WipeCommand) == 0 {
			return failed(errors.New("full wipe is not enabled on this device (the agent runs without a wipe command)"))
		}
		a.removeBrowsers(ctx)
		if err := a.command(ctx, a.o.WipeCommand); err != nil {
			return failed(fmt.Errorf("wipe command failed: %w", err))
		}
		return agentwire.StatusAcknowledged, "wipe command started", true
	case agentwire.ActionRevoke, agentwire.ActionQuarantine:
		return ok("carried out by the server")
	}
	return failed(fmt.Errorf("unknown action type %q", act.Type))
}

// command runs argv through the runner.
func (a *Agent) command(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command for this platform")
	}
	_, err := a.o.Runner.Run(ctx, argv[0], argv[1:]...)
	return err
}

// removeProfile deletes what the enrollment keeps: the whole work-profile
// directory in work-profile mode, else the agent's own files.
func (a *Agent) removeProfile() error {
	if filepath.Base(a.dir) == WorkProfileDir {
		return os.RemoveAll(a.dir)
	}
	var errs []error
	for _, f := range profileFiles {
		if err := os.Remove(filepath.Join(a.dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lockCommand locks every session of the platform.
func lockCommand(platform string) []string {
	switch platform {
	case PlatformLinux:
		return []string{"loginctl", "lock-sessions"}
	case PlatformMacOS:
		return []string{"pmset", "displaysleepnow"}
	case PlatformWindows:
		return []string{"rundll32.exe", "user32.dll,LockWorkStation"}
	}
	return nil
}

// messageCommand shows a desktop notification; the text goes as an
// argument, never through a shell or a script source.
func messageCommand(platform, title, text string) []string {
	switch platform {
	case PlatformLinux:
		return []string{"notify-send", "--urgency=critical", "--app-name=Portier", title, text}
	case PlatformMacOS:
		return []string{"osascript", "-e", "on run argv", "-e", "display notification (item 2 of argv) with title (item 1 of argv)", "-e", "end run", title, text}
	case PlatformWindows:
		return []string{"msg", "*", "/TIME:600", strings.ReplaceAll(title+": "+text, "\n", " ")}
	}
	return nil
}
