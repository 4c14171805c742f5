package e2e

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity/identitytest"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestSelfServiceEnrollmentBurstIsRefused (issue 9 item 5): a signed-in
// employee scripting POST /enroll used to get a new code every time (3,000
// in 18 s), each a stored record. Now the burst is refused with 429 and
// Retry-After once the user holds MaxOpenSelfServiceCodes open codes, and
// the store holds no more than that.
func TestSelfServiceEnrollmentBurstIsRefused(t *testing.T) {
	w := newWorld(t)
	w.idp.QueueUser(identitytest.NewUser("sub-eve", "eve@example.com", "staff"))
	b := w.browser(nil)
	resp, body := get(t, b, "GET", w.url("localhost", "/auth/sign_in?idp=mock&rd="+url.QueryEscape("/enroll")))
	m := csrfField.FindStringSubmatch(body)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/enroll" || m == nil {
		t.Fatalf("signed-in enrollment page: %d %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	form := url.Values{"csrf": {m[1]}, "ownership": {"corporate"}}
	var ok, limited int
	for i := range 40 {
		req, _ := http.NewRequest("POST", w.url("localhost", "/enroll"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
			if limited > 0 {
				t.Fatalf("request %d got a code after being refused", i+1)
			}
		case http.StatusTooManyRequests:
			limited++
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("429 without a usable Retry-After: %q", resp.Header.Get("Retry-After"))
			}
			if !strings.Contains(string(page), "enrollment codes") {
				t.Errorf("429 page does not say why:\n%s", page)
			}
		default:
			t.Fatalf("request %d: %d\n%s", i+1, resp.StatusCode, page)
		}
	}
	if ok != enrollment.MaxOpenSelfServiceCodes || limited != 40-ok {
		t.Errorf("%d codes issued and %d refused, want %d issued", ok, limited, enrollment.MaxOpenSelfServiceCodes)
	}
	n := 0
	for _, c := range w.srv.Store().EnrollCodes() {
		if c.UserEmail == "eve@example.com" {
			n++
		}
	}
	if n != enrollment.MaxOpenSelfServiceCodes {
		t.Errorf("the store holds %d codes for the user, want %d", n, enrollment.MaxOpenSelfServiceCodes)
	}
}
