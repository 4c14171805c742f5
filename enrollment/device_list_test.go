package enrollment

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// fleet writes n devices with varied hostnames, platforms, trust,
// compliance and times (several share a last_seen, to exercise the id
// tie-break), in batches of 1,000 per store write.
func fleet(t testing.TB, st *store.Store, n int) {
	t.Helper()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	platforms := []string{"macos", "windows", "linux", "ios", "android"}
	depts := []string{"Sales", "Finance", "Engineering", "Support"}
	var ops []store.Op
	for i := range n {
		d := &store.Device{ID: fmt.Sprintf("dev_%06d", (i*7919)%n), Hostname: fmt.Sprintf("Host-%05d", (i*31)%n),
			Serial: fmt.Sprintf("SN%06d", i), OwnerEmail: fmt.Sprintf("user%d@example.com", i%500), Platform: platforms[i%len(platforms)],
			Department: depts[i%len(depts)], State: store.DeviceActive, Ownership: store.OwnershipCorporate, Trust: store.Trust(i % 4),
			Compliant: i%3 != 0, EnrolledAt: base.Add(time.Duration(i) * time.Minute), LastSeen: base.Add(time.Duration(i/3) * time.Hour)}
		if !d.Compliant {
			d.FailingChecks = []string{"disk_encryption"}
		}
		ops = append(ops, store.Put(d))
		if len(ops) == 1000 || i == n-1 {
			if err := st.Write(context.Background(), ops...); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
}

// TestListDevicesPagesEveryDeviceOnce pages with every sort and checks
// each device comes exactly once, in order, even with devices enrolled
// between pages.
func TestListDevicesPagesEveryDeviceOnce(t *testing.T) {
	e := newEnv(t, nil)
	fleet(t, e.st, 60)
	for _, order := range []string{"", "last_seen", "hostname", "-hostname", "enrolled_at", "-enrolled_at"} {
		t.Run(order, func(t *testing.T) {
			want := map[string]bool{}
			for _, d := range e.st.Devices() {
				want[d.ID] = true
			}
			var got []*store.Device
			cursor := ""
			for page := 0; ; page++ {
				devs, next, err := e.svc.ListDevices(DeviceList{Sort: order, Cursor: cursor, Limit: 7})
				if err != nil {
					t.Fatal(err)
				}
				if len(devs) > 7 {
					t.Fatalf("page of %d", len(devs))
				}
				got = append(got, devs...)
				if page == 1 {
					// One device sorting first and one sorting last.
					early := &store.Device{ID: "dev_new_" + order + "_a", Hostname: "aaa", LastSeen: time.Unix(1, 0), EnrolledAt: time.Unix(1, 0)}
					late := &store.Device{ID: "dev_new_" + order + "_z", Hostname: "zzz", LastSeen: time.Unix(4e9, 0), EnrolledAt: time.Unix(4e9, 0)}
					if err := e.st.Write(context.Background(), store.Put(early), store.Put(late)); err != nil {
						t.Fatal(err)
					}
				}
				if next == "" {
					break
				}
				cursor = next
			}
			seen := map[string]bool{}
			for _, d := range got {
				if seen[d.ID] {
					t.Fatalf("%s listed twice", d.ID)
				}
				seen[d.ID] = true
			}
			for id := range want {
				if !seen[id] {
					t.Errorf("%s never listed", id)
				}
			}
			o := order
			if o == "" {
				o = DefaultDeviceSort
			}
			desc, key := o[0] == '-', o
			if desc {
				key = o[1:]
			}
			if !sort.SliceIsSorted(got, func(i, j int) bool {
				a, b := entry(got[i], key), entry(got[j], key)
				if desc {
					return b.before(a)
				}
				return a.before(b)
			}) {
				t.Errorf("pages not in %s order", o)
			}
		})
	}
}

func TestListDevicesRefusesForeignCursor(t *testing.T) {
	e := newEnv(t, nil)
	fleet(t, e.st, 10)
	_, next, err := e.svc.ListDevices(DeviceList{Sort: "hostname", Limit: 3})
	if err != nil || next == "" {
		t.Fatalf("next %q, err %v", next, err)
	}
	for _, c := range []string{"x!", "bm9wZQ", next[:len(next)-2]} {
		if _, _, err := e.svc.ListDevices(DeviceList{Sort: "hostname", Cursor: c, Limit: 3}); err != ErrBadCursor {
			t.Errorf("cursor %q: %v", c, err)
		}
	}
	if _, _, err := e.svc.ListDevices(DeviceList{Sort: "-last_seen", Cursor: next, Limit: 3}); err != ErrBadCursor {
		t.Errorf("cursor of another sort: %v", err)
	}
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, q string
		want bool
	}{{"Ada-MacBook", "macb", true}, {"ada", "ada", true}, {"ad", "ada", false}, {"ÉLISE-PC", "élise", true}, {"x", "", true}, {"abc", "abd", false}} {
		if got := containsFold(c.s, c.q); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.q, got)
		}
	}
}

// BenchmarkListDevicesFirstPage is the devices page's first request over
// 100,000 devices: a search, a filter and the default sort, 100 devices.
func BenchmarkListDevicesFirstPage(b *testing.B) {
	e := newEnv(b, nil)
	fleet(b, e.st, 100_000)
	compliant := true
	for _, c := range []struct {
		name string
		l    DeviceList
	}{
		{"all", DeviceList{Limit: 100}},
		{"search+filter+sort", DeviceList{Filter: DeviceFilter{Query: "host-1", Platform: "macos", Compliant: &compliant}, Sort: "hostname", Limit: 100}},
		{"owner-search", DeviceList{Filter: DeviceFilter{Query: "USER42@"}, Sort: "-enrolled_at", Limit: 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				devs, _, err := e.svc.ListDevices(c.l)
				if err != nil || len(devs) == 0 {
					b.Fatalf("%d devices, %v", len(devs), err)
				}
			}
		})
	}
}
