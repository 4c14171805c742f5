package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
)

// Paths Portier answers itself on every route host.
const (
	callbackPath = "/.portier/callback"
	signOutPath  = "/.portier/sign_out"
	// continuePath is the interstitial's "Continue" (see coexistence.go).
	continuePath = "/.portier/coexistence/continue"
)

// request is what one request resolved to, shared by the decision, the log
// and the re-evaluation of long-lived connections.
type request struct {
	rt      *route
	session *store.Session
	device  *store.Device
	serial  string      // device certificate serial, "" when none
	key     *ca.KeyInfo // what the presented device certificate says of its key; nil: none
	devNote string      // why a presented device credential was not accepted
	recheck bool        // the session's device proof is older than DeviceRecheck
	in      policy.Input
	conn    *connState
}

// ServeHTTP is the proxy's hot path.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := HostOnly(r.Host)
	t := p.table.Load()
	fold, known := t.fold[host]
	if !known {
		http.Error(w, "404 no application is configured at this address", http.StatusNotFound)
		return
	}
	// Route, decide and forward on one path: the normalised one.
	if slow, ok := normalizePath(r.URL, fold); !ok {
		p.badPath(w, host)
		return
	} else if slow {
		r.RequestURI = r.URL.RequestURI()
	}
	rt := t.match(host, r.URL.Path)
	if rt == nil {
		http.Error(w, "404 no application is configured at this address", http.StatusNotFound)
		return
	}
	if err := p.opts.Store.Fresh(); err != nil {
		// The shared store cannot be followed, or this replica has not
		// confirmed within the staleness bound that it is caught up:
		// revocations made elsewhere may be missing here, so no decision
		// can be trusted.
		p.unavailable(w, r, "Portier cannot reach its database, so it cannot check your access.")
		return
	}
	cookie := sessionCookie(r)
	ro := p.rollout.Load()
	acked := ro != nil && len(ro.coexist) > 0 && cookieValue(r, ackCookie) == "1"
	stripRequest(r)
	switch r.URL.Path {
	case callbackPath:
		p.callback(w, r, host)
		return
	case signOutPath:
		p.signOut(w, r, cookie)
		return
	case continuePath:
		p.acknowledge(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, mamPrefix) {
		serveMAMAsset(w, r)
		return
	}
	now := p.opts.Clock()
	start := time.Now() // the latency metric's, on the monotonic clock (tests freeze Clock)
	req := &request{rt: rt}
	p.resolve(r, req, cookie, now)
	if req.session == nil {
		p.signIn(w, r, rt)
		return
	}
	if req.recheck && wantsHTML(r) {
		p.deviceCheck(w, r)
		return
	}
	p.bindOwner(req)
	p.fillInput(req, r, now, ro)
	if c := ro.coexistFor(rt, &req.in); c != nil && now.Before(c.deadline) && isNavigation(r) && !acked {
		p.interstitial(w, r, c)
		return
	}
	dec := p.decide(req, ro)
	p.opts.Metrics.observe(time.Since(start))
	p.logDecision(r, req, dec)
	switch dec.Outcome {
	case policy.Allow, policy.AllowRestricted:
		p.touch(req.session, now)
		stripAttemptCookies(r)
		p.forward(w, r, req, dec)
	case policy.StepUp:
		p.stepUp(w, r, dec)
	default:
		p.deny(w, r, req, dec, http.StatusForbidden)
	}
}

// decide evaluates the route's policy. For a report-only policy the decision
// is logged as what would have happened, and what the policy shadows (or, if
// nothing, "allow") is enforced.
func (p *Proxy) decide(req *request, ro *rolloutState) policy.Decision {
	dec, observed := req.rt.decide(&req.in, ro)
	if observed != nil {
		p.reportOnly(req, *observed)
	}
	p.opts.Recorder.Record(req.rt, &req.in, &dec, observed)
	return dec
}

// decide is the route's decision for in: what is enforced and, when the
// route's policy is report-only, what it would have decided. The proxy and
// the what-if simulator both call it, so they cannot disagree.
//
// ro (nil: no rollout plan) adds two things. A coexistence deadline that
// covers the route and has passed denies an unmanaged device before any
// policy is read. A report-only policy whose enforce_for names one of the
// person's waves (in.Waves) is enforced for them: its own decision is the
// one applied and recorded, not observed.
func (rt *route) decide(in *policy.Input, ro *rolloutState) (enforced policy.Decision, observed *policy.Decision) {
	if c := ro.coexistFor(rt, in); c != nil && !in.Now.Before(c.deadline) {
		return ro.deadlineDenial(rt, c), nil
	}
	dec := rt.policy.Evaluate(in)
	if rt.policy.Mode != policy.ReportOnly {
		return dec, nil
	}
	if rt.policy.EnforcedFor(in.Waves) {
		dec.ReportOnly = false
		return dec, nil
	}
	if rt.enforced != nil {
		return rt.enforced.Evaluate(in), &dec
	}
	if !in.Authenticated {
		return policy.Decision{Outcome: policy.Deny, Policy: rt.policy.ID,
			Reasons: []policy.Reason{{Code: "session", Message: "You are not signed in.", Remediation: "Sign in."}}}, &dec
	}
	return policy.Decision{Outcome: policy.Allow, Policy: rt.policy.ID, Rules: []string{rt.policy.ID + "/report-only"}}, &dec
}

