package console

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/config"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// The tests in this file keep console/openapi.json honest: it must be a
// valid OpenAPI 3.0 document, name every route of the route table and no
// other, say truthfully how each operation authenticates and which
// permission it needs, and describe the bodies the handlers really send.

// oasMethods are the operation keys of an OpenAPI path item.
var oasMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oasAuth are the values of the x-portier-auth extension.
var oasAuth = map[string]bool{"bearer-token": true, "device-certificate": true, "enrollment-code": true, "hmac-signature": true, "none": true}

// oasSource is the posture source the test console accepts.
const (
	oasSourceSecret = "openapi-test-source-secret-0123456789abcdef"
	oasPostureYAML  = `
posture_sources:
  - name: edr
    secret: "` + oasSourceSecret + `"
    signals: [antivirus.running, antivirus.product, device.rooted]
`
	oasPolicyYAML = `
policies:
  - id: staff
    allow:
      and:
        - group: {has: staff}
        - device: {trust: {gte: medium}}
`
)

// openAPIDocument parses the embedded document, keeping numbers exact.
func openAPIDocument(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(openAPIDoc))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("openapi.json holds more than one JSON value")
	}
	return doc
}

// oasOp is one documented operation.
type oasOp struct {
	Method, Path string // method upper case, path as documented ({id})
	Op           map[string]any
}

func (o oasOp) key() string { return o.Method + " " + o.Path }

