package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// FuzzParse feeds arbitrary documents to the parser: it must never panic,
// must locate every error, and whatever it accepts must evaluate and
// explain without panicking.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"valid.yaml", "errors.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"policies:\n  - id: a\n    allow: {group: staff}\n",
		"policies:\n  - id: a\n    allow:\n      not: [{nor: [{mfa: true}, {device: {trust: {gte: low}}}]}]\n",
		"policies:\n  - &p {id: a, allow: {or: [*p]}}\n",
		"policies: &x [*x]\n",
		"a: &a [x, x]\nb: &b [*a, *a]\npolicies:\n  - id: q\n    allow: {group: {any: *b}}\n",
		"policies:\n  - id: t\n    allow: {time: {weekdays: fri-mon, from: '22:00', to: '06:00', tz: Asia/Kolkata}}\n",
		"policies:\n  - id: i\n    deny: {ip: {in: ['::ffff:10.0.0.0/104']}}\n    allow: {country: {not_in: [ZZ]}}\n",
		"policies:\n  - {id: x, require: mfa, mfa_max_age: 7d, restrictions: no_store, allow: [{method: get}]}\n",
		"policies:\n  - {id: s, session_max_age: 1d, allow: [{group: a, session_max_age: 8h}]}\n",
		"policies:\n  - {id: r, mode: report-only, enforce_for: {rollout: mdm, waves: [pilot, sales]}, allow: {group: a}}\n",
		"policies:\n  - {id: r, enforce_for: {rollout: -x, waves: [[1]], waves: y}}\n",
		"policies: 3\n", "- 1\n", "policies:\n  - id: [1]\n", "{",
	} {
		f.Add([]byte(s))
	}
	inputs := []Input{
		baseInput(),
		{Authenticated: true, Now: time.Unix(1e9, 0)},
		with(func(in *Input) {
			in.Device = Device{Trust: store.TrustHigh, Ownership: store.OwnershipBYOD}
			in.Path = "/a/../b//c/."
			in.Country = "zz"
			in.Email = "MiXeD@Example.COM"
		}),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang would otherwise go unnoticed: the fuzzer has no per-input timeout.
		timer := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("SLOW INPUT %q", data)) })
		defer timer.Stop()
		ps, err := Parse("fuzz.yaml", data)
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if !strings.HasPrefix(e.Error(), "fuzz.yaml:") || e.Msg == "" {
					t.Fatalf("badly formed error %q", e.Error())
				}
			}
			return
		}
		for _, p := range ps {
			if ef := p.EnforceFor; ef != nil && (p.Mode != ReportOnly || ef.Rollout == "" || len(ef.Keys()) != len(ef.Waves)) {
				t.Fatalf("accepted a malformed enforce_for: mode %v, %+v", p.Mode, ef)
			}
			for i := range inputs {
				d := p.Evaluate(&inputs[i])
				_ = d.Explain()
				if d.Outcome != Allow && d.Outcome != AllowRestricted && len(d.Reasons) == 0 {
					t.Fatalf("%v without reasons", d.Outcome)
				}
			}
		}
	})
}
