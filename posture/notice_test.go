package posture

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

func TestPrivacyNotice(t *testing.T) {
	v := newEnv(t, laptopPolicy+"  contact: dpo@example.com\n")
	corp := &store.Device{ID: "c", Ownership: store.OwnershipCorporate}
	byod := &store.Device{ID: "b", Ownership: store.OwnershipBYOD, WorkProfile: true}
	cope := &store.Device{ID: "p", Ownership: store.OwnershipCOPE}

	n := v.e.Privacy(corp)
	text := NoticeText(n)
	for _, want := range []string{"What your organization can see on this device", "installed applications", "whether the disk is encrypted",
		"Your location is collected only on mon-fri from 08:00 to 19:00", "Locate a lost or stolen laptop", "deleted after 30 days",
		"erase the whole device", "dpo@example.com", "your files, documents, photos"} {
		if !strings.Contains(text, want) {
			t.Errorf("corporate notice lacks %q:\n%s", want, text)
		}
	}
	n = v.e.Privacy(byod)
	text = NoticeText(n)
	for _, want := range []string{"This device is yours", "the list of your applications", "Your location is never collected", "remove the work profile"} {
		if !strings.Contains(text, want) {
			t.Errorf("byod notice lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"installed applications (name", "erase the whole device", "kernel version"} {
		if strings.Contains(text, not) {
			t.Errorf("byod notice mentions %q:\n%s", not, text)
		}
	}
	if n := v.e.Privacy(cope); !strings.Contains(NoticeText(n), "the list of your applications") || strings.Contains(NoticeText(n), "Your location is collected") {
		t.Errorf("cope notice:\n%s", NoticeText(n))
	}
	fr := v.e.PrivacyIn(byod, "fr")
	if !strings.Contains(NoticeText(fr), "Cet appareil vous appartient") || !strings.Contains(NoticeText(fr), "Votre position n'est jamais collectée") {
		t.Errorf("french notice:\n%s", NoticeText(fr))
	}
	if _, err := json.Marshal(fr); err != nil {
		t.Fatal(err)
	}
}
