package console

import (
	"context"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// TestMyDevicesPage is the employee's view: signed in, they see their own
// devices (not a colleague's) and for each what the organization collects,
// in French when their browser prefers it; signed out, they are sent to
// sign in first.
func TestMyDevicesPage(t *testing.T) {
	e := newEnv(t)
	_, eng := e.withEnrollment(t)
	e.addUser(t, "ada@example.com", pw, false)
	now := e.clock.Now()
	if err := e.st.Write(context.Background(),
		store.Put(&store.Device{ID: "dev_laptop", Name: "ADA-LAPTOP", Platform: "linux", Ownership: store.OwnershipCorporate,
			OwnerEmail: "ada@example.com", State: store.DeviceActive, Trust: store.TrustHigh, Compliant: true, EnrolledAt: now, LastSeen: now}),
		store.Put(&store.Device{ID: "dev_phone", Name: "Ada's phone", Platform: "android", Ownership: store.OwnershipBYOD, WorkProfile: true,
			OwnerEmail: "ada@example.com", State: store.DeviceActive, Trust: store.TrustLow, FailingChecks: []string{"screen_lock"},
			EnrolledAt: now.Add(-time.Hour)}),
		store.Put(&store.Device{ID: "dev_bob", Name: "BOB-LAPTOP", Platform: "macos", Ownership: store.OwnershipCorporate,
			OwnerEmail: "bob@example.com", State: store.DeviceActive, EnrolledAt: now}),
	); err != nil {
		t.Fatal(err)
	}

	b := e.browser(t)
	if p := b.get(extURL + "/my/devices"); p.StatusCode != http.StatusFound || !strings.HasPrefix(p.Header.Get("Location"), "/auth/sign_in?rd=%2Fmy%2Fdevices") {
		t.Fatalf("signed out: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	b.signInPassword("ada@example.com", pw, "/my/devices")
	if home := b.get(extURL + "/auth/security_keys"); !strings.Contains(home.body, `href="/my/devices"`) {
		t.Error("the signed-in home does not link to the devices page")
	}
	p := b.get(extURL + "/my/devices")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.Header.Get("Content-Security-Policy"), "default-src 'none'") || p.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("page: %d %v", p.StatusCode, p.Header)
	}
	for _, want := range []string{"ADA-LAPTOP", "Ada&#39;s phone", "work profile only", "not compliant: screen_lock",
		eng.Privacy(mustDevice(t, e.st, "dev_laptop")).Title, "What is never collected"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page lacks %q:\n%s", want, p.body)
		}
	}
	// The BYOD work profile's notice says apps are not inventoried; the
	// corporate laptop's does not need to.
	phone := eng.Privacy(mustDevice(t, e.st, "dev_phone"))
	if len(phone.NotCollected) == 0 || !strings.Contains(p.body, htmlText(phone.NotCollected[0])) {
		t.Errorf("the phone's notice is not shown in full: want %q", phone.NotCollected)
	}
	if strings.Contains(p.body, "BOB-LAPTOP") {
		t.Error("a colleague's device is shown")
	}

	req, _ := http.NewRequest("GET", extURL+"/my/devices", nil)
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9,en;q=0.5")
	fr := b.do(req)
	frTitle := eng.PrivacyIn(mustDevice(t, e.st, "dev_laptop"), "fr").Title
	if !strings.Contains(fr.body, `lang="fr"`) || !strings.Contains(fr.body, "Vos appareils") || !strings.Contains(fr.body, htmlText(frTitle)) {
		t.Errorf("French page lacks its title or the French notice %q:\n%s", frTitle, fr.body)
	}
}

func mustDevice(t *testing.T, st *store.Store, id string) *store.Device {
	t.Helper()
	d, ok := st.Device(id)
	if !ok {
		t.Fatalf("no device %s", id)
	}
	return d
}

// htmlText is s as html/template writes it in text.
func htmlText(s string) string { return template.HTMLEscapeString(s) }

// withEnrollment serves the console with the device registry too (a real
// CA, enrollment service and posture engine on the env's store), as serve
// wires it.
func (e *env) withEnrollment(t *testing.T) (*enrollment.Service, *posture.Engine) {
	t.Helper()
	c, err := ca.New(context.Background(), ca.Options{Store: e.st, Keys: &ca.FileKeyStore{Dir: filepath.Join(t.TempDir(), "ca")}, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	svc, err := enrollment.New(enrollment.Options{Store: e.st, CA: c, Clock: e.clock.Now, ExternalURL: extURL})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := posture.New(posture.Options{Store: e.st, Clock: e.clock.Now, Actions: svc})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetPosture(eng)
	e.srv.Config.Handler = New(Options{Store: e.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: e.clock.Now,
		ExternalURL: extURL, Roots: http.NotFoundHandler(), CRL: http.NotFoundHandler(),
		Ready: func(context.Context) error { return nil }, Identity: e.id, Enrollment: svc})
	return svc, eng
}
