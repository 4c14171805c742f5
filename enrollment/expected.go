package enrollment

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// Limits of an expected-device import.
const (
	MaxExpectedRows  = 200_000
	maxShownProblems = 20
	maxTextLen       = 128
	maxGroups        = 50
)

// expectedColumns are the CSV columns, in any order; groups is optional.
var expectedColumns = [...]string{"serial", "model", "platform", "owner_email", "department", "ownership", "groups"}

// platforms a device may declare.
var platforms = [...]string{"linux", "macos", "windows", "ios", "android", "chromeos"}

// ImportResult counts what an import changed.
type ImportResult struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ParseExpectedCSV reads an expected-device list strictly: the header names
// the columns serial, model, platform, owner_email, department, ownership
// and optionally groups (";"-separated); every row must be valid and every
// serial unique, or the error lists the bad rows by line number (an
// *apperr.Error with code invalid). ImportedAt is left for the caller.
func ParseExpectedCSV(r io.Reader) ([]*store.ExpectedDevice, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, apperr.Field("csv", "the CSV is empty; the first line must be the header %s", strings.Join(expectedColumns[:6], ","))
	}
	if err != nil {
		return nil, csvSyntax(err)
	}
	cols, err := csvHeader(header)
	if err != nil {
		return nil, err
	}
	cr.FieldsPerRecord = len(header)
	var out []*store.ExpectedDevice
	var problems []string
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				problems = append(problems, fmt.Sprintf("line %d: %d fields, the header has %d", pe.StartLine, len(rec), len(header)))
				continue
			}
			return nil, csvSyntax(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out)+len(problems) >= MaxExpectedRows {
			return nil, apperr.Field("csv", "the CSV has more than %d rows; split it", MaxExpectedRows)
		}
		d, msg := expectedRow(rec, cols)
		if msg == "" {
			if first, dup := seen[d.ID]; dup {
				msg = fmt.Sprintf("serial %q is also on line %d", d.ID, first)
			} else {
				seen[d.ID] = line
			}
		}
		if msg != "" {
			problems = append(problems, fmt.Sprintf("line %d: %s", line, msg))
			continue
		}
		out = append(out, d)
	}
	if len(problems) > 0 {
		shown := problems[:min(len(problems), maxShownProblems)]
		more := ""
		if n := len(problems) - len(shown); n > 0 {
			more = fmt.Sprintf("; and %d more", n)
		}
		return nil, apperr.Field("csv", "%d bad row(s), nothing was imported: %s%s", len(problems), strings.Join(shown, "; "), more)
	}
	return out, nil
}

func csvSyntax(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return apperr.Field("csv", "line %d: %v", pe.StartLine, pe.Err)
	}
	return apperr.Field("csv", "cannot read the CSV: %v", err)
}

// csvHeader maps column names to their positions.
func csvHeader(h []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, name := range h {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if !slices.Contains(expectedColumns[:], name) {
			return nil, apperr.Field("csv", "line 1: unknown column %q (the columns are %s, and optionally groups)", name, strings.Join(expectedColumns[:6], ","))
		}
		if _, dup := cols[name]; dup {
			return nil, apperr.Field("csv", "line 1: column %q appears twice", name)
		}
		cols[name] = i
	}
	for _, name := range expectedColumns[:6] {
		if _, ok := cols[name]; !ok {
			return nil, apperr.Field("csv", "line 1: the header lacks the column %q (the columns are %s, and optionally groups)", name, strings.Join(expectedColumns[:6], ","))
		}
	}
	return cols, nil
}

