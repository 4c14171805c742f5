package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/config"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// webPolicies: wiki opens to staff from anywhere, payroll needs a managed
// device, notes opens restricted (read-only) to staff, vault needs the
// finance group.
const webPolicies = `
policies:
  - id: staff
    allow:
      and:
        - group: {has: staff}
  - id: managed
    allow:
      and:
        - group: {has: staff}
        - device: {trust: {gte: medium}}
  - id: notes
    allow:
      - restrictions: [read_only]
        group: {has: staff}
  - id: finance
    allow:
      and:
        - group: {has: finance}
`

// withPages serves the console with the device registry, the rules
// service and the live what-if simulator over four routes (see
// webPolicies).
func (e *env) withPages(t *testing.T) {
	t.Helper()
	svc, _ := e.withEnrollment(t)
	pols, err := policy.Parse("web-test.yaml", []byte(webPolicies))
	if err != nil {
		t.Fatal(err)
	}
	routes := []config.Route{
		{From: "https://wiki.localhost", To: "http://127.0.0.1:9", Policy: "staff"},
		{From: "https://payroll.localhost", To: "http://127.0.0.1:9", Policy: "managed"},
		{From: "https://notes.localhost", To: "http://127.0.0.1:9", Policy: "notes"},
		{From: "https://vault.localhost", To: "http://127.0.0.1:9", Policy: "finance"},
	}
	sim, err := proxy.NewSimulator(routes, pols)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = New(Options{Store: e.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: e.clock.Now,
		ExternalURL: extURL, Roots: http.NotFoundHandler(), CRL: http.NotFoundHandler(),
		Ready: func(context.Context) error { return nil }, Identity: e.id, Enrollment: svc, Rules: newTestRules(t, e.st),
		Simulate: func(target string, q proxy.Query) (*proxy.Simulation, error) {
			return sim.Ask(target, q, e.clock.Now())
		},
		Routes: func() []string {
			var out []string
			for _, r := range routes {
				out = append(out, r.From)
			}
			return out
		}})
}

// setRole gives a user a console role.
func (e *env) setRole(t *testing.T, u *store.User, role string) {
	t.Helper()
	cp := *u
	cp.Role = role
	if err := e.st.Write(context.Background(), store.Put(&cp)); err != nil {
		t.Fatal(err)
	}
}

// keyUsed marks u's sessions as signed in with a security key, which a
// console role needs (consoleRole).
func (e *env) keyUsed(t *testing.T, u *store.User) {
	t.Helper()
	for _, s := range e.st.SessionsOf(u.ID) {
		cp := *s
		cp.WebAuthnAt = cp.CreatedAt
		if err := e.st.Write(context.Background(), store.Put(&cp)); err != nil {
			t.Fatal(err)
		}
	}
}

