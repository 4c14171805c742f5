package posture

import (
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/confyaml"
)

// Hours is a weekly working-hours window: weekdays and a wall-clock
// interval [From, To) in minutes after midnight, read in the device's time
// zone. When From > To the window wraps past midnight and belongs to the
// day it starts on (a night shift).
type Hours struct {
	Days     uint8 // bit i set = time.Weekday(i) is a working day
	From, To int
}

// Contains reports whether t (already in the device's zone) is within the
// window, as confyaml.Window reads it.
func (h Hours) Contains(t time.Time) bool {
	w := confyaml.Window{Days: confyaml.Days(h.Days), From: h.From, To: h.To}
	return w.Contains(t)
}

// String renders the window as "mon-fri 08:00-19:00".
func (h Hours) String() string {
	return h.DaysString() + " " + clock(h.From) + "-" + clock(h.To)
}

// DaysString renders the days, collapsing runs: "mon-fri", "mon,wed,fri".
func (h Hours) DaysString() string {
	var parts []string
	order := [...]time.Weekday{1, 2, 3, 4, 5, 6, 0} // Monday first
	for i := 0; i < len(order); {
		if h.Days&(1<<order[i]) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < len(order) && h.Days&(1<<order[j+1]) != 0 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, confyaml.DayName(order[i])+"-"+confyaml.DayName(order[j]))
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, confyaml.DayName(order[k]))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// parseDays reads "mon", "monday" or a range "mon-fri".
func parseDays(s string) (uint8, error) {
	d, err := confyaml.ParseDays(s)
	return uint8(d), err
}

// parseClock reads "HH:MM"; "24:00" is allowed as an end.
func parseClock(s string) (int, error) {
	var h, m int
	digit := func(b byte) bool { return b >= '0' && b <= '9' }
	if len(s) != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4]) {
		return 0, fmt.Errorf("time %q must be HH:MM, such as 08:00", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time %q must be HH:MM between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}
