package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// TestBrowserDeviceRecheck: a browser's passkey proof of its BYOD device
// counts for DeviceRecheck; after it a navigation goes to the console's
// /auth/device to prove it again and come back, another request is
// decided as from no device, and a new proof counts again. The proof time
// is on the route session (copied from its console session), so every
// replica sees it.
func TestBrowserDeviceRecheck(t *testing.T) {
	e := newEnv(t, func(o *proxy.Options) { o.DeviceRecheck = 30 * time.Minute })
	cookie, s := e.session("fay@example.com", "staff")
	d := &store.Device{ID: "dev_phone", Ownership: store.OwnershipBYOD, State: store.DeviceActive, Trust: store.TrustMedium,
		WorkProfile: true, OwnerEmail: "fay@example.com"}
	prove := func() {
		t.Helper()
		// What identity's device check writes on the session family.
		now := e.clk.Now()
		var ops []store.Op
		for _, id := range []string{s.ParentID, s.ID} {
			cur, _ := e.st.Session(id)
			cp := *cur
			cp.DeviceID, cp.DeviceCheckedAt = d.ID, now
			ops = append(ops, store.Put(&cp))
		}
		if err := e.st.Write(context.Background(), append(ops, store.Put(d))...); err != nil {
			t.Fatal(err)
		}
	}
	counted := func(when string) {
		t.Helper()
		resp, _ := e.do(e.client(nil), "GET", "https://wiki.localhost/page", cookie, nil)
		if resp.StatusCode != 200 || e.got.last().Header.Get("X-Portier-Device") != d.ID {
			t.Fatalf("%s: navigation = %d, device %q", when, resp.StatusCode, e.got.last().Header.Get("X-Portier-Device"))
		}
	}
	prove()
	counted("just proven")
	e.clk.Advance(30 * time.Minute)
	counted("30 minutes later (the interval is inclusive)")

	e.clk.Advance(time.Minute)
	resp, _ := e.do(e.client(nil), "GET", "https://wiki.localhost/page?q=1", cookie, nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Host != "portier.localhost" || loc.Path != "/auth/device" ||
		!strings.HasPrefix(loc.Query().Get("rd"), "https://wiki.localhost/page?q=1") {
		t.Fatalf("navigation past the interval = %d %q, want a redirect to the console's device check and back", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := e.do(e.client(nil), "GET", "https://wiki.localhost/api/items", cookie, map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not confirmed its device") {
		t.Fatalf("XHR past the interval = %d %q, want decided as from no device (denied)", resp.StatusCode, body)
	}
	resp, _ = e.do(e.client(nil), "POST", "https://wiki.localhost/form", cookie, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST past the interval = %d, want 403 (no device, no redirect)", resp.StatusCode)
	}

	prove()
	counted("proven again")
}

// TestBrowserDeviceRecheckNever: DeviceRecheck 0 never re-asks, and a
// device certificate is not subject to the passkey re-check.
func TestBrowserDeviceRecheckNever(t *testing.T) {
	e := newEnv(t)
	cookie, s := e.session("fay@example.com", "staff")
	d := &store.Device{ID: "dev_old", Ownership: store.OwnershipBYOD, State: store.DeviceActive, Trust: store.TrustMedium,
		WorkProfile: true, OwnerEmail: "fay@example.com"}
	bound := *s
	bound.DeviceID = d.ID // bound before proof times were recorded
	if err := e.st.Write(context.Background(), store.Put(d), store.Put(&bound)); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(50 * time.Minute)
	resp, _ := e.do(e.client(nil), "GET", "https://wiki.localhost/page", cookie, nil)
	if resp.StatusCode != 200 || e.got.last().Header.Get("X-Portier-Device") != d.ID {
		t.Fatalf("recheck off: %d %q", resp.StatusCode, e.got.last().Header.Get("X-Portier-Device"))
	}

	e2 := newEnv(t, func(o *proxy.Options) { o.DeviceRecheck = 30 * time.Minute })
	cookie, _ = e2.session("gus@example.com", "staff")
	cert := e2.device("dev_laptop", store.TrustMedium, store.OwnershipCorporate)
	e2.clk.Advance(50 * time.Minute)
	resp, _ = e2.do(e2.client(&cert), "GET", "https://wiki.localhost/page", cookie, nil)
	if resp.StatusCode != 200 || e2.got.last().Header.Get("X-Portier-Device") != "dev_laptop" {
		t.Fatalf("certificate device with a recheck interval: %d %q", resp.StatusCode, e2.got.last().Header.Get("X-Portier-Device"))
	}
}