// appState is the state the home page shows for an application.
func appState(body, app string) string {
	m := regexp.MustCompile(`data-app="https://` + regexp.QuoteMeta(app) + `/" data-state="([a-z-]+)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestHomeShowsEachAppsStateForThisDevice: signing in lands on the home,
// which lists every application with its state for the browser's device,
// decided by the simulator the proxy shares.
func TestHomeShowsEachAppsStateForThisDevice(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	if p := b.get(extURL + "/"); p.StatusCode != http.StatusFound || !strings.HasPrefix(p.Header.Get("Location"), "/auth/sign_in?rd=%2F") {
		t.Fatalf("signed out: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	b.signInPassword("ada@example.com", pw, "")
	home := b.get(extURL + "/")
	if home.StatusCode != http.StatusOK || !strings.Contains(home.body, "Your applications") {
		t.Fatalf("home: %d\n%s", home.StatusCode, home.body)
	}
	for app, want := range map[string]string{"wiki.localhost": "allowed", "payroll.localhost": "enroll",
		"notes.localhost": "restricted", "vault.localhost": "denied"} {
		if got := appState(home.body, app); got != want {
			t.Errorf("%s: state %q, want %q", app, got, want)
		}
	}
	if !strings.Contains(home.body, "finance") || !strings.Contains(home.body, "read_only") {
		t.Errorf("the home does not say why vault is denied or how notes is restricted:\n%s", home.body)
	}
	fr := b.getLang(extURL+"/", "fr-FR,fr;q=0.9,en;q=0.5")
	if !strings.Contains(fr.body, `lang="fr"`) || !strings.Contains(fr.body, "Vos applications") || !strings.Contains(fr.body, "exige un appareil enrôlé") {
		t.Errorf("French home:\n%s", fr.body)
	}
}

// TestRequirePage: a page needing a permission redirects the signed-out
// browser to sign in, shows the HTML 403 page (in the person's language)
// to a role without it, opens for a role with it, and the menu shows it
// only to the roles that may open it.
func TestRequirePage(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	help := e.addUser(t, "help@example.com", pw, false)
	e.setRole(t, help, RoleHelpdesk)
	aud := e.addUser(t, "audit@example.com", pw, false)
	e.setRole(t, aud, RoleAuditor)

	anon := e.browser(t)
	if p := anon.get(extURL + "/audit"); p.StatusCode != http.StatusFound || !strings.HasPrefix(p.Header.Get("Location"), "/auth/sign_in?rd=%2Faudit") {
		t.Errorf("signed out: %d %s", p.StatusCode, p.Header.Get("Location"))
	}

	hb := e.browser(t)
	hb.signInPassword("help@example.com", pw, "")
	e.keyUsed(t, help)
	p := hb.get(extURL + "/audit")
	if p.StatusCode != http.StatusForbidden || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(p.body, "<h1>Not allowed</h1>") || !strings.Contains(p.body, `<link rel="stylesheet"`) {
		t.Errorf("helpdesk on /audit: %d %s\n%s", p.StatusCode, p.Header.Get("Content-Type"), p.body)
	}
	if fr := hb.getLang(extURL+"/audit", "fr"); fr.StatusCode != http.StatusForbidden || !strings.Contains(fr.body, "Accès non autorisé") {
		t.Errorf("helpdesk on /audit in French: %d\n%s", fr.StatusCode, fr.body)
	}
	if home := hb.get(extURL + "/"); strings.Contains(home.body, `href="/audit"`) || !strings.Contains(home.body, `href="/auth/security_keys"`) {
		t.Errorf("helpdesk menu:\n%s", home.body)
	}

	ab := e.browser(t)
	ab.signInPassword("audit@example.com", pw, "")
	// A role works only in a session signed in with a security key.
	if p := ab.get(extURL + "/audit"); p.StatusCode != http.StatusForbidden || !strings.Contains(p.body, "security key") {
		t.Errorf("auditor without a key on /audit: %d\n%s", p.StatusCode, p.body)
	}
	e.keyUsed(t, aud)
	p = ab.get(extURL + "/audit")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `href="/audit"`) || !strings.Contains(p.body, "<h1>Audit log</h1>") {
		t.Errorf("auditor on /audit: %d\n%s", p.StatusCode, p.body)
	}
}

// TestPageErrorsHTMLForBrowsersJSONForAPI: an unknown path is the HTML 404
// page for a browser, JSON for the API and for clients asking for JSON;
// an oversized form is the 413 page.
func TestPageErrorsHTMLForBrowsersJSONForAPI(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	b := e.browser(t)
	p := b.get(extURL + "/no/such/page")
	if p.StatusCode != http.StatusNotFound || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(p.body, "Page not found") || p.Header.Get("Content-Security-Policy") != pageCSP {
		t.Errorf("browser 404: %d %s\n%s", p.StatusCode, p.Header.Get("Content-Type"), p.body)
	}
	if fr := b.getLang(extURL+"/no/such/page", "fr"); !strings.Contains(fr.body, "Page introuvable") {
		t.Errorf("French 404:\n%s", fr.body)
	}
	for _, tc := range []struct{ path, accept string }{{"/api/v1/no/such", "text/html"}, {"/no/such/page", "application/json"}} {
		req, _ := http.NewRequest(http.MethodGet, extURL+tc.path, nil)
		req.Header.Set("Accept", tc.accept)
		p := b.do(req)
		if p.StatusCode != http.StatusNotFound || !strings.HasPrefix(p.Header.Get("Content-Type"), "application/json") || !strings.Contains(p.body, `"not_found"`) {
			t.Errorf("%s (Accept %s): %d %s %s", tc.path, tc.accept, p.StatusCode, p.Header.Get("Content-Type"), p.body)
		}
	}
	if p := b.postForm(extURL+"/audit", nil); p.StatusCode != http.StatusMethodNotAllowed || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
		t.Errorf("POST /audit: %d %s\n%s", p.StatusCode, p.Header.Get("Content-Type"), p.body)
	}
	e.addUser(t, "ada@example.com", pw, false)
	b.signInPassword("ada@example.com", pw, "")
	form := b.get(extURL + "/enroll")
	big := b.postForm(extURL+"/enroll", url.Values{"csrf": {form.csrf(t)}, "ownership": {strings.Repeat("x", maxFormBytes)}})
	if big.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(big.body, "Too much data") {
		t.Errorf("oversized form: %d\n%s", big.StatusCode, big.body)
	}
}

// pageRoutes are the console's browser routes: everything but the API, the
// agent API and the machine endpoints.
func pageRoutes(t *testing.T, c *Console) (gets, posts []string) {
	t.Helper()
	for _, r := range c.Routes() {
		switch {
		case strings.HasPrefix(r.Path, "/api/"), strings.HasPrefix(r.Path, "/.well-known/"), strings.HasPrefix(r.Path, "/ca/"),
			strings.HasPrefix(r.Path, ui.AssetPrefix), r.Path == "/healthz", r.Path == "/readyz":
			continue
		}
		p := strings.NewReplacer(":id", "x").Replace(r.Path)
		switch r.Method {
		case http.MethodGet:
			gets = append(gets, p)
		case http.MethodPost:
			posts = append(posts, p)
		default:
			t.Errorf("page route %s %s: pages are GET and POST only", r.Method, r.Path)
		}
	}
	if len(gets) < 10 || len(posts) < 10 {
		t.Fatalf("only %d GET and %d POST page routes found", len(gets), len(posts))
	}
	return gets, posts
}

// TestEveryPageCarriesTheSecurityHeaders walks the page routes: signed in
// or not, every response has the strict CSP (no inline script or style)
// and the other security headers.
func TestEveryPageCarriesTheSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	e.addUser(t, "ada@example.com", pw, false)
	signedIn := e.browser(t)
	signedIn.signInPassword("ada@example.com", pw, "")
	gets, _ := pageRoutes(t, e.srv.Config.Handler.(*Console))
	for _, b := range []*browser{e.browser(t), signedIn} {
		for _, path := range gets {
			p := b.get(extURL + path)
			h := p.Header
			if h.Get("Content-Security-Policy") != pageCSP || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" || h.Get("Strict-Transport-Security") == "" {
				t.Errorf("GET %s (%d): headers %v", path, p.StatusCode, h)
			}
			if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "<style") || strings.Contains(p.body, " style=") {
				t.Errorf("GET %s has inline script or style:\n%s", path, p.body)
			}
		}
	}
	if !strings.Contains(pageCSP, "script-src 'self';") || !strings.Contains(pageCSP, "style-src 'self';") ||
		!strings.Contains(pageCSP, "frame-ancestors 'none'") || !strings.Contains(pageCSP, "base-uri 'none'") || !strings.Contains(pageCSP, "form-action 'self'") {
		t.Errorf("CSP %q", pageCSP)
	}
}

// TestPagePostWithoutCSRFTokenIsRefused walks every page POST route: from
// a signed-in browser, without the token (and as a same-origin request, so
// only the token is missing), each is refused with 403 before its handler
// runs. The set-up form is the one exception: its one-time secret is its
// token (see routes.go).
func TestPagePostWithoutCSRFTokenIsRefused(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "")
	_, posts := pageRoutes(t, e.srv.Config.Handler.(*Console))
	for _, path := range posts {
		if path == "/setup" {
			continue
		}
		p := b.postForm(extURL+path, url.Values{"ownership": {"byod"}, "action": {"delete"}})
		if p.StatusCode != http.StatusForbidden || !strings.Contains(p.body, "came from another site") {
			t.Errorf("POST %s without a CSRF token: %d\n%s", path, p.StatusCode, p.body)
		}
	}
	if n := len(e.st.EnrollCodes()); n != 0 {
		t.Errorf("%d enrollment codes created by forged posts", n)
	}
	if s := b.get(extURL + "/"); s.StatusCode != http.StatusOK {
		t.Errorf("the forged sign-out signed the browser out: home %d", s.StatusCode)
	}
}

// TestEveryCatalogueKeyUsedExists: every catalogue key the console's Go
// code names exists in every language (the ui package checks the
// templates' keys).
func TestEveryCatalogueKeyUsedExists(t *testing.T) {
	u, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, k := range u.Catalogue().Keys("en") {
		known[k] = true
	}
	key := regexp.MustCompile(`"((?:title|error|home|devices|enroll|setup|signin|keys|nav|audit|script)\.[a-z0-9_.-]*[a-z0-9_-])"`)
	files, _ := filepath.Glob("*.go")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, "c.audit(") || strings.Contains(line, "c.startExport(") { // audit actions look like keys
				continue
			}
			for _, m := range key.FindAllStringSubmatch(line, -1) {
				n++
				if !known[m[1]] {
					t.Errorf("%s uses catalogue key %q, which is not in the catalogue", f, m[1])
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d catalogue keys in the console's code", n)
	}
}

// getLang is get with an Accept-Language header.
func (b *browser) getLang(u, lang string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", lang)
	return b.do(req)
}

// TestOnlyTheHandOffPageRefreshes: the security-keys page with a page to
// continue to shows a Continue link and stays; only the hand-off page
// after a form sends the browser on by itself.
func TestOnlyTheHandOffPageRefreshes(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "")
	p := b.get(extURL + "/auth/security_keys?" + url.Values{"rd": {extURL + "/my/devices"}}.Encode())
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, ">Continue</a>") || strings.Contains(p.body, `http-equiv="refresh"`) {
		t.Errorf("security keys with rd: %d\n%s", p.StatusCode, p.body)
	}
}

// TestMenuMatchesWhatTheRoleMayOpen: for every role, every menu entry
// opens, and every entry left out of the menu is refused with 403.
func TestMenuMatchesWhatTheRoleMayOpen(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	href := regexp.MustCompile(`<header>.*?</header>`)
	for _, role := range []string{"", RoleHelpdesk, RoleAuditor, RoleSecurity, RoleAdmin, RoleOwner} {
		email := "p" + role + "@example.com"
		u := e.addUser(t, email, pw, false)
		e.setRole(t, u, role)
		b := e.browser(t)
		b.signInPassword(email, pw, "")
		e.keyUsed(t, u)
		home := b.get(extURL + "/")
		menu := href.FindString(strings.ReplaceAll(home.body, "\n", " "))
		for _, entry := range navEntries() {
			shown := strings.Contains(menu, `href="`+entry.Path+`"`)
			if shown != (entry.Perm == "" || perms[role][entry.Perm]) {
				t.Errorf("role %q: %s shown=%v", role, entry.Path, shown)
			}
			p := b.get(extURL + entry.Path)
			if shown && p.StatusCode != http.StatusOK || !shown && p.StatusCode != http.StatusForbidden {
				t.Errorf("role %q: %s (in menu: %v) answers %d", role, entry.Path, shown, p.StatusCode)
			}
		}
	}
}

// TestPanicIsThe500Page: a failure inside a handler is the HTML 500 page
// for a browser and JSON for the API, never the internal text.
func TestPanicIsThe500Page(t *testing.T) {
	e := newEnv(t)
	c := e.srv.Config.Handler.(*Console)
	boom := func(*gin.Context) { panic("secret internal detail") }
	c.engine.GET("/boom", c.pageSecurity, boom)
	c.engine.GET("/api/v1/boom", boom)
	b := e.browser(t)
	p := b.getLang(extURL+"/boom", "fr")
	if p.StatusCode != http.StatusInternalServerError || !strings.Contains(p.body, "<h1>Une erreur s&#39;est produite</h1>") ||
		strings.Contains(p.body, "secret") || p.Header.Get("Content-Security-Policy") != pageCSP {
		t.Errorf("page: %d\n%s", p.StatusCode, p.body)
	}
	p = b.get(extURL + "/api/v1/boom")
	if p.StatusCode != http.StatusInternalServerError || !strings.Contains(p.body, `"internal"`) || strings.Contains(p.body, "secret") {
		t.Errorf("API: %d %s", p.StatusCode, p.body)
	}
}
