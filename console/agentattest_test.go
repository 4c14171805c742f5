package console

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/tpmtest"
)

// attestChallengeBody is a challenge request for a fresh AK of a software
// TPM (no EK certificate: its public key is sent).
func attestChallengeBody(t *testing.T, code string) string {
	t.Helper()
	sw := tpmtest.Start(t)
	conn, err := sw.Open()
	if err != nil {
		t.Fatal(err)
	}
	at, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: conn})
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	eks, err := at.EKs()
	if err != nil || len(eks) == 0 {
		t.Fatalf("EKs: %v", err)
	}
	ak, err := at.NewAK(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ak.Close(at)
	ekPub, err := x509.MarshalPKIXPublicKey(eks[0].Public)
	if err != nil {
		t.Fatal(err)
	}
	p := ak.AttestationParameters()
	b, _ := json.Marshal(agentwire.AttestChallengeRequest{Code: code, EK: agentwire.TPMEndorsement{Public: ekPub},
		AK: agentwire.TPMCreation{Public: p.Public, CreateData: p.CreateData, CreateAttestation: p.CreateAttestation, CreateSignature: p.CreateSignature}})
	return string(b)
}

// checkAttestOperations calls POST /api/v1/agent/attest/challenge and POST
// /api/v1/agent/browser-certificates over HTTP: authentication first,
// then the bodies (400 naming the field, 413), then 201 answers checked
// against the document.
func checkAttestOperations(t *testing.T, c *oasChecker) {
	t.Helper()
	want := func(code, status int, body string) {
		t.Helper()
		if code != status {
			t.Fatalf("got %d, want %d: %.400s", code, status, body)
		}
	}
	// The challenge: a usable code, or a device certificate.
	code, body := c.do("", "POST", "/api/v1/agent/attest/challenge", `{"ek":{"public":"AAAA"},"ak":{}}`, nil)
	want(code, http.StatusUnauthorized, body)
	code, body = c.do("", "POST", "/api/v1/agent/attest/challenge", `{"code":"AAAAA-AAAAA-AAAAA-AAAAA-AAAAA","junk":1}`, nil)
	if want(code, http.StatusUnauthorized, body); jsonField(body, "field") != "code" {
		t.Errorf("a bad code with a bad body: %s, want the code refused first", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/enrollment/codes", `{"ownership":"corporate"}`, nil)
	want(code, http.StatusCreated, body)
	enrollCode := jsonField(body, "code")
	code, body = c.do("", "POST", "/api/v1/agent/attest/challenge", `{"code":"`+enrollCode+`","ek":{},"ak":{}}`, nil)
	if want(code, http.StatusBadRequest, body); jsonField(body, "field") != "ek" {
		t.Errorf("no EK: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/attest/challenge", `{"code":"`+enrollCode+`","ek":{"public":"AAAA"},"ak":{"public":"AAAA"}}`, nil)
	if want(code, http.StatusBadRequest, body); jsonField(body, "field") != "ak.create_data" {
		t.Errorf("incomplete AK: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/attest/challenge", `{"code":"`+enrollCode+`","ek":{"public":"`+strings.Repeat("A", MaxBodyBytes)+`"}}`, nil)
	want(code, http.StatusRequestEntityTooLarge, body)
	code, body = c.do("", "POST", "/api/v1/agent/attest/challenge", attestChallengeBody(t, enrollCode), nil)
	if want(code, http.StatusCreated, body); jsonField(body, "id") == "" {
		t.Errorf("challenge: %s", body)
	}

	// Browser certificates, for an enrolled device.
	code, body = c.do(RoleAdmin, "POST", "/api/v1/enrollment/codes", `{"ownership":"corporate"}`, nil)
	want(code, http.StatusCreated, body)
	enroll, _ := json.Marshal(map[string]any{"code": jsonField(body, "code"), "csr": oasCSR(t), "device": map[string]any{"platform": "linux"}})
	code, body = c.do("", "POST", "/api/v1/agent/enroll", string(enroll), nil)
	want(code, http.StatusCreated, body)
	chain := oasChain(t, body)
	csr := strings.ReplaceAll(oasCSR(t), "\n", `\n`)
	code, body = c.do("", "POST", "/api/v1/agent/browser-certificates", `{"csr":"`+csr+`","person":"ada"}`, nil)
	want(code, http.StatusUnauthorized, body)
	code, body = c.do("", "POST", "/api/v1/agent/browser-certificates", `{"csr":"`+csr+`"}`, chain)
	if want(code, http.StatusBadRequest, body); jsonField(body, "field") != "person" {
		t.Errorf("no person: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/browser-certificates", `{"csr":"`+strings.Repeat("A", MaxBodyBytes)+`"}`, chain)
	want(code, http.StatusRequestEntityTooLarge, body)
	code, body = c.do("", "POST", "/api/v1/agent/browser-certificates", `{"csr":"`+csr+`","person":"ada","key_protection":"software"}`, chain)
	if want(code, http.StatusCreated, body); jsonField(body, "key_protection_source") != "agent_claim" {
		t.Errorf("browser certificate: %s", body)
	}
	browser := oasChain(t, body)
	code, body = c.do("", "POST", "/api/v1/agent/browser-certificates", `{"csr":"`+csr+`","person":"ada"}`, browser)
	want(code, http.StatusForbidden, body) // a browser certificate does not speak for the agent
	code, body = c.do("", "POST", "/api/v1/agent/attest/challenge", `{}`, browser)
	want(code, http.StatusForbidden, body)
}
