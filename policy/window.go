package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/confyaml"
)

// window is a compiled `time` criterion: weekdays and a wall-clock interval
// [From, To) in a time zone (Loc); its Contains is confyaml.Window's. When
// From > To the interval wraps past midnight and its early-morning part
// belongs to the previous day, so `weekdays: [fri], from: "22:00", to:
// "06:00"` covers Friday 22:00 to Saturday 06:00.
type window struct {
	confyaml.Window      // From and To stay zero (whole days) without clock
	clock           bool // from/to given
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

// describe renders the window for messages, e.g. "Mon-Fri 08:00-19:00 (Europe/Paris)".
func (w *window) describe() string {
	var parts []string
	if w.Days != confyaml.AllDays {
		parts = append(parts, describeDays(w.Days))
	}
	if w.clock {
		parts = append(parts, fmt.Sprintf("%02d:%02d-%02d:%02d", w.From/60, w.From%60, w.To/60, w.To%60))
	}
	return strings.Join(parts, " ") + " (" + w.Loc.String() + ")"
}

// describeDays renders a day set as runs, Monday first: "Mon-Fri", "Sat-Sun", "Mon, Wed".
func describeDays(days confyaml.Days) string {
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
		name := func(i int) string { n := confyaml.DayName(time.Weekday(i % 7)); return strings.ToUpper(n[:1]) + n[1:] }
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
