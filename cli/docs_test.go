package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docCommand finds a portier command line in the docs: the command, an
// optional subcommand, and the rest of the line.
var docCommand = regexp.MustCompile("(?m)(?:^\\s*(?:sudo\\s+)?|`(?:sudo\\s+)?)portier ([a-z]+)((?: [a-z]+)?)([^`\\n]*)")

// docFlag is a --flag on a documented command line.
var docFlag = regexp.MustCompile(`(?:^|\s)--?([a-z][a-z0-9-]*)`)

// TestDocsCommands checks every portier command line written in the README,
// docs/ and deploy/: the command and subcommand exist, and each flag shown
// is one the command accepts, so a guide never tells an operator to type
// something Portier refuses.
func TestDocsCommands(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../README.md", "../docs/*.md", "../deploy/*/*", "../deploy/*/*/*"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a directory
		}
		for _, m := range docCommand.FindAllStringSubmatch(string(data), -1) {
			cmd, sub, rest := m[1], strings.TrimSpace(m[2]), m[3]
			if strings.HasPrefix(rest, ":") { // "portier serve: file:3: …" is output, not a command
				continue
			}
			help := helpOf(t, cmd, sub)
			if help == "" {
				t.Errorf("%s: `portier %s %s`: no such command", f, cmd, sub)
				continue
			}
			if strings.HasPrefix(rest, " ") || rest == "" {
				rest = " " + rest
			}
			for _, fm := range docFlag.FindAllStringSubmatch(commandPart(rest), -1) {
				if fm[1] == "h" || fm[1] == "help" {
					continue
				}
				if !strings.Contains(help, "-"+fm[1]+" ") && !strings.Contains(help, "-"+fm[1]+"\n") {
					t.Errorf("%s: `portier %s %s` has no flag --%s", f, cmd, sub, fm[1])
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d documented command lines found; did the docs move?", checked)
	}
}

// commandPart cuts a shell line at a comment, pipe, redirection or the next
// command, so only portier's own flags are checked.
func commandPart(line string) string {
	if i := strings.IndexAny(line, "#|>;&"); i >= 0 {
		return line[:i]
	}
	return line
}

// helpOf returns what `portier CMD [SUB] -h` prints, "" when the command
// or subcommand is unknown. A word that is not a subcommand (such as a
// file name) falls back to the command's own help.
func helpOf(t *testing.T, cmd, sub string) string {
	t.Helper()
	run := func(args ...string) (string, bool) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append(args, "-h"), func(string) string { return "" }, &out, &errb)
		text := out.String() + errb.String()
		return text, code != ExitUsage || strings.Contains(text, "Usage") || strings.Contains(text, "usage")
	}
	if sub != "" {
		if text, ok := run(cmd, sub); ok && !strings.Contains(text, "unknown") {
			return text
		}
	}
	text, ok := run(cmd)
	if !ok || strings.Contains(text, "unknown command") {
		return ""
	}
	return text
}
