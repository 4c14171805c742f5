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

// expectedColumns are the CSV columns, in any order; the first six are
// required, groups and tpm_ek_sha256 optional.
var expectedColumns = [...]string{"serial", "model", "platform", "owner_email", "department", "ownership", "groups", colEK}

// colEK is the optional column binding an expected device to its TPM.
const colEK = "tpm_ek_sha256"

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
// and optionally groups (";"-separated) and tpm_ek_sha256; every row must
// be valid and every serial and endorsement key hash unique, or the error
// lists the bad rows by line number (an *apperr.Error with code invalid).
// ImportedAt is left for the caller.
func ParseExpectedCSV(r io.Reader) ([]*store.ExpectedDevice, error) {
	rows, _, err := parseExpectedCSV(r)
	return rows, err
}

// parseExpectedCSV is ParseExpectedCSV, also saying whether the header has
// the tpm_ek_sha256 column.
func parseExpectedCSV(r io.Reader) ([]*store.ExpectedDevice, bool, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, false, apperr.Field("csv", "the CSV is empty; the first line must be the header %s", strings.Join(expectedColumns[:6], ","))
	}
	if err != nil {
		return nil, false, csvSyntax(err)
	}
	cols, err := csvHeader(header)
	if err != nil {
		return nil, false, err
	}
	_, hasEK := cols[colEK]
	cr.FieldsPerRecord = len(header)
	var out []*store.ExpectedDevice
	var problems []string
	seen, seenEK := map[string]int{}, map[string]int{}
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
			return nil, false, csvSyntax(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out)+len(problems) >= MaxExpectedRows {
			return nil, false, apperr.Field("csv", "the CSV has more than %d rows; split it", MaxExpectedRows)
		}
		d, msg := expectedRow(rec, cols)
		if msg == "" {
			if first, dup := seen[d.ID]; dup {
				msg = fmt.Sprintf("serial %q is also on line %d", d.ID, first)
			} else {
				seen[d.ID] = line
			}
		}
		if msg == "" && d.TPMEKSHA256 != "" {
			if first, dup := seenEK[d.TPMEKSHA256]; dup {
				msg = fmt.Sprintf("%s is also on line %d: one TPM is in one device", colEK, first)
			} else {
				seenEK[d.TPMEKSHA256] = line
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
		return nil, false, apperr.Field("csv", "%d bad row(s), nothing was imported: %s%s", len(problems), strings.Join(shown, "; "), more)
	}
	return out, hasEK, nil
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
			return nil, apperr.Field("csv", "line 1: unknown column %q (the columns are %s, and optionally groups and %s)", name, strings.Join(expectedColumns[:6], ","), colEK)
		}
		if _, dup := cols[name]; dup {
			return nil, apperr.Field("csv", "line 1: column %q appears twice", name)
		}
		cols[name] = i
	}
	for _, name := range expectedColumns[:6] {
		if _, ok := cols[name]; !ok {
			return nil, apperr.Field("csv", "line 1: the header lacks the column %q (the columns are %s, and optionally groups and %s)", name, strings.Join(expectedColumns[:6], ","), colEK)
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
	if ek := get(colEK); ek != "" {
		if !isSHA256Hex(ek) {
			return nil, fmt.Sprintf("%s %q is not 64 hexadecimal characters (the SHA-256 of the TPM endorsement key's public key)", colEK, ek)
		}
		d.TPMEKSHA256 = strings.ToLower(ek)
	}
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

// isSHA256Hex reports whether s is 64 hexadecimal digits, either case.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
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
// (the provisioning start) and the device it enrolled as are kept, and so
// is its endorsement key hash when the CSV has no tpm_ek_sha256 column (an
// empty cell in that column removes it). An endorsement key hash already
// registered for another serial is refused.
func (s *Service) ImportExpected(ctx context.Context, a Actor, r io.Reader) (ImportResult, error) {
	rows, hasEK, err := parseExpectedCSV(r)
	if err != nil {
		return ImportResult{}, err
	}
	if !hasEK {
		for _, d := range rows {
			if old, ok := s.st.ExpectedDevice(d.ID); ok {
				d.TPMEKSHA256 = old.TPMEKSHA256
			}
		}
	}
	if err := s.checkEKsFree(rows); err != nil {
		return ImportResult{}, err
	}
	bound := 0
	now := s.clock().UTC()
	var res ImportResult
	ops := make([]store.Op, 0, len(rows)+1)
	for _, d := range rows {
		d.ImportedAt = now
		if d.TPMEKSHA256 != "" {
			bound++
		}
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
		"created": strconv.Itoa(res.Created), "updated": strconv.Itoa(res.Updated), "unchanged": strconv.Itoa(res.Unchanged),
		"tpm_bound": strconv.Itoa(bound)}))
	if err := s.st.Write(ctx, ops...); err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func sameExpected(a, b *store.ExpectedDevice) bool {
	return a.Model == b.Model && a.Platform == b.Platform && a.OwnerEmail == b.OwnerEmail &&
		a.Department == b.Department && a.Ownership == b.Ownership && slices.Equal(a.Groups, b.Groups) &&
		a.TPMEKSHA256 == b.TPMEKSHA256
}

// checkEKsFree refuses rows binding an endorsement key that an expected
// device outside the import (another serial) already holds.
func (s *Service) checkEKsFree(rows []*store.ExpectedDevice) error {
	inImport := make(map[string]bool, len(rows))
	for _, d := range rows {
		inImport[d.ID] = true
	}
	for _, d := range rows {
		if d.TPMEKSHA256 == "" {
			continue
		}
		if other, ok := s.st.ExpectedDeviceByEK(d.TPMEKSHA256); ok && other.ID != d.ID && !inImport[other.ID] {
			return apperr.Field("csv", "serial %q: %s %s is already registered for expected device %s; one TPM is in one device, nothing was imported",
				d.ID, colEK, d.TPMEKSHA256, other.ID)
		}
	}
	return nil
}
