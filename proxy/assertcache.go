package proxy

import (
	"strings"
	"sync"
	"time"

	"github.com/portier/portier/assertion"
	"github.com/portier/portier/store"
)

// assertionTTL is the lifetime of a signed assertion; resignBefore is how
// close to expiry a cached one is replaced.
const (
	assertionTTL = assertion.MaxTTL
	resignBefore = time.Minute
)

// assertionCache keeps one signed assertion per (session, route). Signing
// costs tens of microseconds, so a cached token is reused until shortly
// before it expires, or until what it says (the session or the device's
// identity, trust or ownership) changes.
type assertionCache struct {
	m sync.Map // cacheKey -> *cachedAssertion
}

type cacheKey struct {
	session, route string
}

type cachedAssertion struct {
	token string
	// headers are the identity headers forwarded with the token, built
	// once; each value slice has len == cap, so an append elsewhere copies.
	headers []headerValue
	expires time.Time
	session *store.Session // the record signed (records are immutable: a change is a new pointer)
	device  string
	trust   store.Trust
	owner   store.Ownership
}

type headerValue struct {
	name string
	vals []string
}

func (c *assertionCache) get(p *Proxy, req *request) (*cachedAssertion, error) {
	now := req.in.Now
	k := cacheKey{req.session.ID, req.rt.from}
	var devID string
	var trust store.Trust
	var owner store.Ownership
	if d := req.device; d != nil {
		devID, trust, owner = d.ID, d.Trust, d.Ownership
	}
	if v, ok := c.m.Load(k); ok {
		ca := v.(*cachedAssertion)
		if ca.session == req.session && ca.device == devID && ca.trust == trust && ca.owner == owner && now.Add(resignBefore).Before(ca.expires) {
			return ca, nil
		}
	}
	s := req.session
	claims := assertion.Claims{Issuer: p.opts.ExternalURL, Audience: req.rt.from, Subject: s.UserID, Email: s.Email,
		Groups: s.Groups, IssuedAt: now.Unix(), Expiry: now.Add(assertionTTL).Unix()}
	if claims.Groups == nil {
		claims.Groups = []string{}
	}
	if devID != "" {
		claims.Device = &assertion.DeviceClaim{ID: devID, Trust: trust.String(), Ownership: string(owner)}
	}
	tok, err := p.opts.Signer.Sign(claims)
	if err != nil {
		return nil, err
	}
	ca := &cachedAssertion{token: tok, expires: now.Add(assertionTTL), session: s, device: devID, trust: trust, owner: owner}
	ca.headers = []headerValue{{"X-Portier-Assertion", []string{tok}}, {"X-Portier-Email", []string{s.Email}},
		{"X-Portier-User", []string{s.UserID}}, {"X-Portier-Groups", []string{strings.Join(s.Groups, ",")}}}
	if devID != "" {
		ca.headers = append(ca.headers, headerValue{"X-Portier-Device", []string{devID}}, headerValue{"X-Portier-Trust", []string{trust.String()}})
	} else {
		ca.headers = append(ca.headers, headerValue{"X-Portier-Trust", []string{"untrusted"}})
	}
	c.m.Store(k, ca)
	return ca, nil
}

// prune drops expired entries; the janitor calls it every minute.
func (c *assertionCache) prune(now time.Time) {
	c.m.Range(func(k, v any) bool {
		if !now.Before(v.(*cachedAssertion).expires) {
			c.m.Delete(k)
		}
		return true
	})
}