// expectedRow validates one row; the message says what is wrong.
func expectedRow(rec []string, cols map[string]int) (*store.ExpectedDevice, string) {
	get := func(name string) string {
		if i, ok := cols[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for name, i := range cols {
		if !cleanText(rec[i], 1024) {
			return nil, fmt.Sprintf("%s has control characters or invalid UTF-8", name)
		}
	}
	serial := get("serial")
	if msg := checkSerial(serial); msg != "" {
		return nil, msg
	}
	d := &store.ExpectedDevice{ID: normalizeSerial(serial), Model: get("model"), OwnerEmail: get("owner_email"), Department: get("department")}
	for name, v := range map[string]string{"model": d.Model, "department": d.Department} {
		if len(v) > maxTextLen {
			return nil, fmt.Sprintf("%s is longer than %d characters", name, maxTextLen)
		}
	}
	if p := strings.ToLower(get("platform")); p != "" {
		if !slices.Contains(platforms[:], p) {
			return nil, fmt.Sprintf("platform %q is not one of %s", p, strings.Join(platforms[:], ", "))
		}
		d.Platform = p
	}
	if d.OwnerEmail != "" {
		n, err := normEmail("owner_email", d.OwnerEmail)
		if err != nil {
			return nil, fmt.Sprintf("owner_email %q is not an email address (plain ASCII)", d.OwnerEmail)
		}
		d.OwnerEmail = n
	}
	own, err := enrollOwnership("ownership", store.Ownership(get("ownership")))
	if err != nil {
		return nil, fmt.Sprintf("ownership %q is not corporate, cope or byod", get("ownership"))
	}
	d.Ownership = own
	if g := get("groups"); g != "" {
		for _, name := range strings.Split(g, ";") {
			name = strings.TrimSpace(name)
			switch {
			case name == "":
				return nil, "groups has an empty name (separate groups with ;)"
			case len(name) > 64:
				return nil, fmt.Sprintf("group %q is longer than 64 characters", name)
			case slices.Contains(d.Groups, name):
				continue
			}
			d.Groups = append(d.Groups, name)
		}
		if len(d.Groups) > maxGroups {
			return nil, fmt.Sprintf("more than %d groups", maxGroups)
		}
	}
	return d, ""
}

// checkSerial accepts 1 to 64 characters from [A-Za-z0-9._-].
func checkSerial(s string) string {
	if s == "" {
		return "serial is required"
	}
	if len(s) > 64 {
		return "serial is longer than 64 characters"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("serial %q has a character outside A-Z, 0-9, '.', '_' and '-'", s)
		}
	}
	return ""
}

// normalizeSerial is how serials are compared: upper case.
func normalizeSerial(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// cleanText reports whether s is valid UTF-8 without control characters
// and at most max bytes.
func cleanText(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ImportExpected validates a CSV and writes its devices in one transaction:
// all rows or none. A serial already imported is updated; its import time
// (the provisioning start) and the device it enrolled as are kept.
func (s *Service) ImportExpected(ctx context.Context, a Actor, r io.Reader) (ImportResult, error) {
	rows, err := ParseExpectedCSV(r)
	if err != nil {
		return ImportResult{}, err
	}
	now := s.clock().UTC()
	var res ImportResult
	ops := make([]store.Op, 0, len(rows)+1)
	for _, d := range rows {
		d.ImportedAt = now
		if old, ok := s.st.ExpectedDevice(d.ID); ok {
			d.ImportedAt, d.EnrolledAs = old.ImportedAt, old.EnrolledAs
			if sameExpected(old, d) {
				res.Unchanged++
				continue
			}
			res.Updated++
		} else {
			res.Created++
		}
		ops = append(ops, store.Put(d))
	}
	ops = append(ops, s.auditOp(a, now, "enrollment.expected.import", "", map[string]string{
		"created": strconv.Itoa(res.Created), "updated": strconv.Itoa(res.Updated), "unchanged": strconv.Itoa(res.Unchanged)}))
	if err := s.st.Write(ctx, ops...); err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func sameExpected(a, b *store.ExpectedDevice) bool {
	return a.Model == b.Model && a.Platform == b.Platform && a.OwnerEmail == b.OwnerEmail &&
		a.Department == b.Department && a.Ownership == b.Ownership && slices.Equal(a.Groups, b.Groups)
}
