package proxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// certFor issues another certificate for an existing device, for a key
// of its own, saying key about it.
func (e *env) certFor(id string, key ca.KeyInfo) tls.Certificate {
	e.t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	if err != nil {
		e.t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	chain, err := e.ca.IssueDevice(context.Background(), csr, id, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{chain[0].Raw, chain[1].Raw}, PrivateKey: k, Leaf: chain[0]}
}

const keyPolicies = `
policies:
  - id: high
    allow:
      and:
        - device: {trust: {gte: high}}
  - id: hardware
    allow:
      and:
        - device: {key: hardware}
  - id: attested
    allow:
      and:
        - device: {key: attested}
`

// TestRequestIsAsStrongAsItsCertificate: one device (corporate, trust
// high) holds three certificates: the agent's TPM key that Portier
// attested, a hardware key the agent only claims, and a software browser
// key. Each request is judged by the certificate it presented: the
// software one is capped at trust medium (and the deny page says why),
// `key: hardware` takes the claimed hardware key, `key: attested` only the
// attested one.
func TestRequestIsAsStrongAsItsCertificate(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.session("ann@example.com", "staff")
	e.device("dev_ann", store.TrustHigh, store.OwnershipCorporate)
	certs := map[string]tls.Certificate{
		"attested": e.certFor("dev_ann", ca.KeyInfo{Protection: store.KeyHardware, Source: store.KeySourceTPM, Purpose: ca.PurposeAgent}),
		"claimed":  e.certFor("dev_ann", ca.KeyInfo{Protection: store.KeyHardware, Source: store.KeySourceAgent, Purpose: ca.PurposeAgent}),
		"browser":  e.certFor("dev_ann", ca.KeyInfo{Protection: store.KeySoftware, Source: store.KeySourceAgent, Purpose: ca.PurposeBrowser, Person: "ann"}),
	}
	pols, err := policy.Parse("keys.yaml", []byte(keyPolicies))
	if err != nil {
		t.Fatal(err)
	}
	route := func(host, pol string) proxy.Route {
		return proxy.Route{Route: config.Route{From: "https://" + host, To: e.upstream.URL, Policy: pol}}
	}
	// The session cookie is handed off to wiki.localhost; the three
	// routes share that host under path prefixes.
	if err := e.p.Load([]proxy.Route{route("wiki.localhost/high", "high"), route("wiki.localhost/hw", "hardware"),
		route("wiki.localhost/att", "attested")}, pols); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cert, path string
		want       int
		says       string
	}{
		{"attested", "/high", 200, ""},
		{"claimed", "/high", 200, ""},
		{"browser", "/high", 403, "caps the trust of its requests at medium"},
		{"attested", "/hw", 200, ""},
		{"claimed", "/hw", 200, ""},
		{"browser", "/hw", 403, "stored in software"},
		{"attested", "/att", 200, ""},
		{"claimed", "/att", 403, "Portier could not verify it"},
		{"browser", "/att", 403, "stored in software"},
	} {
		t.Run(tc.cert+tc.path, func(t *testing.T) {
			c := certs[tc.cert]
			resp, body := e.do(e.client(&c), "GET", "https://wiki.localhost"+tc.path+"/x", cookie, map[string]string{"Accept": "text/html"})
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.want, body)
			}
			if tc.says != "" && !strings.Contains(body, tc.says) {
				t.Errorf("deny page does not say %q:\n%s", tc.says, body)
			}
		})
	}
}
