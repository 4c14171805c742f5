package console

import "strings"

// openRoutes are the console's routes that declare no permission, each
// with the reason it needs none ("METHOD /path", as gin names routes).
// Every other route must be guarded by require(Perm…); the authorization
// test walks the route table and fails for a route in neither place.
var openRoutes = map[string]string{
	"GET /":                              "the signed-in person's applications (signed out: the sign-in page)",
	"GET /static/:hash/:name":            "the console pages' stylesheet and script: no data",
	"GET /healthz":                       "liveness probe, says nothing",
	"GET /readyz":                        "readiness probe, says nothing",
	"GET /ca/roots.pem":                  "the CA's public root certificates",
	"GET /ca/crl":                        "the CA's public revocation list",
	"GET /download/agent/:platform":      "the agent binary: public software, installed before the device has any identity",
	"GET /setup":                         "first-run set-up or invitation form: the link's secret authorizes it",
	"POST /setup":                        "first-run set-up or invitation form: the link's secret authorizes it",
	"GET /api/v1/openapi.json":           "the public description of the API",
	"GET /.well-known/portier/jwks.json": "public keys that sign upstream assertions",
	"POST /api/v1/posture/ingest":        "external posture sources: the HMAC signature authenticates",
	"GET /api/v1/whoami":                 "any authenticated caller may ask who it is",
	"GET " + InvitePath:                  "an invitation link: its secret authorizes it, for the invited address only",
	"GET " + KeyResetPath:                "a re-registration link after a key reset: its secret authorizes it, for its account only",
	// The signed-in employee's own pages: they act only on the caller's
	// own account and devices.
	"GET /enroll":                 "the employee's own enrollment page",
	"POST /enroll":                "the employee's own enrollment page",
	"POST /enroll/browser/begin":  "registers the employee's own browser as a device",
	"POST /enroll/browser/finish": "registers the employee's own browser as a device",
	"GET /my/devices":             "the employee's own devices",
	"POST /my/devices/:id/remove": "the employee removes their own browser-registered device",
	"GET /help":                   "the user guide: what to do when signing in or access fails, so readable signed out",
	"GET /help/images/:name":      "the user guide's images",
	"GET /my/data":                "the employee downloads what Portier holds about them (their own data only)",
	"GET /my/devices/:id/lost":    "what reporting the employee's own device lost does (only their own devices: 404 otherwise)",
	"POST /my/devices/:id/lost":   "the employee reports their own device lost or stolen (only their own devices: 404 otherwise)",
}

// openPrefixes are route prefixes that declare no permission, with why.
var openPrefixes = map[string]string{
	"/auth/":         "signing in and the person's own security keys: before or without any role",
	"/api/v1/agent/": "the agent API: an enrollment code, then the device certificate, authenticates",
}

// openRoute returns why a route ("METHOD /path") needs no permission, or
// "" when it must declare one.
func openRoute(route string) string {
	if why, ok := openRoutes[route]; ok {
		return why
	}
	_, path, _ := strings.Cut(route, " ")
	for p, why := range openPrefixes {
		if strings.HasPrefix(path, p) {
			return why
		}
	}
	return ""
}
