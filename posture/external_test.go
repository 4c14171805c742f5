package posture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

const edrSecret = "0123456789abcdef0123456789abcdef"

const edrConfig = `
compliance:
  - id: win
    platforms: [windows]
    checks: {antivirus: required, no_root: true}
posture_sources:
  - name: falcon
    secret: "` + edrSecret + `"
    signals: [antivirus.running, antivirus.product, device.rooted]
`

func edrBody(device, extra string) []byte {
	return []byte(`{"source":"falcon","device":` + device + `,"observed_at":"2025-03-11T09:58:00Z","signals":[{"name":"antivirus.running","value":true},{"name":"device.rooted","value":false}` + extra + `]}`)
}

func post(t *testing.T, v *env, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/posture/ingest", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	rec := httptest.NewRecorder()
	v.e.ExternalHandler().ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func TestExternalIngestion(t *testing.T) {
	v := newEnv(t, edrConfig)
	v.addDevice(t, &store.Device{ID: "w1", Platform: "windows", Serial: "PF3XK2L9"})
	body := edrBody(`{"serial":"PF3XK2L9"}`, `,{"name":"firewall.enabled","value":true}`)
	code, out := post(t, v, body, Sign([]byte(edrSecret), body, t0))
	if code != http.StatusOK || out["device_id"] != "w1" || out["accepted"] != float64(2) {
		t.Fatalf("status %d body %v", code, out)
	}
	if dropped, _ := out["dropped"].([]any); len(dropped) != 1 || dropped[0] != collect.FirewallEnabled {
		t.Errorf("dropped = %v (firewall.enabled is outside the source's allow-list)", out["dropped"])
	}
	d := v.device(t, "w1")
	if !d.Compliant || d.Trust != store.TrustHigh {
		t.Errorf("device = %+v", d)
	}
	p, _ := v.st.Posture("w1")
	var entry externalEntry
	if err := json.Unmarshal(p.External["falcon"], &entry); err != nil {
		t.Fatal(err)
	}
	esigs, err := DecodeSignals(entry.Signals)
	if err != nil {
		t.Fatal(err)
	}
	if entry.Source != "falcon" || len(esigs) != 2 || esigs[0].Source != "external:falcon" || !entry.ObservedAt.Equal(t0.Add(-2*time.Minute)) {
		t.Errorf("stored = %+v", entry)
	}
	// By Portier id, a failing value: the check fails and names the source.
	body = []byte(`{"device":{"portier_id":"w1"},"observed_at":"2025-03-11T09:59:00Z","signals":[{"name":"device.rooted","value":true}]}`)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/posture/ingest", bytes.NewReader(body))
	req.Header.Set(SignatureHeader, Sign([]byte(edrSecret), body, t0))
	req.Header.Set(SourceHeader, "falcon")
	rec := httptest.NewRecorder()
	v.e.ExternalHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("by id: %d %s", rec.Code, rec.Body)
	}
	if d := v.device(t, "w1"); d.Compliant || !strings.Contains(strings.Join(d.FailingChecks, ","), CheckNotRooted) {
		t.Errorf("device after rooted = %+v", d)
	}
	// An older observation is refused.
	body = edrBody(`{"portier_id":"w1"}`, "")
	if err := v.e.IngestExternal(context.Background(), "falcon", body, Sign([]byte(edrSecret), body, t0)); !errors.Is(err, ErrReplay) {
		t.Errorf("older observation: %v", err)
	}
}

func TestExternalSignatureAndFieldErrors(t *testing.T) {
	v := newEnv(t, edrConfig)
	v.addDevice(t, &store.Device{ID: "w1", Platform: "windows", Serial: "PF3XK2L9"})
	good := edrBody(`{"serial":"PF3XK2L9"}`, "")
	sign := func(b []byte) string { return Sign([]byte(edrSecret), b, t0) }
	tests := []struct {
		name  string
		body  []byte
		sig   string
		code  int
		field string
	}{
		{"no signature", good, "", 401, ""},
		{"wrong key", good, Sign([]byte("another-secret-another-secret-xx"), good, t0), 401, ""},
		{"tampered body", bytes.Replace(good, []byte("true"), []byte("false"), 1), sign(good), 401, ""},
		{"expired", good, Sign([]byte(edrSecret), good, t0.Add(-6*time.Minute)), 401, ""},
		{"from the future", good, Sign([]byte(edrSecret), good, t0.Add(6*time.Minute)), 401, ""},
		{"garbage header", good, "sha256=abc", 401, ""},
		{"unknown source", []byte(`{"source":"other"}`), sign([]byte(`{"source":"other"}`)), 401, ""},
		{"bad json", []byte(`{"source":"falcon","device":{"serial":"x"},`), sign([]byte(`{"source":"falcon","device":{"serial":"x"},`)), 400, ""},
		{"unknown field", []byte(`{"source":"falcon","devise":{}}`), sign([]byte(`{"source":"falcon","devise":{}}`)), 400, "devise"},
		{"no device", []byte(`{"source":"falcon","observed_at":"2025-03-11T09:58:00Z","signals":[]}`), sign([]byte(`{"source":"falcon","observed_at":"2025-03-11T09:58:00Z","signals":[]}`)), 400, "device"},
		{"bad time", []byte(`{"source":"falcon","device":{"serial":"PF3XK2L9"},"observed_at":"yesterday","signals":[]}`), "", 400, "observed_at"},
		{"unknown signal", edrBody(`{"serial":"PF3XK2L9"}`, `,{"name":"av.on","value":true}`), "", 400, "signals[2].name"},
		{"wrong value type", edrBody(`{"serial":"PF3XK2L9"}`, `,{"name":"antivirus.product","value":7}`), "", 400, "signals[2].value"},
		{"missing value", edrBody(`{"serial":"PF3XK2L9"}`, `,{"name":"antivirus.product"}`), "", 400, "signals[2].value"},
		{"location refused", edrBody(`{"serial":"PF3XK2L9"}`, `,{"name":"location.coordinates","value":"1,2"}`), "", 400, "signals[2].name"},
		{"wrong type of field", []byte(`{"source":"falcon","device":{"serial":12}}`), "", 400, "device.serial"},
		{"unknown device", edrBody(`{"serial":"NOPE"}`, ""), "", 404, ""},
		{"too large", append(good, bytes.Repeat([]byte(" "), MaxExternalBytes)...), "", 413, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig := tc.sig
			if sig == "" && tc.code != 401 {
				sig = sign(tc.body)
			}
			code, out := post(t, v, tc.body, sig)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %v", code, tc.code, out)
			}
			e, _ := out["error"].(map[string]any)
			if e == nil || e["message"] == "" {
				t.Fatalf("no error body: %v", out)
			}
			if tc.field != "" && e["field"] != tc.field {
				t.Errorf("field = %v, want %s (%v)", e["field"], tc.field, e["message"])
			}
		})
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/posture/ingest", nil)
	rec := httptest.NewRecorder()
	v.e.ExternalHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d", rec.Code)
	}
}

