package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
)

// person is someone's browser on the console, driving the JSON endpoints
// the sign-in pages' script calls.
type person struct {
	w    *world
	c    *http.Client
	csrf string
	rp   virtualwebauthn.RelyingParty
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func (w *world) person() *person {
	return &person{w: w, c: w.browser(nil), rp: virtualwebauthn.RelyingParty{Name: "Portier", ID: "localhost", Origin: "https://localhost:" + w.port}}
}

// signInWithIdP signs in at the mock identity provider and follows every
// redirect (to the destination rd).
func (p *person) signInWithIdP(u *identitytest.User, rd string) (*http.Response, string) {
	p.w.t.Helper()
	p.w.idp.QueueUser(u)
	return get(p.w.t, p.c, "GET", p.w.url("localhost", "/auth/sign_in?"+url.Values{"idp": {"mock"}, "rd": {rd}}.Encode()))
}

// loadCSRF reads the CSRF token of the signed-in console's pages.
func (p *person) loadCSRF() {
	p.w.t.Helper()
	_, body := get(p.w.t, p.c, "GET", p.w.url("localhost", "/auth/security_keys"))
	_, rest, ok := strings.Cut(body, `<meta name="csrf" content="`)
	if !ok {
		p.w.t.Fatalf("no CSRF token on the security keys page:\n%s", body)
	}
	p.csrf, _, _ = strings.Cut(rest, `"`)
}

// call sends a JSON request on the console as this browser (session
// cookie and CSRF token) and decodes the answer.
func (p *person) call(method, path, body string, out any) (int, string) {
	p.w.t.Helper()
	req, _ := http.NewRequest(method, p.w.url("localhost", path), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", p.csrf)
	resp, err := p.c.Do(req)
	if err != nil {
		p.w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(b, out)
	}
	return resp.StatusCode, string(b)
}

// registerKey registers a virtual security key on the account.
func (p *person) registerKey(userID string) {
	p.w.t.Helper()
	p.auth = virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(userID)})
	p.cred = identitytest.NewEC2Credential()
	var cer identity.Ceremony
	if code, body := p.call("POST", "/auth/webauthn/register/begin", `{"name":"YubiKey"}`, &cer); code != 200 {
		p.w.t.Fatalf("register begin: %d %s", code, body)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(cer.Options))
	if err != nil {
		p.w.t.Fatal(err)
	}
	att := virtualwebauthn.CreateAttestationResponse(p.rp, p.auth, p.cred, *opts)
	if code, body := p.call("POST", "/auth/webauthn/register/finish", `{"ceremony":"`+cer.Token+`","credential":`+att+`}`, nil); code != 201 {
		p.w.t.Fatalf("register finish: %d %s", code, body)
	}
	p.auth.AddCredential(p.cred)
}

// stepUp confirms with the registered key.
func (p *person) stepUp() {
	p.w.t.Helper()
	var cer identity.Ceremony
	if code, body := p.call("POST", "/auth/webauthn/step_up/begin", `{"rd":"/auth/security_keys"}`, &cer); code != 200 {
		p.w.t.Fatalf("step-up begin: %d %s", code, body)
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(cer.Options))
	if err != nil {
		p.w.t.Fatal(err)
	}
	asr := virtualwebauthn.CreateAssertionResponse(p.rp, p.auth, p.cred, *opts)
	if code, body := p.call("POST", "/auth/webauthn/step_up/finish", `{"ceremony":"`+cer.Token+`","credential":`+asr+`}`, nil); code != 200 {
		p.w.t.Fatalf("step-up finish: %d %s", code, body)
	}
}

type whoami struct {
	Actor, Role string
	HeldRole    string `json:"held_role"`
	User        struct{ ID, Email string }
}

func (p *person) whoami() whoami {
	p.w.t.Helper()
	var me whoami
	if code, body := p.call("GET", "/api/v1/whoami", "", &me); code != 200 {
		p.w.t.Fatalf("whoami: %d %s", code, body)
	}
	return me
}

