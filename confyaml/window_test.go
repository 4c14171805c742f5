package confyaml

import (
	"strings"
	"testing"
	"time"
)

func TestParseDays(t *testing.T) {
	const (
		sun = 1 << iota
		mon
		tue
		wed
		thu
		fri
		sat
	)
	tests := []struct {
		in   string
		want Days
		err  string
	}{
		{in: "mon", want: mon},
		{in: "Monday", want: mon},
		{in: " FRI ", want: fri},
		{in: "sunday", want: sun},
		{in: "mon-fri", want: mon | tue | wed | thu | fri},
		{in: "Mon - Wed", want: mon | tue | wed},
		{in: "fri-mon", want: fri | sat | sun | mon},
		{in: "sat-fri", want: Days(AllDays)},
		{in: "wed-wed", want: wed},
		{in: "sunday-saturday", want: Days(AllDays)},
		{in: "", err: `unknown weekday "" (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)`},
		{in: "mo", err: `unknown weekday "mo" (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)`},
		{in: "mon-", err: `unknown weekday "" in range "mon-"`},
		{in: "mon-xyz", err: `unknown weekday "xyz" in range "mon-xyz"`},
		{in: "mon-tue-wed", err: `unknown weekday "tue-wed" in range "mon-tue-wed"`},
		{in: "tueday", err: `unknown weekday "tueday" (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)`},
		{in: "satday-Monxday", err: `unknown weekday "satday-Monxday" (want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri)`},
	}
	for _, tt := range tests {
		got, err := ParseDays(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseDays(%q) = %07b, %v; want error %q", tt.in, got, err, tt.err)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("ParseDays(%q) = %07b, %v; want %07b", tt.in, got, err, tt.want)
		}
	}
}

func TestDayName(t *testing.T) {
	var names []string
	for d := time.Sunday; d <= time.Saturday; d++ {
		names = append(names, DayName(d))
		if !Days(AllDays).Has(d) || Days(0).Has(d) {
			t.Errorf("Has(%v)", d)
		}
	}
	if got := strings.Join(names, " "); got != "sun mon tue wed thu fri sat" {
		t.Errorf("names %q", got)
	}
}

