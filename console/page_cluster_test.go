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

// failingReplicas is a Replicas whose database is unreachable.
type failingReplicas struct{ *store.LocalReplicas }

func (failingReplicas) Replicas(context.Context) ([]store.Heartbeat, error) {
	return nil, errors.New("connection refused")
}

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
	replicas := store.NewLocalReplicas(time.Now)
	ctx := context.Background()
	if err := replicas.Beat(ctx, store.Heartbeat{ReplicaID: "web-1", Version: "v9.1", AppliedSeq: 40, HeadSeq: 42,
		DBLatency: 1500 * time.Microsecond}); err != nil {
		t.Fatal(err)
	}
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
	row := p.body[strings.Index(p.body, `data-replica="web-1"`):]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{"v9.1", "(this one)", "serving", "<td>2</td>", "<td>1.5</td>",
		"<code>audit.retention</code>, <code>posture.scheduler</code>"} {
		if !strings.Contains(row, want) {
			t.Errorf("the replica's row lacks %q:\n%s", want, row)
		}
	}
	if strings.Contains(row, "decisions.prune") {
		t.Errorf("web-1 is shown running web-2's job:\n%s", row)
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

	con.opts.Cluster = failingReplicas{}
	if p := b.get(extURL + "/cluster"); p.StatusCode != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" ||
		!strings.Contains(p.body, "cannot read the replicas") || strings.Contains(p.body, "connection refused") {
		t.Errorf("unreachable database: %d\n%s", p.StatusCode, p.body)
	}
}
