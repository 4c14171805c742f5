package policy

import (
	"testing"
	"time"
)

func TestTimeWindows(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	ny, _ := time.LoadLocation("America/New_York")
	at := func(loc *time.Location, y int, mo time.Month, d, h, mi int) time.Time {
		return time.Date(y, mo, d, h, mi, 0, 0, loc)
	}
	utc := func(y int, mo time.Month, d, h, mi int) time.Time { return at(time.UTC, y, mo, d, h, mi) }
	const office = `{weekdays: [mon-fri], from: "08:00", to: "19:00", tz: Europe/Paris}`
	const friNight = `{weekdays: [fri], from: "22:00", to: "06:00", tz: Europe/Paris}`
	const nights = `{from: "22:00", to: "06:00", tz: America/New_York}`
	tests := []struct {
		name   string
		window string
		now    time.Time
		want   bool
	}{
		// 2025-03-28 is a Friday in CET (UTC+1); 2025-03-31 a Monday in CEST (UTC+2).
		{"before DST 07:30 UTC is 08:30 Paris", office, utc(2025, 3, 28, 7, 30), true},
		{"before DST 06:30 UTC is 07:30 Paris", office, utc(2025, 3, 28, 6, 30), false},
		{"after DST 06:30 UTC is 08:30 Paris", office, utc(2025, 3, 31, 6, 30), true},
		{"after DST 17:30 UTC is 19:30 Paris", office, utc(2025, 3, 31, 17, 30), false},
		{"after DST 16:59 UTC is 18:59 Paris", office, utc(2025, 3, 31, 16, 59), true},
		{"saturday in Paris", office, utc(2025, 3, 29, 10, 0), false},
		{"sunday 23:30 UTC is monday 01:30 Paris, too early", office, utc(2025, 3, 30, 23, 30), false},
		{"monday 00:30 Paris is sunday in UTC", `{weekdays: [mon], tz: Europe/Paris}`, utc(2025, 3, 30, 22, 30), true},
		{"to is exclusive", office, at(paris, 2025, 3, 31, 19, 0), false},
		{"from is inclusive", office, at(paris, 2025, 3, 31, 8, 0), true},
		// Past midnight: the early hours belong to the day the window starts.
		{"friday 23:00", friNight, at(paris, 2025, 3, 28, 23, 0), true},
		{"saturday 05:59 is friday's night", friNight, at(paris, 2025, 3, 29, 5, 59), true},
		{"saturday 06:00 is over", friNight, at(paris, 2025, 3, 29, 6, 0), false},
		{"saturday 23:00 is not friday", friNight, at(paris, 2025, 3, 29, 23, 0), false},
		{"friday 05:00 is thursday's night", friNight, at(paris, 2025, 3, 28, 5, 0), false},
		{"friday noon", friNight, at(paris, 2025, 3, 28, 12, 0), false},
		// Across midnight and a DST change at once: New York falls back on
		// 2025-11-02 at 02:00 EDT, so 01:30 happens twice; both are in.
		{"first 01:30 EDT", nights, time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC), true},
		{"second 01:30 EST", nights, time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC), true},
		{"06:00 EST is over", nights, time.Date(2025, 11, 2, 11, 0, 0, 0, time.UTC), false},
		{"22:00 EST starts", nights, at(ny, 2025, 11, 2, 22, 0), true},
		// Spring forward: 02:00-03:00 does not exist; 03:00 EDT is in the window.
		{"spring forward 03:00 EDT", `{from: "01:00", to: "04:00", tz: America/New_York}`, time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC), true},
		{"to 24:00", `{from: "23:00", to: "24:00"}`, utc(2025, 3, 28, 23, 59), true},
		{"to 24:00 excludes midnight", `{from: "23:00", to: "24:00"}`, utc(2025, 3, 29, 0, 0), false},
		{"wrap, to midnight", `{from: "22:00", to: "00:00"}`, utc(2025, 3, 29, 0, 0), false},
		{"weekdays wrap range", `{weekdays: fri-mon}`, utc(2025, 3, 30, 12, 0), true},
		{"weekdays wrap range, tuesday", `{weekdays: fri-mon}`, utc(2025, 4, 1, 12, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "  - id: p\n    allow: {time: "+tt.window+"}\n")["p"]
			in := with(func(in *Input) { in.Now = tt.now })
			if got := p.Evaluate(&in).Outcome == Allow; got != tt.want {
				t.Fatalf("at %v (%v): allowed=%v, want %v", tt.now, tt.now.UTC(), got, tt.want)
			}
		})
	}
}

func TestDescribeWindow(t *testing.T) {
	tests := []struct {
		days string
		want string
	}{
		{"[mon-fri]", "Mon-Fri"},
		{"[sat, sun]", "Sat-Sun"},
		{"[mon, wed]", "Mon, Wed"},
		{"[sunday]", "Sun"},
		{"fri-mon", "Mon, Fri-Sun"},
	}
	for _, tt := range tests {
		p := mustParse(t, "  - id: p\n    allow: {time: {weekdays: "+tt.days+`, from: "22:00", to: "06:00"}}`+"\n")["p"]
		got := p.allow[0].body.leaf.win.describe()
		if want := tt.want + " 22:00-06:00 (UTC)"; got != want {
			t.Errorf("%s: %q, want %q", tt.days, got, want)
		}
	}
}