// TestOwnerInvitesSecurityEngineer is the first day of a security
// engineer: the owner invites Sam to the security role; Sam opens the
// link, signs in with the company's identity provider and accepts; the
// role does nothing until Sam registers a security key and uses it; then
// Sam reads the audit log, cannot grant roles, and makes a personal API
// token whose use the audit log names as Sam's.
func TestOwnerInvitesSecurityEngineer(t *testing.T) {
	w := newWorld(t)
	api := w.browser(nil)
	owner := w.apiToken("owner")
	var created struct {
		URL        string
		Invitation struct{ ID, State string }
	}
	if code := w.api(api, owner, "POST", "/api/v1/invitations", `{"email":"sam@example.com","role":"security","ttl":"24h"}`, &created); code != 201 ||
		!strings.HasPrefix(created.URL, "https://localhost:"+w.port+"/invite?token=") {
		t.Fatalf("invite = %d %+v", code, created)
	}
	link, _ := url.Parse(created.URL)

	sam := w.person()
	resp, body := sam.signInWithIdP(identitytest.NewUser("sub-sam", "sam@example.com", "staff"), link.RequestURI())
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/auth/step_up" || !strings.Contains(body, "Register a security key") {
		t.Fatalf("after accepting: %d %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	var inv struct{ Invitation struct{ State string } }
	if w.api(api, owner, "GET", "/api/v1/invitations/"+created.Invitation.ID, "", &inv); inv.Invitation.State != "accepted" {
		t.Errorf("invitation state = %q, want accepted", inv.Invitation.State)
	}
	if resp, _ := get(t, w.browser(nil), "GET", created.URL); resp.StatusCode != http.StatusConflict {
		t.Errorf("the link used again = %d, want 409", resp.StatusCode)
	}

	// Signed in without a key: an employee, told why.
	sam.loadCSRF()
	if me := sam.whoami(); me.Role != "" || me.HeldRole != "security" {
		t.Fatalf("before a key: %+v, want no role in force and security held", me)
	}
	if code, body := sam.call("GET", "/api/v1/audit", "", nil); code != 403 || !strings.Contains(body, "security key") {
		t.Errorf("audit before a key = %d %s, want 403 naming the security key", code, body)
	}

	// Registering a key is not using it; the check with it opens the role.
	me := sam.whoami()
	sam.registerKey(me.User.ID)
	if me := sam.whoami(); me.Role != "" {
		t.Errorf("after registering, before using the key: role %q", me.Role)
	}
	sam.stepUp()
	if me := sam.whoami(); me.Role != "security" {
		t.Fatalf("after the key check: %+v, want security", me)
	}
	if code, body := sam.call("GET", "/api/v1/audit", "", nil); code != 200 {
		t.Errorf("audit as security = %d %s", code, body)
	}
	if code, _ := sam.call("POST", "/api/v1/users/"+me.User.ID+"/role", `{"role":"admin"}`, nil); code != 403 {
		t.Errorf("security granting a role = %d, want 403", code)
	}
	if code, _ := sam.call("POST", "/api/v1/tokens", `{"name":"too much","role":"admin"}`, nil); code != 403 {
		t.Errorf("security minting an admin token = %d, want 403", code)
	}

	// Sam's own token: Sam's, no more than security, and named in the audit log.
	var tok struct {
		Secret string
		Token  struct {
			ID, Role   string
			OwnerEmail string `json:"owner_email"`
			ExpiresAt  string `json:"expires_at"`
		}
	}
	if code, body := sam.call("POST", "/api/v1/tokens", `{"name":"sam laptop","role":"security"}`, &tok); code != 201 {
		t.Fatalf("token = %d %s", code, body)
	}
	if tok.Token.OwnerEmail != "sam@example.com" || tok.Token.ExpiresAt == "" {
		t.Errorf("token = %+v, want Sam's with an expiry", tok.Token)
	}
	var viaToken whoami
	w.api(api, tok.Secret, "GET", "/api/v1/whoami", "", &viaToken)
	if want := "user:sam@example.com via token " + tok.Token.ID; viaToken.Actor != want || viaToken.Role != "security" {
		t.Errorf("whoami with Sam's token = %+v, want actor %q", viaToken, want)
	}
	var audit struct {
		Events []struct {
			Actor, Action string
			Detail        map[string]string
		}
	}
	w.api(api, owner, "GET", "/api/v1/audit?action=invitation.*", "", &audit)
	if len(audit.Events) != 2 {
		t.Errorf("invitation events = %+v, want created and accepted", audit.Events)
	}
	w.api(api, tok.Secret, "GET", "/api/v1/audit?action=token.create", "", &audit)
	if len(audit.Events) != 1 || audit.Events[0].Actor != "user:sam@example.com" {
		t.Errorf("token.create events = %+v, want one by Sam", audit.Events)
	}

	// Demoting Sam revokes the token that now outranks Sam.
	if code := w.api(api, owner, "POST", "/api/v1/users/"+me.User.ID+"/role", `{"role":""}`, nil); code != 200 {
		t.Fatalf("demote = %d", code)
	}
	if code := w.api(api, tok.Secret, "GET", "/api/v1/whoami", "", nil); code != 401 {
		t.Errorf("Sam's security token after the demotion = %d, want 401", code)
	}
}

// TestHelpdeskTokenCannotMintAdminToken: a token's role is never above its
// creator's, and only owners and admins name service accounts.
func TestHelpdeskTokenCannotMintAdminToken(t *testing.T) {
	w := newWorld(t)
	api := w.browser(nil)
	helpdesk := w.apiToken("helpdesk")
	var e struct{ Error struct{ Code, Field string } }
	if code := w.api(api, helpdesk, "POST", "/api/v1/tokens", `{"name":"escalate","role":"admin"}`, &e); code != 403 || e.Error.Field != "role" {
		t.Errorf("helpdesk minting admin = %d %+v, want 403 naming role", code, e)
	}
	if code := w.api(api, helpdesk, "POST", "/api/v1/tokens", `{"name":"ci","role":"helpdesk","service_account":"ci"}`, &e); code != 403 || e.Error.Field != "service_account" {
		t.Errorf("helpdesk naming a service account = %d %+v, want 403", code, e)
	}
	if code := w.api(api, helpdesk, "POST", "/api/v1/tokens", `{"name":"mine","role":"helpdesk","ttl":"9000h"}`, &e); code != 400 || e.Error.Field != "ttl" {
		t.Errorf("a token over a year = %d %+v, want 400 naming ttl", code, e)
	}
	if code := w.api(api, helpdesk, "POST", "/api/v1/tokens", `{"name":"mine","role":"auditor"}`, nil); code != 201 {
		t.Errorf("helpdesk minting a lower token = %d, want 201", code)
	}
}

// rolesConfig maps the mock provider's secops group to the security role.
var rolesConfig = strings.Replace(e2eConfig, "    groups_claim: groups\n", "    groups_claim: groups\n    roles: {security: [secops]}\n", 1)

// TestRoleFromIdPGroup: a person in the provider's secops group holds the
// security role at sign-in (in force once they use a security key), and
// loses it at the next sign-in after leaving the group.
func TestRoleFromIdPGroup(t *testing.T) {
	w := newWorldWith(t, rolesConfig)
	gia := w.person()
	u := identitytest.NewUser("sub-gia", "gia@example.com", "staff", "secops")
	if resp, body := gia.signInWithIdP(u, "/auth/security_keys"); resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	gia.loadCSRF()
	me := gia.whoami()
	if me.Role != "" || me.HeldRole != "security" {
		t.Fatalf("in secops, without a key: %+v, want security held, not in force", me)
	}
	gia.registerKey(me.User.ID)
	gia.stepUp()
	if me := gia.whoami(); me.Role != "security" {
		t.Fatalf("in secops, after the key check: %+v", me)
	}
	if code, body := gia.call("GET", "/api/v1/audit", "", nil); code != 200 {
		t.Errorf("audit as security from the group = %d %s", code, body)
	}

	// Out of the group: the next sign-in (another browser) holds no role,
	// even after the key check.
	u.SetGroups("staff")
	again := w.person()
	again.auth, again.cred = gia.auth, gia.cred
	again.signInWithIdP(u, "/auth/security_keys")
	again.loadCSRF()
	again.stepUp()
	if me := again.whoami(); me.Role != "" || me.HeldRole != "" {
		t.Errorf("after leaving secops: %+v, want no role", me)
	}
}
