package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// TestWhatIfPage: the what-if page starts from a real person's groups and
// one of their devices, and answers through the live simulator: allowed
// with their medium-trust laptop, denied (with the failing condition)
// without a device. An employee gets the 403 page.
func TestWhatIfPage(t *testing.T) {
	con, _ := authzConsole(t)
	now := time.Now()
	if err := con.opts.Store.Write(context.Background(),
		store.Put(&store.User{ID: "usr_ada", Email: "ada@example.com", Groups: []string{"staff", "eng"}, CreatedAt: now}),
		store.Put(&store.Device{ID: "dev_ada", Name: "ADA-LAPTOP", Platform: "linux", Ownership: store.OwnershipCorporate, OwnerEmail: "ada@example.com",
			State: store.DeviceActive, Trust: store.TrustMedium, Compliant: true, EnrolledAt: now}),
		store.Put(&store.Device{ID: "dev_bob", Name: "BOB", Platform: "linux", OwnerEmail: "bob@example.com", State: store.DeviceActive, EnrolledAt: now}),
	); err != nil {
		t.Fatal(err)
	}
	sec := pageSession(t, con, "sec", RoleSecurity, time.Minute)
	code, body := sec.callBody(con, "GET", "/whatif?user=ada@example.com&device=dev_ada", "")
	if code != http.StatusOK || !strings.Contains(body, `name="groups" value="staff,eng"`) || !strings.Contains(body, `<option value="medium" selected>`) ||
		!strings.Contains(body, `<option value="corporate" selected>`) || !strings.Contains(body, `<a href="/whatif" class="current"`) {
		t.Fatalf("pre-filled what-if = %d:\n%s", code, body)
	}
	// The picker lists the person's devices, the chosen one marked, and
	// no one else's.
	if !strings.Contains(body, `<strong><a href="/whatif?user=ada%40example.com&amp;device=dev_ada">ADA-LAPTOP</a>`) || strings.Contains(body, "dev_bob") {
		t.Errorf("device picker:\n%s", body)
	}
	if code, body := sec.callBody(con, "GET", "/whatif?user=bob@example.com", ""); code != http.StatusNotFound || strings.Contains(body, "BOB") {
		t.Errorf("a person without an account = %d", code)
	}
	if code, _ := sec.callBody(con, "GET", "/whatif?user=ada@example.com&device=dev_bob", ""); code != http.StatusNotFound {
		t.Errorf("another person's device: %d, want 404", code)
	}
	ask := url.Values{"route": {"https://wiki.localhost/page"}, "email": {"ada@example.com"}, "groups": {"staff,eng"}, "device_trust": {"medium"},
		"ownership": {"corporate"}, "platform": {"linux"}, "compliant": {"1"}}
	code, body = sec.postForm(con, "/whatif", ask)
	if code != http.StatusOK || !strings.Contains(body, `<span id="outcome">allow</span>`) {
		t.Errorf("with the laptop = %d:\n%s", code, body)
	}
	ask.Set("device_trust", "")
	code, body = sec.postForm(con, "/whatif", ask)
	if code != http.StatusOK || !strings.Contains(body, `<span id="outcome">deny</span>`) || !strings.Contains(body, `class="reasons"`) {
		t.Errorf("without a device = %d:\n%s", code, body)
	}
	ask.Set("at", "yesterday")
	if code, body = sec.postForm(con, "/whatif", ask); code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="whatif-error"`) || !strings.Contains(body, "at: ") {
		t.Errorf("a bad time = %d:\n%s", code, body)
	}
	// Helpdesk explains denials with it; an employee may not use it.
	if code, _ := pageSession(t, con, "helpdesk", RoleHelpdesk, 0).callBody(con, "GET", "/whatif", ""); code != http.StatusOK {
		t.Errorf("helpdesk = %d, want 200", code)
	}
	if code, body := pageSession(t, con, "employee", "", 0).callBody(con, "GET", "/whatif", ""); code != http.StatusForbidden || !strings.Contains(body, "Not allowed") {
		t.Errorf("employee = %d:\n%s", code, body)
	}
}
