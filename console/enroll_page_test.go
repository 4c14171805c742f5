package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

func TestSelfServiceEnrollment(t *testing.T) {
	e := newEnv(t)
	e.withEnrollment(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	if p := b.get(extURL + "/enroll"); p.StatusCode != http.StatusFound || !strings.HasPrefix(p.Header.Get("Location"), "/auth/sign_in?rd=%2Fenroll") {
		t.Fatalf("signed out: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	b.signInPassword("ada@example.com", pw, "/enroll")
	p := b.get(extURL + "/enroll")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, "ada@example.com") || !strings.Contains(p.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("form: %d %s", p.StatusCode, p.body)
	}
	if bad := b.postForm(extURL+"/enroll", url.Values{"ownership": {"byod"}}); bad.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF token: %d %s", bad.StatusCode, bad.body)
	}
	got := b.postForm(extURL+"/enroll", url.Values{"csrf": {p.csrf(t)}, "ownership": {"byod"}})
	code := regexp.MustCompile(`[0-9A-Z]{5}(-[0-9A-Z]{5}){4}`).FindString(got.body)
	if got.StatusCode != http.StatusOK || code == "" || !strings.Contains(got.body, "--work-profile") || !strings.Contains(got.body, "<svg ") {
		t.Fatalf("code page: %d %s", got.StatusCode, got.body)
	}
	codes := e.st.EnrollCodes()
	if len(codes) != 1 || codes[0].UserEmail != "ada@example.com" || codes[0].Ownership != store.OwnershipBYOD ||
		codes[0].CreatedBy != "user:ada@example.com" || codes[0].MaxUses != 1 {
		t.Errorf("stored code = %+v", codes[0])
	}
	if bad := b.postForm(extURL+"/enroll", url.Values{"csrf": {p.csrf(t)}, "ownership": {"unmanaged"}}); bad.StatusCode != http.StatusBadRequest {
		t.Errorf("unmanaged ownership: %d", bad.StatusCode)
	}
}

// TestSelfServiceCompanyDeviceIsARequest: choosing a company device on the
// enrollment page says IT confirms it, and the code is the employee's own
// (the enrollment service grants byod unless the organization says more).
func TestSelfServiceCompanyDeviceIsARequest(t *testing.T) {
	e := newEnv(t)
	e.withEnrollment(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "/enroll")
	p := b.get(extURL + "/enroll")
	if !strings.Contains(p.body, "Company devices are confirmed by IT") {
		t.Errorf("form does not say IT confirms company devices:\n%s", p.body)
	}
	got := b.postForm(extURL+"/enroll", url.Values{"csrf": {p.csrf(t)}, "ownership": {"corporate"}})
	if got.StatusCode != http.StatusOK || !strings.Contains(got.body, "IT confirms that") || strings.Contains(got.body, "--work-profile") {
		t.Fatalf("code page: %d %s", got.StatusCode, got.body)
	}
	if codes := e.st.EnrollCodes(); len(codes) != 1 || codes[0].CreatedBy != "user:ada@example.com" {
		t.Errorf("stored code = %+v", codes)
	}
}
