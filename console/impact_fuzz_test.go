package console

import (
	"errors"
	"testing"

	"github.com/portier/portier/apperr"
)

// FuzzParseDraft: any text the editor's preview or the impact API gets is
// either one compiled policy or a 422 on field policy; it never panics.
func FuzzParseDraft(f *testing.F) {
	for _, s := range []string{"", "id: staff\nallow:\n  or:\n    - group: {has: staff}\n", "id: d\nmode: draft\nallow: {group: {has: x}}\n",
		"policies:\n  - id: a\n    allow: {group: {has: x}}\n", "policies: []\n", "id: a\nshadows: b\nmode: report-only\nallow: {group: {has: x}}\n",
		"allow: [\n", "- 1\n", "id: a\nallow:\n  or:\n    - grop: {has: x}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := ParseDraft(src)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Unprocessable || ae.Field != "policy" {
				t.Fatalf("%q: error %v is not a 422 on policy", src, err)
			}
			return
		}
		if p == nil {
			t.Fatalf("%q: no policy and no error", src)
		}
	})
}