func (p *Proxy) fillInput(req *request, r *http.Request, now time.Time, ro *rolloutState) {
	s := req.session
	in := &req.in
	in.Authenticated = true
	in.UserID, in.Email, in.Groups, in.IdP, in.MFAAt = s.UserID, s.Email, s.Groups, s.IdP, s.MFAAt
	in.SignedInAt = signedInAt(s)
	in.IP = clientIP(r)
	if p.opts.GeoIP != nil {
		in.Country = p.opts.GeoIP.Country(in.IP)
	}
	in.Now, in.Method, in.Path = now, r.Method, r.URL.Path
	in.Device = policyDevice(req.device, req.key)
	in.Waves = ro.waves(s.Email, s.Groups)
}

// policyDevice is what the policy sees of a device, identified by a
// credential whose key is key (a device certificate's, or nil for a BYOD
// passkey: software); a nil device is unmanaged. The key is the
// presented credential's, not the device's: one device has several
// certificates (the agent's, browser ones), and a request is as strong as
// the one it presented. So a device at trust high is at medium for a
// request whose certificate key is not hardware-bound.
func policyDevice(d *store.Device, key *ca.KeyInfo) policy.Device {
	if d == nil {
		return policy.Device{Ownership: store.OwnershipUnmanaged}
	}
	pd := policy.Device{ID: d.ID, Trust: d.Trust, Ownership: d.Ownership, Platform: d.Platform,
		Compliant: d.Compliant, Managed: true, PassingChecks: d.PassingChecks, LastSeen: d.LastSeen,
		Key: store.KeySoftware}
	if key != nil {
		pd.KeySource = key.Source
		if key.Hardware() {
			pd.Key = store.KeyHardware
		}
	}
	capTrust(&pd)
	return pd
}

// capTrust lowers a request's trust high to medium when the credential it
// presented has no hardware-bound key: the what-if applies it too, so it
// answers as the proxy does.
func capTrust(pd *policy.Device) {
	if pd.Trust == store.TrustHigh && pd.Key != store.KeyHardware {
		pd.Trust, pd.TrustCapped = store.TrustMedium, true
	}
}

// sessionCookie returns Portier's session cookie value, "" if none.
func sessionCookie(r *http.Request) string { return cookieValue(r, identity.SessionCookie) }

// cookieValue returns the value of the request's cookie called name, ""
// if none, without allocating.
func cookieValue(r *http.Request, cookie string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && name == cookie {
				return strings.Trim(value, `"`)
			}
		}
	}
	return ""
}

// stripRequest removes what a client must not be able to send upstream:
// every spelling of a header Portier sets or has decided on (see
// spoofable) and Portier's cookie.
func stripRequest(r *http.Request) {
	for k := range r.Header {
		if spoofable(k) {
			delete(r.Header, k)
		}
	}
	dropCookies(r, isRequestPortierCookie)
}

// isRequestPortierCookie names the cookies Portier sets on route hosts,
// never forwarded upstream: the session and the interstitial's
// acknowledgment.
func isRequestPortierCookie(name string) bool {
	return name == identity.SessionCookie || name == ackCookie
}

// dropCookies removes from r's Cookie headers every cookie whose name drop
// matches, keeping the others in order.
func dropCookies(r *http.Request, drop func(name string) bool) {
	lines := r.Header.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	r.Header.Del("Cookie")
	for _, line := range lines {
		var kept []string
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part != "" && !drop(name) {
				kept = append(kept, part)
			}
		}
		if len(kept) > 0 {
			r.Header.Add("Cookie", strings.Join(kept, "; "))
		}
	}
}

// signIn sends a browser to the console to sign in and come back; other
// clients get 401.
func (p *Proxy) signIn(w http.ResponseWriter, r *http.Request, rt *route) {
	if !wantsHTML(r) {
		w.Header().Set("WWW-Authenticate", `Portier realm="`+rt.from+`"`)
		http.Error(w, "401 sign in through Portier first", http.StatusUnauthorized)
		return
	}
	q := url.Values{"rd": {p.attemptURL(w, r)}}
	if rt.idp != "" {
		q.Set("idp", rt.idp)
	}
	http.Redirect(w, r, p.opts.ExternalURL+"/auth/sign_in?"+q.Encode(), http.StatusFound)
}

// stepUp sends the browser to the console's MFA ceremony and back.
func (p *Proxy) stepUp(w http.ResponseWriter, r *http.Request, dec policy.Decision) {
	if !wantsHTML(r) {
		http.Error(w, "401 this request needs a recent security-key check; open it in a browser", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, p.opts.ExternalURL+"/auth/step_up?"+url.Values{"rd": {p.attemptURL(w, r)}}.Encode(), http.StatusFound)
}

// deviceCheck sends a browser whose device proof is too old to the
// console's /auth/device, where it confirms the device with its passkey and
// comes back (requests other than navigations are decided as from no
// device instead).
func (p *Proxy) deviceCheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.opts.ExternalURL+"/auth/device?"+url.Values{"rd": {p.attemptURL(w, r)}}.Encode(), http.StatusFound)
}

func wantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

func requestURL(r *http.Request) string {
	return "https://" + r.Host + r.URL.RequestURI()
}

// HostOnly is a Host header's lower-case host name, without port or
// trailing dot.
func HostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
