package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

// Traffic describes synthetic recorded access for benchmarks: Users
// people, each with one device, who on each weekday of Days visit
// RoutesPerDay of Routes routes (https://app<N>.example.com), each in one
// hour of the working day. Every tenth person is a contractor (group
// contractors, not staff), every fifth device is personal (byod), and
// device trust cycles through high, medium and low.
type Traffic struct {
	Users, Routes, Days, RoutesPerDay int
	Start                             time.Time // midnight UTC of the first day
}

// TrafficRoute is the route name of route n in synthetic traffic.
func TrafficRoute(n int) string { return fmt.Sprintf("https://app%d.example.com", n) }

// GenerateDecisions appends tr's records to dl in batches of batch, and
// returns how many it wrote.
func GenerateDecisions(ctx context.Context, dl store.DecisionLog, tr Traffic, batch int) (int, error) {
	trusts := []string{"high", "medium", "low"}
	n := 0
	buf := make([]*store.DecisionRecord, 0, batch)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := dl.AppendDecisions(ctx, buf)
		n += len(buf)
		buf = buf[:0]
		return err
	}
	for day := range tr.Days {
		date := tr.Start.AddDate(0, 0, day)
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for u := range tr.Users {
			groups, own := []string{"staff"}, "corporate"
			if u%10 == 0 {
				groups = []string{"contractors"}
			}
			if u%5 == 0 {
				own = "byod"
			}
			for k := range tr.RoutesPerDay {
				route := (u*7 + k*13 + day) % tr.Routes
				at := date.Add(time.Duration(9+(u+k)%8)*time.Hour + time.Duration(u%60)*time.Minute)
				r := &store.DecisionRecord{First: at, Last: at.Add(time.Duration(u%50) * time.Second), Count: uint64(1 + u%20),
					Route: TrafficRoute(route), Policy: "staff", UserID: fmt.Sprintf("u%05d", u), User: fmt.Sprintf("user%05d@example.com", u),
					Device: fmt.Sprintf("dev_%05d", u), Outcome: "allow", Rules: []string{"staff/allow"}, Reasons: []store.DecisionReason{},
					Facts: store.DecisionFacts{Groups: groups, IdP: "corp", MFAAge: "8h0m0s", SessionAge: "8h0m0s", Trust: trusts[u%3],
						Ownership: own, Platform: "macos", Compliant: u%3 != 2, Managed: true, Checks: []string{"disk_encrypted"},
						SeenAge: "1h0m0s", IP: fmt.Sprintf("10.%d.%d.%d", u>>16&255, u>>8&255, u&255), Country: "FR", Method: "GET", Path: "/"}}
				if u%3 == 2 || u%10 == 0 {
					r.Outcome, r.Rules = "deny", []string{}
					r.Reasons = []store.DecisionReason{{Code: "device.trust", Message: "This device's trust level is low.", Remediation: "Open the Portier agent.", Rule: "staff/allow"}}
				}
				store.RecordTimes(r)
				buf = append(buf, r)
				if len(buf) == batch {
					if err := flush(); err != nil {
						return n, err
					}
				}
			}
		}
	}
	return n, flush()
}
