package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// TestMyDevicesExplainsCompliance: on /my/devices the owner of a laptop
// whose disk is not encrypted reads what is wrong, how to fix it, and
// what happens next and when (the deadline before access is reduced);
// once IT quarantine it, the page says it cannot open company apps and why.
func TestMyDevicesExplainsCompliance(t *testing.T) {
	e, con, _, _ := devicePageEnv(t)
	id, now := e.unencryptedLaptop(t, "notify: 2h, lower_trust: 24h, block: 48h")
	dev, _ := e.st.Device(id)
	mine := *dev
	mine.OwnerEmail = "emp@example.com"
	if err := e.st.Write(context.Background(), store.Put(&mine)); err != nil {
		t.Fatal(err)
	}
	emp := pageSession(t, con, "emp", "", 0)
	code, body := emp.callBody(con, "GET", "/my/devices", "")
	if code != http.StatusOK {
		t.Fatalf("/my/devices: %d\n%s", code, body)
	}
	for _, want := range []string{"What to fix:", "LUKS", "If it is not fixed by " + now.Add(3*time.Hour).Format("2006-01-02 15:04"), "you are reminded by a message on the device",
		"If it is not fixed by " + now.Add(25*time.Hour).Format("2006-01-02 15:04") + " UTC: its trust level is lowered"} {
		if !strings.Contains(body, want) {
			t.Errorf("/my/devices lacks %q:\n%s", want, body)
		}
	}
	if _, err := e.svc.Quarantine(context.Background(), enrollment.Actor{ID: "user:it@example.com"}, id, "test"); err != nil {
		t.Fatal(err)
	}
	if _, body := emp.callBody(con, "GET", "/my/devices", ""); !strings.Contains(body, "This device is quarantined: it cannot open company apps") || strings.Contains(body, "What to fix:") {
		t.Errorf("the quarantined device's explanation:\n%s", body)
	}
}
