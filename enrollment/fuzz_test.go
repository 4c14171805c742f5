package enrollment

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/portier/portier/apperr"
)

// Every parser of agent (and admin file) input must never panic, and must
// fail only with a client error: never a 500.
func clientError(t *testing.T, err error) {
	t.Helper()
	var ae *apperr.Error
	if err != nil && (!errors.As(err, &ae) || apperr.Status(err) >= 500) {
		t.Fatalf("not a client error: %v", err)
	}
}

func FuzzParseEnrollRequest(f *testing.F) {
	f.Add([]byte(`{"code":"ABCDE-FGHJK-MNPQR-STVWX-YZ012","csr":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n","device":{"serial":"PF3ABC12","hostname":"h","platform":"linux","work_profile":true,"time_zone":"Europe/Paris"}}`))
	f.Add([]byte(`{"code":"ABCDE-FGHJK-MNPQR-STVWX-YZ012","csr":"x","device":{"key_protection":"hardware"}}`))
	f.Add([]byte(`{"code":"ABCDE-FGHJK-MNPQR-STVWX-YZ012","csr":"x","device":{"key_protection":"tpm\u0000"}}`))
	f.Add([]byte(`{"code":"ABCDE-FGHJK-MNPQR-STVWX-YZ012","csr":"x","attestation":{"format":"tpm2","challenge_id":"atc_1","activated":"AAE=","key":{"public":"AAE=","create_attestation":"/1RDRw==","create_signature":"AAE="}}}`))
	f.Add([]byte(`{"code":"ABCDE-FGHJK-MNPQR-STVWX-YZ012","csr":"x","attestation":{"activated":"!!"}}`))
	f.Add([]byte(`{"code":1}`))
	f.Add([]byte(`{"device":{"serial":"a b"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseEnrollRequest(b)
		clientError(t, err)
		if err == nil && (r.Code == "" || r.CSR == "") {
			t.Fatalf("accepted without code or csr: %+v", r)
		}
	})
}

func FuzzParseReport(f *testing.F) {
	f.Add([]byte(`{"seq":1,"collected_at":"2026-01-01T00:00:00Z","time_zone":"UTC","signals":[{"name":"disk.encrypted","value":true,"source":"lsblk","collected_at":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"seq":2,"collected_at":"2026-01-01T00:00:00Z","signals":[{"name":"apps.installed","value":[{"name":"bash","version":"5"}]},{"name":"x.y","value":1}]}`))
	f.Add([]byte(`{"seq":18446744073709551615,"collected_at":"2026-01-01T00:00:00Z","signals":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		clientError(t, err)
		if err == nil && r.Seq == 0 {
			t.Fatal("accepted seq 0")
		}
	})
}

func FuzzParseActionResult(f *testing.F) {
	f.Add([]byte(`{"status":"acknowledged","result":"screen locked"}`))
	f.Add([]byte(`{"status":"failed","result":"loginctl: exit status 1\n"}`))
	f.Add([]byte(`{"status":"expired"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseActionResult(b)
		clientError(t, err)
		if err == nil && r.Status != "acknowledged" && r.Status != "failed" {
			t.Fatalf("accepted status %q", r.Status)
		}
	})
}

func FuzzParseActionRequest(f *testing.F) {
	f.Add([]byte(`{"type":"message","params":{"title":"IT","text":"Reboot tonight"}}`))
	f.Add([]byte(`{"type":"wipe","params":{"reason":"stolen"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseActionRequest(b)
		clientError(t, err)
		if _, ok := actionParams[r.Type]; err == nil && !ok {
			t.Fatalf("accepted type %q", r.Type)
		}
	})
}

func FuzzParseRenewRequest(f *testing.F) {
	f.Add([]byte(``))
	f.Add([]byte(`{"csr":"-----BEGIN CERTIFICATE REQUEST-----"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParseRenewRequest(b)
		clientError(t, err)
	})
}

func FuzzParseExpectedCSV(f *testing.F) {
	for _, name := range []string{"testdata/expected-good.csv", "testdata/expected-bad.csv"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("serial,model,platform,owner_email,department,ownership\n\"a\"\"b\",,,,,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := ParseExpectedCSV(strings.NewReader(string(b)))
		clientError(t, err)
		for _, r := range rows {
			if checkSerial(r.ID) != "" || r.ID != strings.ToUpper(r.ID) {
				t.Fatalf("accepted serial %q", r.ID)
			}
		}
	})
}

func FuzzNormalizeCode(f *testing.F) {
	f.Add("ABCDE-FGHJK-MNPQR-STVWX-YZ012")
	f.Add("abcde fghjk mnpqr stvwx yzoil")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := normalizeCode(s)
		if ok && (len(c) != codeLen || strings.Trim(c, codeAlphabet) != "") {
			t.Fatalf("normalized %q to %q", s, c)
		}
	})
}