// operations lists the document's operations, sorted by path and method.
func operations(t *testing.T, doc map[string]any) []oasOp {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("openapi.json has no paths object")
	}
	var out []oasOp
	for p, item := range paths {
		m, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("path %s is not an object", p)
		}
		for _, meth := range oasMethods {
			if op, ok := m[meth].(map[string]any); ok {
				out = append(out, oasOp{Method: strings.ToUpper(meth), Path: p, Op: op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// ginToOpenAPI turns a gin path (/devices/:id, /files/*rest) into an
// OpenAPI template (/devices/{id}, /files/{rest}).
func ginToOpenAPI(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// resolve follows a local $ref ("#/components/schemas/X") to its target.
func resolve(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("openapi.json: %v is not an object", v)
		}
		r, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		ptr, ok := strings.CutPrefix(r, "#/")
		if !ok {
			t.Fatalf("openapi.json: $ref %q is not local", r)
		}
		var cur any = doc
		for _, part := range strings.Split(ptr, "/") {
			cm, ok := cur.(map[string]any)
			if !ok || cm[part] == nil {
				t.Fatalf("openapi.json: $ref %q points nowhere", r)
			}
			cur = cm[part]
		}
		v = cur
	}
	t.Fatalf("openapi.json: $ref loop at %v", v)
	return nil
}

// newOpenAPIEnv is mdmEnv with every optional part of the console wired:
// a posture engine with an external source (so /api/v1/posture/ingest is
// served), a real simulator, the real CA handlers and a real JWKS.
func newOpenAPIEnv(t *testing.T) *mdmEnv {
	t.Helper()
	e := newMDMEnv(t, enrollment.Config{})
	eng := e.withPosture(t, oasPostureYAML)
	pols, err := policy.Parse("openapi-test.yaml", []byte(oasPolicyYAML))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := proxy.NewSimulator([]config.Route{{From: "https://wiki.localhost", To: "http://127.0.0.1:9", Policy: "staff"}}, pols)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := assertion.New(context.Background(), assertion.Options{Store: e.st, Clock: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	replicas := store.NewLocalReplicas(time.Now)
	if err := replicas.Beat(context.Background(), store.Heartbeat{ReplicaID: "r1", Version: "test", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.con = New(Options{Store: e.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: time.Now, ExternalURL: "https://localhost",
		Roots: e.ca.RootsHandler(), CRL: e.ca.CRLHandler(), Ready: func(context.Context) error { return nil }, JWKS: signer.JWKS,
		Simulate: func(target string, q proxy.Query) (*proxy.Simulation, error) {
			return sim.Ask(target, q, time.Now())
		},
		Enrollment: e.svc, PostureIngest: eng.ExternalHandler(),
		Origins: func() []string { return []string{"https://localhost", "https://wiki.localhost"} },
		Rules:   newTestRules(t, e.st), InForce: oasRules(pols),
		Cluster: replicas, ReplicaID: "r1", MissingAfter: 6 * time.Second})
	return e
}

func TestOpenAPIDocumentIsOpenAPI303(t *testing.T) {
	doc := openAPIDocument(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs title and version: %v", info)
	}
	// The served document is the embedded one.
	e := newOpenAPIEnv(t)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil)
	rec := httptest.NewRecorder()
	e.con.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), openAPIDoc) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/v1/openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["$ref"]; ok {
				resolve(t, doc, x)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
}

// TestOpenAPIMatchesRouteTable: every /api/v1 route is documented with its
// method, every documented operation is a route, and the documented public
// endpoints are there.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	doc := openAPIDocument(t)
	e := newOpenAPIEnv(t)
	routes := map[string]bool{}
	for _, rt := range e.con.Routes() {
		routes[rt.Method+" "+ginToOpenAPI(rt.Path)] = true
	}
	documented := map[string]oasOp{}
	for _, o := range operations(t, doc) {
		documented[o.key()] = o
	}
	for key := range routes {
		if _, path, _ := strings.Cut(key, " "); !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		if _, ok := documented[key]; !ok {
			t.Errorf("route %s is not documented in openapi.json", key)
		}
	}
	// The optional parts are wired, so their routes are in the table.
	for _, key := range []string{"POST /api/v1/posture/ingest", "GET /api/v1/devices", "POST /api/v1/agent/enroll"} {
		if !routes[key] {
			t.Errorf("the test console does not serve %s", key)
		}
	}
	for key := range documented {
		if !routes[key] {
			t.Errorf("openapi.json documents %s, which is not in the route table", key)
		}
	}
	for _, key := range []string{"GET /healthz", "GET /readyz", "GET /.well-known/portier/jwks.json", "GET /ca/roots.pem", "GET /ca/crl", "GET /api/v1/openapi.json"} {
		if _, ok := documented[key]; !ok {
			t.Errorf("%s is not documented", key)
		}
	}
	// Path templates and path parameters agree.
	for _, o := range documented {
		want := map[string]bool{}
		for _, seg := range strings.Split(o.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				want[strings.Trim(seg, "{}")] = true
			}
		}
		got := map[string]bool{}
		params, _ := o.Op["parameters"].([]any)
		for _, p := range params {
			pm := resolve(t, doc, p)
			if pm["in"] == "path" {
				got[pm["name"].(string)] = true
				if pm["required"] != true {
					t.Errorf("%s: path parameter %v is not required", o.key(), pm["name"])
				}
			}
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: path parameters %v, the template has %v", o.key(), got, want)
		}
	}
}

// TestOpenAPIOperationsAreComplete checks each operation's shape: an id, a
// 2xx answer, a 401 where credentials are needed, error answers in the
// Error shape, and the permission named where the route needs one.
func TestOpenAPIOperationsAreComplete(t *testing.T) {
	doc := openAPIDocument(t)
	ids := map[string]string{}
	for _, o := range operations(t, doc) {
		id, _ := o.Op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", o.key())
		} else if prev, dup := ids[id]; dup {
			t.Errorf("%s and %s share operationId %s", prev, o.key(), id)
		}
		ids[id] = o.key()
		if d, _ := o.Op["description"].(string); d == "" {
			t.Errorf("%s has no description", o.key())
		}
		responses, _ := o.Op["responses"].(map[string]any)
		var ok2xx bool
		for code, r := range responses {
			ok2xx = ok2xx || strings.HasPrefix(code, "2")
			if code[0] == '4' || (code[0] == '5' && o.Path != "/readyz" && o.Path != "/ca/crl") {
				rm := resolve(t, doc, r)
				content, _ := rm["content"].(map[string]any)
				js, _ := content["application/json"].(map[string]any)
				if ref, _ := js["schema"].(map[string]any)["$ref"].(string); ref != "#/components/schemas/Error" {
					t.Errorf("%s: the %s answer is not the Error schema", o.key(), code)
				}
			}
		}
		if !ok2xx {
			t.Errorf("%s has no 2xx response", o.key())
		}
		auth, _ := o.Op["x-portier-auth"].(string)
		if !oasAuth[auth] {
			t.Errorf("%s: x-portier-auth %q is not one of bearer-token, device-certificate, enrollment-code, hmac-signature, none", o.key(), auth)
		}
		if auth != "none" && responses["401"] == nil {
			t.Errorf("%s needs credentials (%s) but documents no 401", o.key(), auth)
		}
		sec, hasSec := o.Op["security"].([]any)
		switch {
		case auth == "bearer-token" && hasSec:
			t.Errorf("%s: a bearer-token operation must inherit the document's security", o.key())
		case auth != "bearer-token" && !hasSec:
			t.Errorf("%s (%s) must override the document's bearer security", o.key(), auth)
		case auth == "hmac-signature" && len(sec) != 1:
			t.Errorf("%s must declare the postureSignature scheme", o.key())
		case (auth == "device-certificate" || auth == "enrollment-code" || auth == "none") && len(sec) != 0:
			t.Errorf("%s must declare security: []", o.key())
		}
		perm, _ := o.Op["x-portier-permission"].(string)
		if auth != "bearer-token" && perm != "" {
			t.Errorf("%s: only bearer-token operations have a permission", o.key())
		}
		if perm != "" {
			var roles []string
			for _, r := range []string{RoleOwner, RoleAdmin, RoleSecurity, RoleHelpdesk, RoleAuditor} {
				if perms[r][Permission(perm)] {
					roles = append(roles, r)
				}
			}
			desc, _ := o.Op["description"].(string)
			if len(roles) == 0 || !strings.Contains(desc, "`"+perm+"` (roles: "+strings.Join(roles, ", ")+")") {
				t.Errorf("%s: the description must name `%s` (roles: %s)", o.key(), perm, strings.Join(roles, ", "))
			}
			if responses["403"] == nil {
				t.Errorf("%s needs %s but documents no 403", o.key(), perm)
			}
		}
	}
}

// TestOpenAPIAuthMatchesHandlers calls every documented operation without
// credentials, with a role that has no permission, and (for the agent API)
// with an API token, and checks the answers against x-portier-auth and
// x-portier-permission.
func TestOpenAPIAuthMatchesHandlers(t *testing.T) {
	doc := openAPIDocument(t)
	e := newOpenAPIEnv(t)
	// A body every handler that runs would refuse: it never creates anything.
	const body = `{"code":"not-a-code","csr":"x"}`
	for _, o := range operations(t, doc) {
		path := strings.ReplaceAll(o.Path, "{id}", "x")
		auth, _ := o.Op["x-portier-auth"].(string)
		perm, _ := o.Op["x-portier-permission"].(string)
		responses, _ := o.Op["responses"].(map[string]any)
		code, got := e.call(t, "", o.Method, path, body, nil)
		if responses[fmt.Sprint(code)] == nil {
			t.Errorf("%s without credentials: %d is not documented (%s)", o.key(), code, got)
		}
		switch auth {
		case "none":
			if code/100 != 2 {
				t.Errorf("%s is documented as public but answers %d without credentials: %s", o.key(), code, got)
			}
			continue
		default:
			if code != http.StatusUnauthorized {
				t.Errorf("%s (%s) without credentials: %d %s, want 401", o.key(), auth, code, got)
			}
		}
		switch auth {
		case "bearer-token":
			code, got = e.call(t, "nobody", o.Method, path, body, nil)
			switch {
			case perm == "" && (code == http.StatusForbidden || code == http.StatusUnauthorized):
				t.Errorf("%s documents no permission but a token with none gets %d %s", o.key(), code, got)
			case perm != "" && (code != http.StatusForbidden || !strings.Contains(got, "does not allow "+perm)):
				t.Errorf("%s documents permission %s; a token with no permission gets %d %s", o.key(), perm, code, got)
			}
		case "device-certificate":
			if code, got = e.call(t, RoleOwner, o.Method, path, body, nil); code != http.StatusUnauthorized {
				t.Errorf("%s: an API token opened an agent route: %d %s", o.key(), code, got)
			}
		}
	}
}

// oasChecker validates live answers against the document and records which
// operations had a 2xx answer checked.
type oasChecker struct {
	t       *testing.T
	doc     map[string]any
	ops     []oasOp
	e       *mdmEnv
	checked map[string]bool
}

// match finds the operation of a concrete method and path.
func (c *oasChecker) match(method, path string) (oasOp, bool) {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	best, bestLiterals := oasOp{}, -1
	for _, o := range c.ops {
		if o.Method != method {
			continue
		}
		tpl := strings.Split(o.Path, "/")
		if len(tpl) != len(segs) {
			continue
		}
		ok, literals := true, 0
		for i := range tpl {
			if strings.HasPrefix(tpl[i], "{") {
				continue
			}
			if tpl[i] != segs[i] {
				ok = false
				break
			}
			literals++
		}
		// A literal segment wins over a parameter, as in the router
		// (/devices/export before /devices/{id}).
		if ok && literals > bestLiterals {
			best, bestLiterals = o, literals
		}
	}
	return best, bestLiterals >= 0
}

// do sends a request as role ("" = none) with an optional client
// certificate chain and header pairs, checks the answer against the
// document, and returns the status and body.
func (c *oasChecker) do(role, method, path, body string, chain []*x509.Certificate, hdr ...string) (int, string) {
	t := c.t
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+roleSecret(role))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if chain != nil {
		req.TLS = &tls.ConnectionState{PeerCertificates: chain}
	}
	rec := httptest.NewRecorder()
	c.e.con.ServeHTTP(rec, req)
	o, ok := c.match(method, path)
	if !ok {
		t.Errorf("%s %s is not documented", method, path)
		return rec.Code, rec.Body.String()
	}
	where := fmt.Sprintf("%s %s → %d", method, path, rec.Code)
	r, ok := o.Op["responses"].(map[string]any)[fmt.Sprint(rec.Code)]
	if !ok {
		t.Errorf("%s: status not documented for %s (body %.300s)", where, o.key(), rec.Body.String())
		return rec.Code, rec.Body.String()
	}
	content, _ := resolve(t, c.doc, r)["content"].(map[string]any)
	ctype, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	switch {
	case len(content) == 0:
		if rec.Body.Len() != 0 {
			t.Errorf("%s: documented without a body, got %.200s", where, rec.Body.String())
		}
	case content[ctype] == nil:
		t.Errorf("%s: Content-Type %q is not documented (%v)", where, ctype, slices.Sorted(mapKeys(content)))
	case ctype == "application/json":
		schema := content[ctype].(map[string]any)["schema"]
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: the body is not JSON: %v", where, err)
			break
		}
		for _, p := range c.validate(schema, v, "body") {
			t.Errorf("%s: %s", where, p)
		}
	}
	if rec.Code/100 == 2 {
		c.checked[o.key()] = true
		// What the handler accepted must fit the documented request body.
		if rb, ok := o.Op["requestBody"].(map[string]any); ok && body != "" {
			rc, _ := rb["content"].(map[string]any)
			if js, ok := rc["application/json"].(map[string]any); ok {
				dec := json.NewDecoder(strings.NewReader(body))
				dec.UseNumber()
				var v any
				if err := dec.Decode(&v); err == nil {
					for _, p := range c.validate(js["schema"], v, "request") {
						t.Errorf("%s: accepted a request the document refuses: %s", where, p)
					}
				}
			}
		}
	}
	return rec.Code, rec.Body.String()
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// validate checks v against an OpenAPI 3.0 schema: types, nullable, enum,
// required, formats (date-time, byte) and allOf. Objects are closed: a
// field the schema does not declare is a problem unless
// additionalProperties allows it, so field names must match exactly.
func (c *oasChecker) validate(schema any, v any, at string) []string {
	s := resolve(c.t, c.doc, schema)
	if v == nil {
		if s["nullable"] == true || (s["type"] == nil && s["allOf"] == nil) {
			return nil
		}
		return []string{at + " is null"}
	}
	var out []string
	if all, ok := s["allOf"].([]any); ok {
		declared := map[string]bool{}
		open := false
		for _, part := range all {
			ps := resolve(c.t, c.doc, part)
			out = append(out, c.validateShape(ps, v, at, false)...)
			props, _ := ps["properties"].(map[string]any)
			for k := range props {
				declared[k] = true
			}
			if ps["additionalProperties"] != nil && ps["additionalProperties"] != false {
				open = true
			}
		}
		if m, ok := v.(map[string]any); ok && !open {
			for k := range m {
				if !declared[k] {
					out = append(out, fmt.Sprintf("%s.%s is not documented", at, k))
				}
			}
		}
		return out
	}
	return append(out, c.validateShape(s, v, at, true)...)
}

func (c *oasChecker) validateShape(s map[string]any, v any, at string, closed bool) []string {
	var out []string
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range enum {
			found = found || fmt.Sprint(x) == fmt.Sprint(v)
		}
		if !found {
			out = append(out, fmt.Sprintf("%s = %v is not one of %v", at, v, enum))
		}
	}
	switch s["type"] {
	case nil:
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(out, fmt.Sprintf("%s is %T, not an object", at, v))
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s lacks required %s", at, r))
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, x := range m {
			switch ps, ok := props[k]; {
			case ok:
				out = append(out, c.validate(ps, x, at+"."+k)...)
			case s["additionalProperties"] != nil && s["additionalProperties"] != false:
				if ap, ok := s["additionalProperties"].(map[string]any); ok {
					out = append(out, c.validate(ap, x, at+"."+k)...)
				}
			case closed && (props != nil || s["additionalProperties"] == false):
				out = append(out, fmt.Sprintf("%s.%s is not documented", at, k))
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(out, fmt.Sprintf("%s is %T, not an array", at, v))
		}
		for i, x := range a {
			out = append(out, c.validate(s["items"], x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(out, fmt.Sprintf("%s is %T, not a string", at, v))
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				out = append(out, fmt.Sprintf("%s = %q is not a date-time", at, str))
			}
		case "byte":
			if _, err := base64.StdEncoding.DecodeString(str); err != nil {
				out = append(out, fmt.Sprintf("%s is not base64", at))
			}
		}
	case "integer":
		num, ok := v.(json.Number)
		if _, err := num.Int64(); !ok || err != nil {
			out = append(out, fmt.Sprintf("%s = %v is not an integer", at, v))
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			out = append(out, fmt.Sprintf("%s = %v is not a number", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			out = append(out, fmt.Sprintf("%s = %v is not a boolean", at, v))
		}
	default:
		out = append(out, fmt.Sprintf("%s: unknown schema type %v", at, s["type"]))
	}
	return out
}

// oasCSR returns a PEM certificate request for a new P-256 key.
func oasCSR(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// oasChain parses the PEM chain of a certificate answer.
func oasChain(t *testing.T, body string) []*x509.Certificate {
	t.Helper()
	var ans struct {
		Certificate string `json:"certificate"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	rest := []byte(ans.Certificate)
	for {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		crt, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, crt)
	}
	if len(chain) == 0 {
		t.Fatalf("no certificate in %s", body)
	}
	return chain
}

// TestOpenAPISchemasMatchResponses drives every operation through success
// and its main failures, and checks each answer's status and body against
// the document (and each accepted request body against its schema).
func TestOpenAPISchemasMatchResponses(t *testing.T) {
	doc := openAPIDocument(t)
	e := newOpenAPIEnv(t)
	// mdmEnv's role-less token cannot be made through the API (roles are
	// checked); it would show an undocumented role in GET /api/v1/tokens.
	if err := e.st.Write(context.Background(), store.Delete(store.KindToken, "tok_nobody")); err != nil {
		t.Fatal(err)
	}
	c := &oasChecker{t: t, doc: doc, ops: operations(t, doc), e: e, checked: map[string]bool{}}
	want := func(code, status int, body string) {
		t.Helper()
		if code != status {
			t.Fatalf("got %d, want %d: %.400s", code, status, body)
		}
	}
	field := func(body, name string) string { return jsonField(body, name) }
	now := time.Now().UTC().Format(time.RFC3339)

	// Public endpoints.
	for _, p := range []string{"/healthz", "/readyz", "/.well-known/portier/jwks.json", "/ca/roots.pem", "/ca/crl", "/api/v1/openapi.json"} {
		code, body := c.do("", "GET", p, "", nil)
		want(code, http.StatusOK, body)
	}

	// Tokens and audit.
	code, body := c.do(RoleOwner, "GET", "/api/v1/whoami", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleOwner, "POST", "/api/v1/tokens", `{"name":"ci","role":"auditor","ttl":"1h"}`, nil)
	want(code, http.StatusCreated, body)
	var created struct{ Token struct{ ID string } }
	_ = json.Unmarshal([]byte(body), &created)
	code, body = c.do(RoleOwner, "POST", "/api/v1/tokens", `{"name":"forever","role":"admin"}`, nil)
	want(code, http.StatusCreated, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/tokens", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleOwner, "POST", "/api/v1/tokens", `{"name":"x","role":"root"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "role" {
		t.Errorf("bad role: %s", body)
	}
	code, body = c.do(RoleOwner, "POST", "/api/v1/tokens", `{"name":"x","role":"admin","colour":"red"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "colour" {
		t.Errorf("unknown field: %s", body)
	}
	code, body = c.do(RoleOwner, "POST", "/api/v1/tokens", `{"name":"`+strings.Repeat("x", MaxBodyBytes)+`"}`, nil)
	want(code, http.StatusRequestEntityTooLarge, body)
	code, body = c.do("", "GET", "/api/v1/tokens", "", nil)
	want(code, http.StatusUnauthorized, body)
	code, body = c.do(RoleHelpdesk, "GET", "/api/v1/tokens", "", nil)
	want(code, http.StatusForbidden, body)
	code, body = c.do(RoleOwner, "DELETE", "/api/v1/tokens/"+created.Token.ID, "", nil)
	want(code, http.StatusNoContent, body)
	code, body = c.do(RoleOwner, "DELETE", "/api/v1/tokens/"+created.Token.ID, "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit?action=token.*&order=asc&limit=1", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit?since=yesterday", "", nil)
	want(code, http.StatusBadRequest, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit/chain", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit/export?format=csv", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit/export", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/audit/export?format=xml", "", nil)
	want(code, http.StatusBadRequest, body)
	code, body = c.do(RoleHelpdesk, "GET", "/api/v1/audit/export", "", nil)
	want(code, http.StatusForbidden, body)

	// Users and sessions: a user with a console session and a route
	// session handed off from it.
	{
		at := time.Now().Add(-time.Minute)
		ada := &store.User{ID: "usr_ada", Email: "ada@example.com", Name: "Ada", Groups: []string{"staff"}, CreatedAt: at}
		console := &store.Session{ID: "sess_console", UserID: ada.ID, Email: ada.Email, IdP: "local", CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(time.Hour), MFAAt: at}
		route := &store.Session{ID: "sess_route", UserID: ada.ID, Email: ada.Email, IdP: "local", CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(time.Hour), ParentID: console.ID, Host: "wiki.localhost"}
		if err := e.st.Write(context.Background(), store.Put(ada), store.Put(console), store.Put(route)); err != nil {
			t.Fatal(err)
		}
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/users", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"sessions":2`) {
		t.Errorf("users: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/users?email=ADA@example.com", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleHelpdesk, "GET", "/api/v1/users/usr_ada", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"kind":"route"`) {
		t.Errorf("user detail: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "DELETE", "/api/v1/sessions/sess_route", "", nil)
	want(code, http.StatusNoContent, body)
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/users/usr_ada/sign_out", "", nil)
	if want(code, http.StatusOK, body); body != `{"ended":1}` {
		t.Errorf("sign out: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/users/usr_ada/disable", `{"reason":"left"}`, nil)
	want(code, http.StatusForbidden, body)
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/users/usr_ada/security_keys/reset", `{"verification":"video_call","note":"badge photo matched"}`, nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, KeyResetPath+"?token=") {
		t.Errorf("key reset: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/users/usr_ada/security_keys/reset", `{"verification":"trust_me","note":"x"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "verification" {
		t.Errorf("key reset without a verification: %s", body)
	}

	// Roles and invitations (people with roles).
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_ada/role", `{"role":"security"}`, nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"role":"security"`) {
		t.Errorf("role: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_ada/role", `{"role":"owner"}`, nil)
	if want(code, http.StatusForbidden, body); field(body, "field") != "role" {
		t.Errorf("role above the caller's: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_ada/role", `{"role":"root"}`, nil)
	want(code, http.StatusBadRequest, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_nobody/role", `{"role":""}`, nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/invitations", `{"email":"sec@example.com","role":"security","ttl":"72h"}`, nil)
	want(code, http.StatusCreated, body)
	var inv struct{ Invitation struct{ ID string } }
	_ = json.Unmarshal([]byte(body), &inv)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/invitations", `{"email":"x@example.com","role":"owner"}`, nil)
	want(code, http.StatusForbidden, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/invitations", `{"email":"nope","role":"auditor"}`, nil)
	want(code, http.StatusBadRequest, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/invitations", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/invitations/"+inv.Invitation.ID, "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "DELETE", "/api/v1/invitations/"+inv.Invitation.ID, "", nil)
	want(code, http.StatusForbidden, body)
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/invitations/"+inv.Invitation.ID, "", nil)
	want(code, http.StatusNoContent, body)
	code, body = c.do(RoleAdmin, "GET", "/api/v1/invitations/"+inv.Invitation.ID, "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_ada/disable", `{"reason":"`+strings.Repeat("x", 501)+`"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "reason" {
		t.Errorf("long reason: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_ada/disable", `{"reason":"ticket 42"}`, nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"disabled":true`) {
		t.Errorf("disable: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_ada/enable", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"disabled":false`) {
		t.Errorf("enable: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/nobody/enable", "", nil)
	want(code, http.StatusNotFound, body)
	if err := e.st.Write(context.Background(), store.Put(&store.User{ID: "usr_boss", Email: "boss@example.com", Role: RoleOwner, CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/users/usr_boss/disable", "", nil)
	if want(code, http.StatusForbidden, body); !strings.Contains(body, "may not disable") {
		t.Errorf("an admin disabling an owner: %s", body)
	}
	code, body = c.do(RoleOwner, "POST", "/api/v1/users/usr_boss/disable", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"disabled":true`) {
		t.Errorf("an owner disabling another owner (owner tokens remain): %s", body)
	}

	checkDecisionOperations(t, c)

	// Policy simulation.
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/policy/simulate",
		`{"route":"https://wiki.localhost/page","email":"ada@example.com","groups":"staff","device_trust":"high","ownership":"corporate","platform":"linux","compliant":true,"checks":"disk_encrypted","ip":"192.0.2.1","country":"FR","at":"2026-03-02T10:00:00Z","method":"POST","mfa_age":"5m","idp":"corp"}`, nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"outcome":"allow"`) {
		t.Errorf("simulate allow: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/policy/simulate", `{"route":"https://wiki.localhost/"}`, nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"outcome":"deny"`) {
		t.Errorf("simulate deny: %s", body)
	}
	for f, req := range map[string]string{"route": `{}`, "ip": `{"route":"https://wiki.localhost/","ip":"nope"}`, "device_trust": `{"route":"https://wiki.localhost/","device_trust":"total"}`} {
		code, body = c.do(RoleHelpdesk, "POST", "/api/v1/policy/simulate", req, nil)
		if want(code, http.StatusBadRequest, body); field(body, "field") != f {
			t.Errorf("simulate %s: %s", req, body)
		}
	}

	// Enrollment: expected devices (none yet, then an import), codes, tokens.
	code, body = c.do(RoleAuditor, "GET", "/api/v1/enrollment/expected", "", nil)
	want(code, http.StatusOK, body)
	csv := "serial,model,platform,owner_email,department,ownership,groups\nPF3ABC12,ThinkPad T14,linux,ada@example.com,Finance,corporate,finance;laptops\n"
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/expected", csv, nil, "Content-Type", "text/csv")
	want(code, http.StatusOK, body)
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/expected", "serial\n", nil, "Content-Type", "text/csv")
	if want(code, http.StatusBadRequest, body); field(body, "field") != "csv" {
		t.Errorf("bad CSV: %s", body)
	}
	// A device bound to its TPM (tpm_ek_sha256, case folded; validated).
	ekCSV := "serial,model,platform,owner_email,department,ownership,tpm_ek_sha256\nPF3ABC13,T14,linux,,,corporate,"
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/expected", ekCSV+strings.Repeat("AB", 31)+"\n", nil, "Content-Type", "text/csv")
	if want(code, http.StatusBadRequest, body); field(body, "field") != "csv" || !strings.Contains(body, "line 2: tpm_ek_sha256") {
		t.Errorf("bad tpm_ek_sha256: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/expected", ekCSV+strings.Repeat("AB", 32)+"\n", nil, "Content-Type", "text/csv")
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/enrollment/expected", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"tpm_ek_sha256":"`+strings.Repeat("ab", 32)+`"`) {
		t.Errorf("the expected-device list does not show tpm_ek_sha256: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/codes", `{"ownership":"corporate","user":"ada@example.com","ttl":"15m","name":"Ada's laptop"}`, nil)
	want(code, http.StatusCreated, body)
	adaCode := field(body, "code")
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/codes", `{}`, nil)
	want(code, http.StatusCreated, body)
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/codes", `{"ownership":"unmanaged"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "ownership" {
		t.Errorf("unmanaged code: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/enrollment/tokens", `{"name":"wave 1","ownership":"cope","max_uses":5,"ttl":"48h","expected_only":true}`, nil)
	want(code, http.StatusCreated, body)
	tokenID := field(body, "id")
	code, body = c.do(RoleAdmin, "POST", "/api/v1/enrollment/tokens", `{"name":"wave 2"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "max_uses" {
		t.Errorf("token without max_uses: %s", body)
	}
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/enrollment/codes/"+tokenID, "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "DELETE", "/api/v1/enrollment/codes/nope", "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/enrollment/codes", "", nil)
	want(code, http.StatusOK, body)

	// The agent enrolls with Ada's code; the serial is an expected device.
	enroll, _ := json.Marshal(map[string]any{"code": adaCode, "csr": oasCSR(t), "device": map[string]any{
		"serial": "PF3ABC12", "hostname": "ada-laptop", "platform": "linux", "model": "ThinkPad T14",
		"os_version": "Debian 13", "agent_version": "1.0.0", "work_profile": false, "time_zone": "Europe/Paris"}})
	code, body = c.do("", "POST", "/api/v1/agent/enroll", string(enroll), nil)
	want(code, http.StatusCreated, body)
	id, chain := field(body, "device_id"), oasChain(t, body)
	code, body = c.do("", "POST", "/api/v1/agent/enroll", string(enroll), nil)
	if want(code, http.StatusForbidden, body); field(body, "field") != "code" {
		t.Errorf("used code: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/enroll", `{"code":"nope","csr":"x"}`, nil)
	want(code, http.StatusUnauthorized, body)
	code, body = c.do("", "POST", "/api/v1/agent/enroll", `{"code":"x","csr":7}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "csr" {
		t.Errorf("malformed enroll: %s", body)
	}

	// The agent API.
	code, body = c.do("", "GET", "/api/v1/agent/profile", "", chain)
	want(code, http.StatusOK, body)
	code, body = c.do("", "GET", "/api/v1/agent/profile", "", nil)
	want(code, http.StatusUnauthorized, body)
	report := `{"seq":1,"collected_at":"` + now + `","time_zone":"Europe/Paris","signals":[` +
		`{"name":"disk.encrypted","value":true,"source":"lsblk -J","collected_at":"` + now + `"},` +
		`{"name":"os.version","value":"13","source":"/etc/os-release","collected_at":"` + now + `"},` +
		`{"name":"updates.pending","value":3,"source":"apt"},` +
		`{"name":"firewall.enabled","source":"nft","error":"nft: permission denied"},` +
		`{"name":"apps.installed","value":[{"name":"vim","version":"9.1","publisher":"Debian"}],"source":"dpkg-query"}]}`
	code, body = c.do("", "POST", "/api/v1/agent/posture", report, chain)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"accepted":true`) {
		t.Errorf("posture: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/posture", report, chain)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"replay":true`) {
		t.Errorf("replayed posture: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/posture", `{"seq":"x","collected_at":"`+now+`","signals":[]}`, chain)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "seq" {
		t.Errorf("bad seq: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/renew", "", chain)
	want(code, http.StatusOK, body)
	code, body = c.do("", "POST", "/api/v1/agent/renew", `{"csr":"`+strings.ReplaceAll(oasCSR(t), "\n", `\n`)+`"}`, chain)
	want(code, http.StatusOK, body)
	code, body = c.do("", "POST", "/api/v1/agent/renew", `{"csr":5}`, chain)
	want(code, http.StatusBadRequest, body)
	code, body = c.do("", "GET", "/api/v1/agent/origins", "", chain)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"https://wiki.localhost"`) {
		t.Errorf("origins: %s", body)
	}
	code, body = c.do("", "GET", "/api/v1/agent/origins", "", nil)
	want(code, http.StatusUnauthorized, body)

	// External posture for the same device, by serial.
	ext := `{"source":"edr","device":{"serial":"PF3ABC12"},"observed_at":"` + now + `","signals":[{"name":"antivirus.running","value":true},{"name":"firewall.enabled","value":true}]}`
	sign := func(b string) string { return posture.Sign([]byte(oasSourceSecret), []byte(b), time.Now()) }
	code, body = c.do("", "POST", "/api/v1/posture/ingest", ext, nil, "X-Portier-Signature", sign(ext), "X-Portier-Source", "edr")
	want(code, http.StatusOK, body)
	code, body = c.do("", "POST", "/api/v1/posture/ingest", ext, nil)
	want(code, http.StatusUnauthorized, body)
	old := strings.Replace(ext, now, "2020-01-01T00:00:00Z", 1)
	code, body = c.do("", "POST", "/api/v1/posture/ingest", old, nil, "X-Portier-Signature", sign(old))
	want(code, http.StatusConflict, body)
	unknown := strings.Replace(ext, "PF3ABC12", "NOPE1234", 1)
	code, body = c.do("", "POST", "/api/v1/posture/ingest", unknown, nil, "X-Portier-Signature", sign(unknown))
	want(code, http.StatusNotFound, body)
	bad := `{"source":"edr","observed_at":"` + now + `"}`
	code, body = c.do("", "POST", "/api/v1/posture/ingest", bad, nil, "X-Portier-Signature", sign(bad))
	if want(code, http.StatusBadRequest, body); field(body, "field") != "device" {
		t.Errorf("ingest without device: %s", body)
	}

	// Inventory and actions.
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices?state=active&ownership=corporate", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, id) {
		t.Errorf("inventory: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices?q=ada&sort=hostname&limit=1&compliant=true&trust=high", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices/export?format=csv&sort=-enrolled_at", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices?cursor=nope", "", nil)
	want(code, http.StatusBadRequest, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices/"+id, "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"posture"`) || !strings.Contains(body, `"external"`) {
		t.Errorf("device: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices/nope", "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices/"+id+"/privacy", "", nil)
	want(code, http.StatusOK, body)
	devActions := "/api/v1/devices/" + id + "/actions"
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"lock","params":{"reason":"lost in a taxi"}}`, nil, "Idempotency-Key", "k-1")
	want(code, http.StatusCreated, body)
	lockID := field(body, "id")
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"lock","params":{"reason":"lost in a taxi"}}`, nil, "Idempotency-Key", "k-1")
	want(code, http.StatusOK, body)
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"recollect"}`, nil, "Idempotency-Key", "k-1")
	want(code, http.StatusConflict, body)
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"message","params":{"title":"Hello"}}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "params.text" {
		t.Errorf("message without text: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"message","params":{"title":"Hello","text":"Please update.\nThanks"}}`, nil)
	want(code, http.StatusCreated, body)
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"selective_wipe"}`, nil)
	want(code, http.StatusForbidden, body)
	code, body = c.do(RoleAdmin, "POST", devActions, `{"type":"wipe"}`, nil)
	want(code, http.StatusForbidden, body) // wipes are off by default
	code, body = c.do(RoleAuditor, "GET", devActions, "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do("", "GET", "/api/v1/agent/actions?wait=0s", "", chain)
	if want(code, http.StatusOK, body); !strings.Contains(body, lockID) {
		t.Errorf("poll: %s", body)
	}
	code, body = c.do("", "GET", "/api/v1/agent/actions?wait=2h", "", chain)
	want(code, http.StatusBadRequest, body)
	code, body = c.do("", "POST", "/api/v1/agent/actions/"+lockID+"/result", `{"status":"acknowledged","result":"locked"}`, chain)
	want(code, http.StatusOK, body)
	code, body = c.do("", "POST", "/api/v1/agent/actions/"+lockID+"/result", `{"status":"failed","result":"no"}`, chain)
	want(code, http.StatusConflict, body)
	code, body = c.do("", "POST", "/api/v1/agent/actions/act_nope/result", `{"status":"acknowledged"}`, chain)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"quarantine","params":{"reason":"malware"}}`, nil)
	if want(code, http.StatusCreated, body); field(body, "status") != "acknowledged" {
		t.Errorf("quarantine: %s", body)
	}
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/devices/"+id+"/release", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/devices/nope/release", "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/kpis", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/inventory?ownership=corporate", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"platform"`) {
		t.Errorf("inventory counts: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/inventory/export?format=csv", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/inventory?trust=none", "", nil)
	want(code, http.StatusBadRequest, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/kpis/history?platform=linux", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/kpis/history?platform=linux&department=it", "", nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "platform" {
		t.Errorf("two filters: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/report?period=2026-Q4", "", nil)
	if want(code, http.StatusOK, body); field(body, "period") != "2026-Q4" {
		t.Errorf("report: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/report?period=2026-13", "", nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "period" {
		t.Errorf("report period: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/cluster", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"self":true`) {
		t.Errorf("cluster: %s", body)
	}

	// The organization decides ownership and sharing.
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/ownership", `{"ownership":"rented"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "ownership" {
		t.Errorf("bad ownership: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/ownership", `{"ownership":"cope"}`, nil)
	if want(code, http.StatusOK, body); field(body, "ownership") != "cope" || field(body, "ownership_source") != "approval" {
		t.Errorf("approve ownership: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/nope/ownership", "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/shared", `{}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "shared" {
		t.Errorf("shared absent: %s", body)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/shared", `{"shared":true}`, nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, `"shared":true`) {
		t.Errorf("share: %s", body)
	}
	code, body = c.do(RoleAdmin, "GET", "/api/v1/devices?pending=maybe", "", nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "pending" {
		t.Errorf("pending=maybe: %s", body)
	}

	// Retirement ends it.
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/retire", `{"reason":"`+strings.Repeat("r", 201)+`"}`, nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "reason" {
		t.Errorf("long reason: %s", body)
	}
	// A retire waits for a second person (approvals): the requester may
	// cancel, another person refuse or approve.
	for _, step := range []struct{ role, verb, state string }{{RoleAdmin, "cancel", "cancelled"}, {RoleOwner, "refuse", "refused"}} {
		code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/retire", "", nil)
		want(code, http.StatusAccepted, body)
		code, body = c.do(step.role, "POST", "/api/v1/approvals/"+field(body, "id")+"/"+step.verb, "", nil)
		if want(code, http.StatusOK, body); field(body, "state") != step.state {
			t.Errorf("%s: %s", step.verb, body)
		}
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/retire", `{"reason":"left the company"}`, nil)
	if want(code, http.StatusAccepted, body); field(body, "state") != "pending" || field(body, "action") != "retire" {
		t.Errorf("retire: %s", body)
	}
	apr := field(body, "id")
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/retire", `{"reason":"left the company"}`, nil, "Idempotency-Key", "k-retire")
	want(code, http.StatusAccepted, body)
	code, again := c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/retire", `{"reason":"left the company"}`, nil, "Idempotency-Key", "k-retire")
	if want(code, http.StatusAccepted, again); field(again, "id") != field(body, "id") {
		t.Errorf("the same Idempotency-Key asked twice: %s then %s", body, again)
	}
	code, body = c.do(RoleAdmin, "POST", "/api/v1/approvals/"+field(body, "id")+"/cancel", "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/approvals?state=pending", "", nil)
	if want(code, http.StatusOK, body); !strings.Contains(body, apr) {
		t.Errorf("pending approvals: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/approvals?state=maybe", "", nil)
	if want(code, http.StatusBadRequest, body); field(body, "field") != "state" {
		t.Errorf("state=maybe: %s", body)
	}
	code, body = c.do(RoleAuditor, "GET", "/api/v1/approvals/apr_nope", "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/approvals/"+apr+"/approve", "", nil)
	want(code, http.StatusForbidden, body) // the requester
	code, body = c.do(RoleOwner, "POST", "/api/v1/approvals/"+apr+"/cancel", "", nil)
	want(code, http.StatusForbidden, body) // not the requester
	code, body = c.do(RoleOwner, "POST", "/api/v1/approvals/"+apr+"/approve", "", nil)
	if want(code, http.StatusOK, body); field(body, "state") != "approved" || field(body, "result") != id+": retired" {
		t.Errorf("approve: %s", body)
	}
	code, body = c.do(RoleOwner, "POST", "/api/v1/approvals/"+apr+"/refuse", "", nil)
	want(code, http.StatusConflict, body)
	code, body = c.do(RoleAuditor, "GET", "/api/v1/approvals/"+apr, "", nil)
	want(code, http.StatusOK, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/"+id+"/retire", "", nil)
	want(code, http.StatusConflict, body)
	code, body = c.do(RoleAdmin, "POST", "/api/v1/devices/nope/retire", "", nil)
	want(code, http.StatusNotFound, body)
	code, body = c.do(RoleHelpdesk, "POST", devActions, `{"type":"lock"}`, nil)
	want(code, http.StatusConflict, body)
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/devices/"+id+"/release", "", nil)
	want(code, http.StatusConflict, body)
	code, body = c.do("", "GET", "/api/v1/agent/profile", "", chain)
	want(code, http.StatusUnauthorized, body) // its certificates were revoked

	// A second device leaves management by itself (portier agent unenroll).
	code, body = c.do(RoleHelpdesk, "POST", "/api/v1/enrollment/codes", `{"ownership":"corporate","user":"ada@example.com","ttl":"15m"}`, nil)
	want(code, http.StatusCreated, body)
	enroll2, _ := json.Marshal(map[string]any{"code": field(body, "code"), "csr": oasCSR(t), "device": map[string]any{"hostname": "ada-desktop", "platform": "linux"}})
	code, body = c.do("", "POST", "/api/v1/agent/enroll", string(enroll2), nil)
	want(code, http.StatusCreated, body)
	chain2 := oasChain(t, body)
	code, body = c.do("", "POST", "/api/v1/agent/unenroll", "{}", chain2)
	if want(code, http.StatusOK, body); field(body, "state") != "retired" {
		t.Errorf("unenroll: %s", body)
	}
	code, body = c.do("", "POST", "/api/v1/agent/unenroll", "{}", chain2)
	want(code, http.StatusUnauthorized, body) // its certificates were revoked
	code, body = c.do(RoleAuditor, "GET", "/api/v1/devices/"+id, "", nil)
	want(code, http.StatusOK, body)

	checkRulesOperations(t, c)
	checkLintOperation(t, c)
	checkApprovalOperations(t, c)
	checkRolloutOperations(t, c)
	checkAttestOperations(t, c)

	for _, o := range c.ops {
		if !c.checked[o.key()] {
			t.Errorf("%s: no 2xx answer was checked against the document", o.key())
		}
	}
}
