package enrollment

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

var bea = Actor{ID: "user:bea@example.com", RemoteIP: "198.51.100.9"}

// registerBrowser runs what the console does for "Register this browser":
// start, then write the device's ops (the passkey's write is identity's).
func (e *env) registerBrowser(t *testing.T, a Actor, email, platform string) (*store.Device, error) {
	t.Helper()
	ctx := context.Background()
	id, err := e.svc.StartBrowserDevice(ctx, a, email)
	if err != nil {
		return nil, err
	}
	ops, d, err := e.svc.BrowserDeviceOps(a, email, BrowserDevice{ID: id, Platform: platform, Credential: "cred-" + id,
		AAGUID: []byte{0xad, 0xce, 0, 2, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03}})
	if err != nil {
		return nil, err
	}
	if err := e.st.Write(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	e.svc.Recompute(ctx, d.ID)
	got, _ := e.st.Device(d.ID)
	return got, nil
}

// TestBrowserDeviceRecord: the record is a personal work-profile device of
// the signed-in person, active, with the browser's platform; the posture
// engine gives it no trust (no agent posture: never checked in); the
// enrollment is in the device's history and the audit log, naming the
// person, the passkey and the authenticator model.
func TestBrowserDeviceRecord(t *testing.T) {
	e := newEnv(t, nil)
	d, err := e.registerBrowser(t, bea, "bea@example.com", "android")
	if err != nil {
		t.Fatal(err)
	}
	if d.Ownership != store.OwnershipBYOD || !d.WorkProfile || d.OwnerEmail != "bea@example.com" || d.State != store.DeviceActive ||
		d.Platform != "android" || d.Name != "Browser on Android" || d.CertSerial != "" || d.OwnershipSource != store.OwnershipBySelfService {
		t.Fatalf("device = %+v", d)
	}
	// No compliance policy applies to Android here: the trust table's
	// "no compliance policy" row, low.
	if d.Trust != store.TrustLow {
		t.Errorf("trust = %s, want low (no compliance policy applies)", d.Trust)
	}
	var enrolled bool
	for _, ev := range e.st.DeviceEvents(d.ID) {
		enrolled = enrolled || ev.Type == "enrolled"
	}
	if !enrolled {
		t.Error("no enrolled event in the device's history")
	}
	var audited bool
	for _, ev := range e.st.Audit() {
		if ev.Action == "device.enroll" && ev.Target == d.ID {
			audited = true
			if ev.Actor != bea.ID || ev.RemoteIP != bea.RemoteIP || ev.Detail["method"] != MethodBrowserPasskey ||
				ev.Detail["credential"] != "cred-"+d.ID || ev.Detail["authenticator"] != "adce0002-35bc-c60a-648b-0b25f1f05503" {
				t.Errorf("audit event = %+v", ev)
			}
		}
	}
	if !audited {
		t.Error("the enrollment was not audited")
	}
}

// TestBrowserDeviceLimits: at most MaxBrowserDevices active browser
// devices per person (retiring one frees a place; agent devices and other
// people's do not count); at most browserPerUser registrations started per
// hour whatever happens to the devices.
func TestBrowserDeviceLimits(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var first *store.Device
	for i := range MaxBrowserDevices {
		d, err := e.registerBrowser(t, bea, "bea@example.com", "ios")
		if err != nil {
			t.Fatalf("device %d: %v", i+1, err)
		}
		if first == nil {
			first = d
		}
	}
	if _, err := e.registerBrowser(t, bea, "bea@example.com", "ios"); apperr.Status(err) != http.StatusConflict {
		t.Fatalf("device %d: err = %v, want 409", MaxBrowserDevices+1, err)
	}
	// A start that raced past the check is still refused at the write.
	if _, _, err := e.svc.BrowserDeviceOps(bea, "bea@example.com", BrowserDevice{ID: "dev_x"}); apperr.Status(err) != http.StatusConflict {
		t.Fatalf("ops past the limit: err = %v, want 409", err)
	}
	if _, err := e.registerBrowser(t, Actor{ID: "user:cy@example.com", RemoteIP: "198.51.100.10"}, "cy@example.com", ""); err != nil {
		t.Fatalf("another person: %v", err)
	}
	if _, err := e.svc.Retire(ctx, admin, first.ID, "lost"); err != nil {
		t.Fatal(err)
	}
	for i := MaxBrowserDevices; i < browserPerUser.Max; i++ {
		if i > MaxBrowserDevices {
			// Free a place so only the rate limit can refuse.
			for _, d := range e.st.Devices() {
				if d.OwnerEmail == "bea@example.com" && d.State == store.DeviceActive {
					if _, err := e.svc.Retire(ctx, admin, d.ID, "test"); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
		}
		if _, err := e.registerBrowser(t, bea, "bea@example.com", "ios"); err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	for _, d := range e.st.Devices() {
		if d.OwnerEmail == "bea@example.com" && d.State == store.DeviceActive {
			if _, err := e.svc.Retire(ctx, admin, d.ID, "test"); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_, err := e.registerBrowser(t, bea, "bea@example.com", "ios")
	wantLimited(t, err, "per-user limit")
	e.clock.Advance(browserPerUser.Window)
	if _, err := e.registerBrowser(t, bea, "bea@example.com", "ios"); err != nil {
		t.Fatalf("next window: %v", err)
	}
	if _, err := e.svc.StartBrowserDevice(ctx, bea, ""); apperr.Status(err) != http.StatusForbidden {
		t.Errorf("no signed-in person: err = %v, want 403", err)
	}
}

func TestBrowserPlatform(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36", "android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "ios"},
		{"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15", "ios"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0", "windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15", "macos"},
		{"Mozilla/5.0 (X11; CrOS x86_64 15633.69.0) AppleWebKit/537.36 Chrome/124.0", "chromeos"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0", "linux"},
		{"curl/8.5.0", ""},
		{"", ""},
	} {
		if got := BrowserPlatform(tc.ua); got != tc.want {
			t.Errorf("BrowserPlatform(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
	if !MobilePlatform("android") || !MobilePlatform("ios") || MobilePlatform("linux") || MobilePlatform("") {
		t.Error("MobilePlatform")
	}
}

// FuzzBrowserPlatform: any User-Agent gives a known platform or "".
func FuzzBrowserPlatform(f *testing.F) {
	f.Add("Mozilla/5.0 (Linux; Android 14)")
	f.Add("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)")
	f.Fuzz(func(t *testing.T, ua string) {
		p := BrowserPlatform(ua)
		if _, ok := platformNames[p]; p != "" && !ok {
			t.Fatalf("BrowserPlatform(%q) = %q, not a known platform", ua, p)
		}
	})
}

// TestBrowserDeviceTrustUnderCompliance: where a compliance policy applies
// to the platform, a browser device has no posture to pass its checks: it
// is non-compliant, low within the grace period, then what the policy's
// escalation says; it never earns medium.
func TestBrowserDeviceTrustUnderCompliance(t *testing.T) {
	e := newEnv(t, nil)
	c, err := config.Parse("test.yaml", []byte("compliance:\n  - id: phones\n    platforms: [android]\n    checks: {no_root: true}\n    grace: 24h\n"))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := posture.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	e.eng.SetConfig(pc)
	d, err := e.registerBrowser(t, bea, "bea@example.com", "android")
	if err != nil {
		t.Fatal(err)
	}
	if d.Compliant || d.Trust != store.TrustLow {
		t.Fatalf("new browser device under a policy: compliant %v, trust %s; want non-compliant, low", d.Compliant, d.Trust)
	}
	e.clock.Advance(25 * time.Hour)
	if err := e.eng.RecomputeAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, _ = e.st.Device(d.ID)
	if d.Trust > store.TrustLow {
		t.Fatalf("past the grace period: trust %s", d.Trust)
	}
	t.Logf("past the grace period: trust %s, step %q, failing %v", d.Trust, d.EscalationStep, d.FailingChecks)
}
