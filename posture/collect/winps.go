package collect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// psPrelude makes PowerShell write UTF-8 to the pipe whatever the console
// code page, so non-ASCII names survive.
const psPrelude = "[Console]::OutputEncoding=[Text.UTF8Encoding]::new($false); $ErrorActionPreference='Stop'; "

// psArgs builds the powershell.exe command line for a script.
func psArgs(script string) (string, []string) {
	return "powershell.exe", []string{"-NoProfile", "-NonInteractive", "-Command", psPrelude + script}
}

// ParsePSObjects parses PowerShell output of flat objects in any of the
// three shapes the fixtures show: ConvertTo-Json (an object or an array),
// Format-List ("Key : Value" records separated by blank lines) and the
// default Format-Table view (columns under a dashed rule). Values are
// strings as PowerShell prints them; JSON booleans become "True"/"False".
func ParsePSObjects(data []byte) ([]map[string]string, error) {
	text := normalizeText(data)
	trimmed := strings.TrimSpace(text)
	switch {
	case trimmed == "":
		return nil, nil
	case trimmed[0] == '{' || trimmed[0] == '[':
		return parsePSJSON([]byte(trimmed))
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if isTableRule(l) && i > 0 {
			return parsePSTable(lines[:i], l, lines[i+1:])
		}
	}
	return parsePSList(lines)
}

func parsePSJSON(b []byte) ([]map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("PowerShell JSON: %w: %v", ErrUnrecognized, err)
	}
	if dec.More() {
		return nil, unrecognized("PowerShell JSON", "trailing data")
	}
	var items []any
	switch t := v.(type) {
	case []any:
		items = t
	case map[string]any:
		items = []any{t}
	default:
		return nil, unrecognized("PowerShell JSON", string(b))
	}
	out := make([]map[string]string, 0, len(items))
	for _, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			return nil, unrecognized("PowerShell JSON", "array item is not an object")
		}
		rec := make(map[string]string, len(obj))
		for k, val := range obj {
			rec[k] = psJSONString(val)
		}
		out = append(out, rec)
	}
	return out, nil
}

// psJSONString renders a JSON value the way Format-List would print it.
func psJSONString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case json.Number:
		return t.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// parsePSList parses Format-List records; lines indented under a value
// continue it (Format-List wraps long values).
func parsePSList(lines []string) ([]map[string]string, error) {
	var out []map[string]string
	var rec map[string]string
	last := ""
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			if rec != nil {
				out = append(out, rec)
				rec, last = nil, ""
			}
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if rec == nil || last == "" {
				return nil, unrecognized("PowerShell list", l)
			}
			rec[last] = strings.TrimSpace(rec[last] + " " + strings.TrimSpace(l))
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, unrecognized("PowerShell list", l)
		}
		if rec == nil {
			rec = map[string]string{}
		}
		rec[k], last = strings.TrimSpace(v), k
	}
	if rec != nil {
		out = append(out, rec)
	}
	return out, nil
}

// isTableRule reports a Format-Table rule line: dash groups and spaces.
func isTableRule(l string) bool {
	t := strings.TrimRight(l, " ")
	return strings.HasPrefix(t, "-") && strings.Trim(t, "- ") == ""
}

// parsePSTable parses a Format-Table view. Column spans come from the dash
// groups of the rule; a header wrapped over several lines ("Mount" over
// "Point") is joined into the property name ("MountPoint").
func parsePSTable(header []string, rule string, rows []string) ([]map[string]string, error) {
	var starts []int
	r := []rune(rule)
	for i := range r {
		if r[i] == '-' && (i == 0 || r[i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	names := make([]string, len(starts))
	for _, h := range header {
		for i, cell := range sliceColumns(h, starts) {
			names[i] += cell
		}
	}
	for i, n := range names {
		if n == "" {
			return nil, unrecognized("PowerShell table", fmt.Sprintf("column %d has no header", i+1))
		}
	}
	var out []map[string]string
	for _, row := range rows {
		if strings.TrimSpace(row) == "" {
			continue
		}
		cells := sliceColumns(row, starts)
		rec := make(map[string]string, len(names))
		for i, n := range names {
			rec[n] = cells[i]
		}
		out = append(out, rec)
	}
	return out, nil
}

// sliceColumns cuts a line at the column starts (in runes) and trims cells.
func sliceColumns(line string, starts []int) []string {
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "\uFFFD")
	}
	r := []rune(line)
	cells := make([]string, len(starts))
	for i, s := range starts {
		end := len(r)
		if i+1 < len(starts) && starts[i+1] < end {
			end = starts[i+1]
		}
		if s < end {
			cells[i] = strings.TrimSpace(string(r[s:end]))
		}
	}
	return cells
}

// psBool reads a PowerShell boolean; anything but True/False is an error.
func psBool(rec map[string]string, key string) (bool, error) {
	switch rec[key] {
	case "True":
		return true, nil
	case "False":
		return false, nil
	}
	return false, unrecognized(key, rec[key])
}
