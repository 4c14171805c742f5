package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// TestDecisionsPage: the decision explorer page shows recorded access
// newest first with the reasons and the fix the deny page showed, filters
// by outcome, pages 50 at a time with the filters kept, refuses a bad
// filter naming it, and is the 403 page for the help desk.
func TestDecisionsPage(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	dl, err := e.st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	var recs []*store.DecisionRecord
	for i := range 60 {
		r := &store.DecisionRecord{Hour: hour.Add(-time.Duration(i) * time.Hour), Count: 1, Route: "https://wiki.localhost",
			Policy: "staff", User: "ann@example.com", Outcome: "allow", Rules: []string{"staff-any-device"}}
		r.First, r.Last = r.Hour, r.Hour
		recs = append(recs, r)
	}
	deny := &store.DecisionRecord{Hour: hour, First: hour, Last: hour, Count: 3, Route: "https://payroll.localhost", Policy: "managed",
		User: "bob@example.com", Outcome: "deny", Reasons: []store.DecisionReason{{Code: "device_unmanaged",
			Message: "This device is not enrolled.", Remediation: "Enroll this device at /enroll."}}}
	if err := dl.AppendDecisions(context.Background(), append(recs, deny)); err != nil {
		t.Fatal(err)
	}

	b := e.signedInAs(t, "sec@example.com", RoleSecurity)

	p := b.get(extURL + "/decisions?outcome=deny")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, "bob@example.com") || !strings.Contains(p.body, "Enroll this device at /enroll.") ||
		strings.Contains(p.body, "ann@example.com") || !strings.Contains(p.body, `href="/decisions"`) {
		t.Fatalf("deny filter: %d\n%s", p.StatusCode, p.body)
	}
	all := b.get(extURL + "/decisions?user=ann%40example.com")
	if n := strings.Count(all.body, `data-outcome="allow"`); all.StatusCode != http.StatusOK || n != 50 {
		t.Fatalf("first page: %d with %d rows", all.StatusCode, n)
	}
	i := strings.Index(all.body, `<a href="/decisions?`)
	if i < 0 {
		t.Fatalf("no next-page link:\n%s", all.body)
	}
	link := all.body[i+len(`<a href="`):]
	link = strings.ReplaceAll(link[:strings.IndexByte(link, '"')], "&amp;", "&")
	if !strings.Contains(link, "user=ann%40example.com") || !strings.Contains(link, "cursor=") {
		t.Fatalf("the next-page link lost the filter: %s", link)
	}
	if next := b.get(extURL + link); strings.Count(next.body, `data-outcome="allow"`) != 10 || strings.Contains(next.body, "Older decisions") {
		t.Fatalf("second page:\n%s", next.body)
	}
	if bad := b.get(extURL + "/decisions?outcome=maybe"); bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.body, "outcome") {
		t.Errorf("bad outcome: %d\n%s", bad.StatusCode, bad.body)
	}

	hb := e.signedInAs(t, "help@example.com", RoleHelpdesk)
	if p := hb.get(extURL + "/decisions"); p.StatusCode != http.StatusForbidden || strings.Contains(p.body, "bob@example.com") {
		t.Errorf("helpdesk: %d", p.StatusCode)
	}
}
