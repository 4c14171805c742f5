package proxy

import (
	"net/netip"
	"strings"
	"time"

	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
)

// ReplayInput rebuilds the policy input of a recorded decision, for the
// impact replay: the request time is the record's first request, each age
// is its bucket's upper bound (store.AgeOf), the path is the recorded
// (possibly shortened) path.
func ReplayInput(r *store.DecisionRecord) policy.Input {
	f := &r.Facts
	now := r.First
	in := policy.Input{Authenticated: true, UserID: r.UserID, Email: r.User, Groups: f.Groups, IdP: f.IdP,
		Country: f.Country, Now: now, Method: f.Method, Path: f.Path}
	in.MFAAt = before(now, f.MFAAge)
	in.SignedInAt = before(now, f.SessionAge)
	trust, err := store.ParseTrust(f.Trust)
	if err != nil {
		trust = store.TrustUntrusted
	}
	own, err := store.ParseOwnership(f.Ownership)
	if err != nil {
		own = store.OwnershipUnmanaged
	}
	in.Device = policy.Device{ID: r.Device, Trust: trust, Ownership: own, Platform: f.Platform, Compliant: f.Compliant,
		Managed: f.Managed, PassingChecks: f.Checks, LastSeen: before(now, f.SeenAge), Key: f.Key, KeySource: f.KeySource}
	if ip, err := netip.ParseAddr(f.IP); err == nil {
		in.IP = ip
	}
	if in.Method == "" {
		in.Method = "GET"
	}
	if !strings.HasPrefix(in.Path, "/") {
		in.Path = "/" + in.Path
	}
	return in
}

// before is now minus a bucket's age; zero for "never".
func before(now time.Time, bucket string) time.Time {
	d, ok := store.AgeOf(bucket)
	if !ok {
		return time.Time{}
	}
	return now.Add(-d)
}
