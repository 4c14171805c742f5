package confyaml

import (
	"fmt"
	"strings"
	"time"
)

// Days is a set of weekdays: bit i stands for time.Weekday(i).
type Days uint8

// AllDays is every day of the week.
const AllDays Days = 1<<7 - 1

// Has reports whether d includes wd.
func (d Days) Has(wd time.Weekday) bool { return d&(1<<wd) != 0 }

var (
	dayNames     = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	longDayNames = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
)

// DayName is wd's three-letter lower-case name, "sun" to "sat".
func DayName(wd time.Weekday) string { return dayNames[wd%7] }

// ParseDays reads a weekday, "mon" or "monday" in any case, or a range of
// them, "mon-fri"; a range may wrap past Sunday, "fri-mon".
func ParseDays(s string) (Days, error) { return parseDays(s, dayExact) }

// dayExact reads "mon" or "monday", after trimming, in any case.
func dayExact(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i := range dayNames {
		if s == dayNames[i] || s == longDayNames[i] {
			return i, true
		}
	}
	return 0, false
}

func parseDays(s string, day func(string) (int, bool)) (Days, error) {
	first, last, isRange := strings.Cut(s, "-")
	a, ok := day(first)
	if !ok {
		return 0, fmt.Errorf("unknown weekday %q (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)", s)
	}
	if !isRange {
		return 1 << a, nil
	}
	b, ok := day(last)
	if !ok {
		return 0, fmt.Errorf("unknown weekday %q in range %q", last, s)
	}
	var m Days
	for d := a; ; d = (d + 1) % 7 {
		m |= 1 << d
		if d == b {
			break
		}
	}
	return m, nil
}

// Window is a weekly window: the weekdays in Days and, on each, the
// wall-clock interval [From, To) in minutes after midnight; To may be 1440
// (24:00). When From > To the interval wraps past midnight and its
// early-morning part belongs to the day before, the one it started on, so
// Days fri, From 22:00, To 06:00 covers Friday 22:00 to Saturday 06:00.
// From == To == 0 (no hours given) means the whole of each day.
type Window struct {
	Days     Days
	From, To int
	// Loc is the zone the window is read in; nil reads each time in its own
	// location.
	Loc *time.Location
}

// Contains reports whether t falls in the window. It reads t's wall clock
// in Loc, so the window keeps to local hours across daylight-saving
// changes: a repeated hour counts twice, a skipped one not at all.
func (w *Window) Contains(t time.Time) bool {
	if w.Loc != nil {
		t = t.In(w.Loc)
	}
	wd := t.Weekday()
	if w.From == 0 && w.To == 0 {
		return w.Days.Has(wd)
	}
	h, m, _ := t.Clock()
	mins := h*60 + m
	if w.From < w.To {
		return mins >= w.From && mins < w.To && w.Days.Has(wd)
	}
	if mins >= w.From {
		return w.Days.Has(wd)
	}
	return mins < w.To && w.Days.Has((wd+6)%7)
}