func TestExternalRespectsDataProfile(t *testing.T) {
	doc := edrConfig + "  - name: inventory\n    secret: \"" + edrSecret + "\"\n"
	v := newEnv(t, doc)
	v.addDevice(t, &store.Device{ID: "b1", Platform: "windows", Serial: "S1", Ownership: store.OwnershipBYOD, WorkProfile: true})
	body := []byte(`{"source":"inventory","device":{"serial":"S1"},"observed_at":"2025-03-11T09:58:00Z","signals":[{"name":"apps.installed","value":[{"name":"Signal"}]},{"name":"antivirus.running","value":true}]}`)
	res, err := v.e.ingestExternal(context.Background(), "", body, Sign([]byte(edrSecret), body, t0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || len(res.Dropped) != 1 || res.Dropped[0] != collect.AppsInstalled {
		t.Errorf("result = %+v: a BYOD device's app inventory must be dropped", res)
	}
}

func TestExternalMatchesLiveDeviceBySerial(t *testing.T) {
	v := newEnv(t, edrConfig)
	v.addDevice(t, &store.Device{ID: "a-old", Platform: "windows", Serial: "S1", State: store.DeviceRetired})
	v.addDevice(t, &store.Device{ID: "b-new", Platform: "windows", Serial: "S1"})
	body := edrBody(`{"serial":"S1"}`, "")
	res, err := v.e.ingestExternal(context.Background(), "", body, Sign([]byte(edrSecret), body, t0))
	if err != nil || res.DeviceID != "b-new" {
		t.Errorf("res = %+v, err = %v", res, err)
	}
	if apperr.Status(v.e.IngestExternal(context.Background(), "falcon", edrBody(`{"portier_id":"a-old"}`, ""), Sign([]byte(edrSecret), edrBody(`{"portier_id":"a-old"}`, ""), t0))) != http.StatusForbidden {
		t.Error("a retired device accepted external posture")
	}
}

func TestExternalObservationsExpire(t *testing.T) {
	v := newEnv(t, edrConfig)
	v.addDevice(t, &store.Device{ID: "w1", Platform: "windows", Serial: "S1"})
	body := edrBody(`{"serial":"S1"}`, "")
	if err := v.e.IngestExternal(context.Background(), "falcon", body, Sign([]byte(edrSecret), body, t0)); err != nil {
		t.Fatal(err)
	}
	if d := v.device(t, "w1"); !d.Compliant {
		t.Fatalf("device = %+v", d)
	}
	v.clock.Set(t0.Add(DefaultSourceMaxAge + time.Hour))
	if err := v.e.Recompute(context.Background(), "w1"); err != nil {
		t.Fatal(err)
	}
	if d := v.device(t, "w1"); d.Compliant {
		t.Error("an observation past max_age still counts")
	}
}

// TestSignatureMatchesOpenSSL checks the docs' shell recipe against Sign.
func TestSignatureMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	body := `{"source":"falcon","device":{"serial":"S1"}}`
	cmd := exec.Command("sh", "-c", `printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.*= //'`)
	cmd.Env = append(os.Environ(), "T=1741687080", "BODY="+body, "SECRET="+edrSecret)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := Sign([]byte(edrSecret), []byte(body), time.Unix(1741687080, 0))
	if got := "t=1741687080,v1=" + strings.TrimSpace(string(out)); got != want {
		t.Errorf("openssl recipe gives %s, Sign gives %s", got, want)
	}
}
