package policy

import (
	"fmt"
	"strings"
	"time"
)

// window is a compiled `time` criterion: weekdays and a wall-clock interval
// [from, to) in a time zone. When from > to the interval wraps past
// midnight and its early-morning part belongs to the previous day, so
// `weekdays: [fri], from: "22:00", to: "06:00"` covers Friday 22:00 to
// Saturday 06:00.
type window struct {
	days     uint8 // bit i set = time.Weekday(i) allowed
	clock    bool  // from/to given
	from, to int   // minutes since midnight; to may be 1440
	loc      *time.Location
}

const allDays = 0x7f

var dayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

var longDayNames = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// parseDay reads a weekday name: three-letter or full, any case.
func parseDay(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i := range dayNames {
		if s == dayNames[i] || s == longDayNames[i] {
			return i, true
		}
	}
	return 0, false
}

// parseDays reads "mon" or a range "mon-fri" (ranges may wrap: "fri-mon").
func parseDays(s string) (uint8, error) {
	first, last, isRange := strings.Cut(s, "-")
	a, ok := parseDay(first)
	if !ok {
		return 0, fmt.Errorf("unknown weekday %q (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)", s)
	}
	if !isRange {
		return 1 << a, nil
	}
	b, ok := parseDay(last)
	if !ok {
		return 0, fmt.Errorf("unknown weekday %q in range %q", last, s)
	}
	var m uint8
	for d := a; ; d = (d + 1) % 7 {
		m |= 1 << d
		if d == b {
			break
		}
	}
	return m, nil
}

// parseClock reads "HH:MM" (24-hour; "24:00" allowed when end is set).
func parseClock(s string, end bool) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("bad time of day %q (want HH:MM, 24-hour)", s)
	}
	for _, c := range s[:2] + s[3:] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad time of day %q (want HH:MM, 24-hour)", s)
		}
	}
	h = int(s[0]-'0')*10 + int(s[1]-'0')
	m = int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, fmt.Errorf("bad time of day %q (want 00:00 to 23:59, or 24:00 for to)", s)
	}
	return h*60 + m, nil
}

// contains reports whether t falls in the window.
func (w *window) contains(t time.Time) bool {
	lt := t.In(w.loc)
	wd := int(lt.Weekday())
	if !w.clock {
		return w.days&(1<<wd) != 0
	}
	h, m, _ := lt.Clock()
	mins := h*60 + m
	if w.from < w.to {
		return mins >= w.from && mins < w.to && w.days&(1<<wd) != 0
	}
	if mins >= w.from {
		return w.days&(1<<wd) != 0
	}
	if mins < w.to {
		return w.days&(1<<((wd+6)%7)) != 0
	}
	return false
}

// describe renders the window for messages, e.g. "Mon-Fri 08:00-19:00 (Europe/Paris)".
func (w *window) describe() string {
	var parts []string
	if w.days != allDays {
		parts = append(parts, describeDays(w.days))
	}
	if w.clock {
		parts = append(parts, fmt.Sprintf("%02d:%02d-%02d:%02d", w.from/60, w.from%60, w.to/60, w.to%60))
	}
	return strings.Join(parts, " ") + " (" + w.loc.String() + ")"
}

// describeDays renders a day set as runs: "Mon-Fri", "Sat, Sun".
func describeDays(days uint8) string {
	var runs []string
	for d := 1; d <= 7; { // Monday first; index 7 is Sunday again
		if days&(1<<(d%7)) == 0 {
			d++
			continue
		}
		e := d
		for e+1 <= 7 && days&(1<<((e+1)%7)) != 0 {
			e++
		}
		name := func(i int) string { n := dayNames[i%7]; return strings.ToUpper(n[:1]) + n[1:] }
		if e == d {
			runs = append(runs, name(d))
		} else {
			runs = append(runs, name(d)+"-"+name(e))
		}
		d = e + 1
	}
	return strings.Join(runs, ", ")
}

// loadLocation resolves an IANA zone name; machine-dependent "Local" and
// empty names are refused so a policy means the same everywhere.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("bad time zone %q (want an IANA name such as Europe/Paris, or UTC)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Paris, or UTC)", name)
	}
	return loc, nil
}
