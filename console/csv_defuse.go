package console

import "strings"

// defuseCSV makes CSV cells safe to open in a spreadsheet: a cell it would
// run as a formula (starting with = + - @ or a control character) is
// prefixed with a quote. It changes row in place and returns it. Every CSV
// export uses it.
func defuseCSV(row []string) []string {
	for i, v := range row {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			row[i] = "'" + v
		}
	}
	return row
}
