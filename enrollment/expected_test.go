package enrollment

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

func TestParseExpectedCSV(t *testing.T) {
	f, err := os.Open("testdata/expected-good.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := ParseExpectedCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	if r := rows[3]; r.ID != "R58N-123" || r.Department != "Field, North" || r.Ownership != store.OwnershipCOPE ||
		strings.Join(r.Groups, "|") != "field|phones" || r.Platform != "android" {
		t.Errorf("row 4 = %+v", r)
	}
	if r := rows[2]; r.OwnerEmail != "" || r.Groups != nil || r.Ownership != store.OwnershipCorporate {
		t.Errorf("row 3 = %+v", r)
	}
}

func TestParseExpectedCSVReportsEveryBadLine(t *testing.T) {
	b, _ := os.ReadFile("testdata/expected-bad.csv")
	_, err := ParseExpectedCSV(strings.NewReader(string(b)))
	ae, ok := err.(*apperr.Error)
	if !ok || ae.Code != apperr.Invalid || ae.Field != "csv" {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"7 bad row(s)", "line 3: serial is required", "line 4: serial \"BAD SERIAL\"",
		"line 5: serial \"PF3ABC12\" is also on line 2", "line 6: platform \"beos\"", "line 7: owner_email",
		"line 8: ownership \"personal\"", "line 9: 7 fields, the header has 6"} {
		if !strings.Contains(ae.Msg, want) {
			t.Errorf("message lacks %q:\n%s", want, ae.Msg)
		}
	}
}

func TestParseExpectedCSVHeader(t *testing.T) {
	for csv, want := range map[string]string{
		"":                    "empty",
		"serial,model\nA,b\n": "lacks the column \"platform\"",
		"serial,model,platform,owner_email,department,ownership,color\n":           "unknown column \"color\"",
		"serial,serial,model,platform,owner_email,department,ownership\n":          "appears twice",
		"serial,model,platform,owner_email,department,ownership\n\"unterminated\n": "line",
	} {
		_, err := ParseExpectedCSV(strings.NewReader(csv))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", csv, err, want)
		}
	}
	// Columns in any order, a BOM, CRLF line ends.
	rows, err := ParseExpectedCSV(strings.NewReader("\ufeffownership,serial,department,owner_email,platform,model\r\ncope,ab-1,Ops,,linux,X1\r\n"))
	if err != nil || len(rows) != 1 || rows[0].ID != "AB-1" || rows[0].Model != "X1" {
		t.Errorf("reordered: %+v %v", rows, err)
	}
}

func TestImportExpectedIsAllOrNothingAndKeepsProvisionStart(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	good, _ := os.ReadFile("testdata/expected-good.csv")
	res, err := e.svc.ImportExpected(ctx, admin, strings.NewReader(string(good)))
	if err != nil || res.Created != 4 {
		t.Fatalf("import: %+v %v", res, err)
	}
	first, _ := e.st.ExpectedDevice("PF3ABC12")
	e.clock.Advance(48 * 60 * 60 * 1e9)
	changed := strings.Replace(string(good), "ThinkPad T14 Gen 4", "ThinkPad T14 Gen 5", 1)
	res, err = e.svc.ImportExpected(ctx, admin, strings.NewReader(changed))
	if err != nil || res.Updated != 1 || res.Unchanged != 3 || res.Created != 0 {
		t.Fatalf("re-import: %+v %v", res, err)
	}
	again, _ := e.st.ExpectedDevice("PF3ABC12")
	if again.Model != "ThinkPad T14 Gen 5" || !again.ImportedAt.Equal(first.ImportedAt) {
		t.Errorf("re-import: %+v", again)
	}
	bad, _ := os.ReadFile("testdata/expected-bad.csv")
	if _, err := e.svc.ImportExpected(ctx, admin, strings.NewReader(string(bad))); err == nil {
		t.Fatal("bad CSV imported")
	}
	if n := len(e.st.ExpectedDevices()); n != 4 {
		t.Errorf("%d expected devices after a refused import, want 4", n)
	}
	var audits int
	for _, a := range e.st.Audit() {
		if a.Action == "enrollment.expected.import" {
			audits++
		}
	}
	if audits != 2 {
		t.Errorf("%d import audit events, want 2", audits)
	}
}
