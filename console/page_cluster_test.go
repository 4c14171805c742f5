package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// fixedReplicas is a Replicas that lists its heartbeats, or fails with
// err (an unreachable database).
type fixedReplicas struct {
	hbs []store.Heartbeat
	err error
}

func (f *fixedReplicas) Beat(context.Context, store.Heartbeat) error         { return f.err }
func (f *fixedReplicas) Leave(context.Context, string) error                 { return f.err }
func (f *fixedReplicas) Replicas(context.Context) ([]store.Heartbeat, error) { return f.hbs, f.err }

// signedInAs is a browser signed in to the console as a new user with
// role, with a security key (as a console role needs).
func (e *env) signedInAs(t *testing.T, email, role string) *browser {
	t.Helper()
	u := e.addUser(t, email, pw, false)
	e.setRole(t, u, role)
	b := e.browser(t)
	b.signInPassword(email, pw, "")
	e.keyUsed(t, u)
	return b
}

// TestClusterPage: an auditor sees each replica with its version, state,
// lag, latency and the background jobs it runs, as the API lists them; the
// help desk gets the 403 page and no menu entry; an unreachable database is
// a 503 page that says so.
func TestClusterPage(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	con := e.srv.Config.Handler.(*Console)
	replicas := &fixedReplicas{hbs: []store.Heartbeat{
		{ReplicaID: "web-1", Version: "v9.1", AppliedSeq: 40, HeadSeq: 42, DBLatency: 1500 * time.Microsecond, Age: time.Second},
		{ReplicaID: "web-2", Version: "v9.0", AppliedSeq: 42, HeadSeq: 42, Staleness: time.Minute, Age: time.Second},
		{ReplicaID: "web-3", Version: "v9.0", AppliedSeq: 30, HeadSeq: 30, Age: time.Hour},
	}}
	con.opts.Cluster, con.opts.ReplicaID, con.opts.MissingAfter = replicas, "web-1", 6*time.Second
	con.opts.Leases = func(context.Context) ([]store.LeaseHolder, error) {
		return []store.LeaseHolder{{Name: "posture.scheduler", Holder: "web-1"}, {Name: "audit.retention", Holder: "web-1"},
			{Name: "decisions.prune", Holder: "web-2"}}, nil
	}

	b := e.signedInAs(t, "aud@example.com", RoleAuditor)
	p := b.get(extURL + "/cluster")
	if p.StatusCode != http.StatusOK {
		t.Fatalf("auditor: %d\n%s", p.StatusCode, p.body)
	}
	row := func(id string) string {
		r := p.body[strings.Index(p.body, `data-replica="`+id+`"`):]
		return r[:strings.Index(r, "</tr>")]
	}
	for id, wants := range map[string][]string{
		"web-1": {"v9.1", "(this one)", `class="state">serving<`, "<td>2</td>", "<td>1.5</td>",
			"<code>audit.retention</code>, <code>posture.scheduler</code>"},
		"web-2": {"v9.0", `class="state">stale: refusing<`, "<td>0</td>", "<td>60000</td>", "<code>decisions.prune</code>"},
		"web-3": {`class="state">missing<`, "<td>12</td>", "(3600 s ago)", `class="leases">none<`},
	} {
		r := row(id)
		for _, want := range wants {
			if !strings.Contains(r, want) {
				t.Errorf("%s's row lacks %q:\n%s", id, want, r)
			}
		}
	}
	if strings.Contains(row("web-1"), "decisions.prune") || strings.Contains(row("web-2"), "(this one)") {
		t.Errorf("jobs or self shown on the wrong replica:\n%s", p.body)
	}
	if home := b.get(extURL + "/"); !strings.Contains(home.body, `href="/cluster"`) {
		t.Error("the auditor's menu has no cluster entry")
	}

	hb := e.signedInAs(t, "help@example.com", RoleHelpdesk)
	if p := hb.get(extURL + "/cluster"); p.StatusCode != http.StatusForbidden || strings.Contains(p.body, "web-1") {
		t.Errorf("helpdesk: %d", p.StatusCode)
	}
	if home := hb.get(extURL + "/"); strings.Contains(home.body, `href="/cluster"`) {
		t.Error("the help desk's menu links the cluster page it may not open")
	}

	replicas.err = errors.New("connection refused")
	if p := b.get(extURL + "/cluster"); p.StatusCode != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" ||
		!strings.Contains(p.body, "cannot read the replicas") || strings.Contains(p.body, "connection refused") {
		t.Errorf("unreachable database: %d\n%s", p.StatusCode, p.body)
	}
}