func TestWindowContains(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	days := func(s string) Days {
		d, err := ParseDays(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	hm := func(h, m int) int { return h*60 + m }
	utc := func(mo time.Month, d, h, m int) time.Time { return time.Date(2025, mo, d, h, m, 0, 0, time.UTC) }
	office := Window{Days: days("mon-fri"), From: hm(8, 0), To: hm(19, 0), Loc: paris}
	friNight := Window{Days: days("fri"), From: hm(22, 0), To: hm(6, 0), Loc: paris}
	nightsNY := Window{Days: AllDays, From: hm(22, 0), To: hm(6, 0), Loc: ny}
	tests := []struct {
		name string
		w    Window
		t    time.Time
		want bool
	}{
		// Paris moves from UTC+1 to UTC+2 on Sunday 2025-03-30 at 02:00.
		{"friday 07:30 UTC is 08:30 CET", office, utc(3, 28, 7, 30), true},
		{"friday 06:30 UTC is 07:30 CET", office, utc(3, 28, 6, 30), false},
		{"monday 06:30 UTC is 08:30 CEST", office, utc(3, 31, 6, 30), true},
		{"monday 16:59 UTC is 18:59 CEST", office, utc(3, 31, 16, 59), true},
		{"monday 17:00 UTC is 19:00 CEST, to is exclusive", office, utc(3, 31, 17, 0), false},
		{"saturday", office, utc(3, 29, 10, 0), false},
		{"sunday 23:30 UTC is monday 01:30 in Paris", office, utc(3, 30, 23, 30), false},
		// Past midnight: the early hours belong to the day the window starts.
		{"friday 22:00 is in", friNight, time.Date(2025, 3, 28, 22, 0, 0, 0, paris), true},
		{"saturday 05:59 is friday's night", friNight, time.Date(2025, 3, 29, 5, 59, 0, 0, paris), true},
		{"saturday 06:00 is over", friNight, time.Date(2025, 3, 29, 6, 0, 0, 0, paris), false},
		{"saturday 23:00 is not friday", friNight, time.Date(2025, 3, 29, 23, 0, 0, 0, paris), false},
		{"friday 05:00 is thursday's night", friNight, time.Date(2025, 3, 28, 5, 0, 0, 0, paris), false},
		{"friday 21:30 UTC is 22:30 in Paris", friNight, utc(3, 28, 21, 30), true},
		{"friday 22:30 UTC is saturday in Paris, still friday's night", friNight, utc(3, 28, 22, 30), true},
		// A night that spans the switch to summer time: Saturday 22:00 CET
		// to Sunday 06:00 CEST is seven hours, not eight.
		{"night into DST, sunday 03:30 CEST", Window{Days: days("sat"), From: hm(22, 0), To: hm(6, 0), Loc: paris}, utc(3, 30, 1, 30), true},
		{"night into DST, sunday 06:00 CEST is 04:00 UTC", Window{Days: days("sat"), From: hm(22, 0), To: hm(6, 0), Loc: paris}, utc(3, 30, 4, 0), false},
		{"night into DST, 03:59 UTC is 05:59 CEST", Window{Days: days("sat"), From: hm(22, 0), To: hm(6, 0), Loc: paris}, utc(3, 30, 3, 59), true},
		// The skipped hour: 02:00-03:00 does not exist in Paris that day.
		{"02:00-03:00 window on the day it is skipped", Window{Days: days("sun"), From: hm(2, 0), To: hm(3, 0), Loc: paris}, utc(3, 30, 1, 0), false},
		{"03:00 CEST right after the gap", Window{Days: days("sun"), From: hm(3, 0), To: hm(4, 0), Loc: paris}, utc(3, 30, 1, 0), true},
		// New York falls back on 2025-11-02 at 02:00 EDT: 01:30 happens twice.
		{"first 01:30 EDT", nightsNY, utc(11, 2, 5, 30), true},
		{"second 01:30 EST", nightsNY, utc(11, 2, 6, 30), true},
		{"05:59 EST", nightsNY, utc(11, 2, 10, 59), true},
		{"06:00 EST is over", nightsNY, utc(11, 2, 11, 0), false},
		{"21:59 EST", nightsNY, utc(11, 3, 2, 59), false},
		{"22:00 EST", nightsNY, utc(11, 3, 3, 0), true},
		// Whole days, read in the zone.
		{"monday 00:30 in Paris is sunday in UTC", Window{Days: days("mon"), Loc: paris}, utc(3, 30, 22, 30), true},
		{"sunday 23:59 in Paris", Window{Days: days("mon"), Loc: paris}, utc(3, 30, 21, 59), false},
		// To at 24:00, and a wrap to midnight.
		{"to 24:00", Window{Days: AllDays, From: hm(23, 0), To: hm(24, 0)}, utc(3, 28, 23, 59), true},
		{"to 24:00 excludes midnight", Window{Days: AllDays, From: hm(23, 0), To: hm(24, 0)}, utc(3, 29, 0, 0), false},
		{"wrap to 00:00 excludes midnight", Window{Days: AllDays, From: hm(22, 0), To: 0}, utc(3, 29, 0, 0), false},
		// No Loc: the time's own location.
		{"nil Loc reads t's zone", Window{Days: days("fri"), From: hm(8, 0), To: hm(9, 0)}, time.Date(2025, 3, 28, 8, 30, 0, 0, paris), true},
		{"nil Loc, same instant in UTC", Window{Days: days("fri"), From: hm(8, 0), To: hm(9, 0)}, time.Date(2025, 3, 28, 8, 30, 0, 0, paris).UTC(), false},
		// Saturday night wraps into Sunday, across the end of the week.
		{"saturday night into sunday", Window{Days: days("sat"), From: hm(20, 0), To: hm(2, 0)}, utc(3, 30, 1, 0), true},
		{"sunday night is not saturday's", Window{Days: days("sun"), From: hm(20, 0), To: hm(2, 0)}, utc(3, 29, 1, 0), false},
	}
	for _, tt := range tests {
		if got := tt.w.Contains(tt.t); got != tt.want {
			t.Errorf("%s: Contains(%v) = %v, want %v", tt.name, tt.t, got, tt.want)
		}
	}
}

// TestWindowAgainstWeek checks Contains against a plain reading of the
// rule over every minute of a week, for many windows: t is in when some
// allowed day d has d+From <= t < d+To, with To a day later when the
// interval wraps (From >= To).
func TestWindowAgainstWeek(t *testing.T) {
	const week = 7 * 1440
	sunday := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC) // a Sunday
	clocks := []int{0, 1, 359, 360, 720, 1139, 1320, 1439, 1440}
	for _, d := range []Days{1, 0b0100000, 0b1000000, 0b0111110, 0b1000001, 0b1010101, AllDays} {
		for _, from := range clocks[:len(clocks)-1] {
			for _, to := range clocks {
				w := Window{Days: d, From: from, To: to}
				for m := 0; m < week; m += 7 {
					at := sunday.Add(time.Duration(m) * time.Minute)
					want := false
					for day := range 7 {
						if !d.Has(time.Weekday(day)) {
							continue
						}
						end := to
						if from >= to {
							end += 1440
						}
						start := day*1440 + from
						rel := ((m-start)%week + week) % week
						if rel < end-from {
							want = true
						}
					}
					if got := w.Contains(at); got != want {
						t.Fatalf("%+v at %v: %v, want %v", w, at.Format("Mon 15:04"), got, want)
					}
				}
			}
		}
	}
}
