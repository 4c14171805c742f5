package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// TestAgentSpeaksItsProtocolVersion: every request names the agent's
// protocol version, and an answer from a server of another major version
// is not read: the agent says which side to upgrade.
func TestAgentSpeaksItsProtocolVersion(t *testing.T) {
	var sent []string
	announce := "1.4"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = append(sent, r.Header.Get(agentwire.VersionHeader))
		if announce != "" {
			w.Header().Set(agentwire.VersionHeader, announce)
		}
		w.Write([]byte(`{"device_id":"dev_1","allowed_signals":[],"posture_interval":"15m0s"}`))
	}))
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := newClient(srv.URL, pool, nil)
	defer c.close()
	ctx := context.Background()
	var p agentwire.Profile
	for _, v := range []string{"1.4", ""} { // a newer minor; a server older than the header
		announce = v
		if err := c.call(ctx, http.MethodGet, "/api/v1/agent/profile", nil, &p); err != nil || p.DeviceID != "dev_1" {
			t.Errorf("server announcing %q: %+v, %v", v, p, err)
		}
	}
	for _, tc := range []struct{ announce, want string }{
		{"2.0", "upgrade the Portier agent"},
		{"0.1", "upgrade the Portier server"},
		{"two", "malformed"},
	} {
		announce = tc.announce
		p = agentwire.Profile{}
		err := c.call(ctx, http.MethodGet, "/api/v1/agent/profile", nil, &p)
		var api *APIError
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &api) || p.DeviceID != "" {
			t.Errorf("server announcing %q: %+v, %v; want an error saying %q and nothing read", tc.announce, p, err, tc.want)
		}
	}
	for i, v := range sent {
		if v != agentwire.Version {
			t.Errorf("request %d sent %s %q, want %q", i, agentwire.VersionHeader, v, agentwire.Version)
		}
	}
}

// TestLongFailedResultIsReported: a command that fails with long output
// full of terminal escapes is reported failed, its output clipped to what
// the server accepts; before, the server refused the report (400) and the
// agent failed on it every cycle.
func TestLongFailedResultIsReported(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	noisy := "\x1b[31mlock error\x1b[0m: " + strings.Repeat("no session for user; ", 500)
	run := &fakeRunner{fail: map[string]error{"loginctl": errors.New(noisy)}}
	a, _ := enrolled(t, s, store.OwnershipCorporate, run, &fakeCollect{}, nil)
	lock := s.queue(t, a.DeviceID(), "lock", nil)
	if err := a.Once(context.Background()); err != nil {
		t.Fatalf("cycle with a noisy failure: %v", err)
	}
	act, _ := s.st.Action(lock.ID)
	if act.Status != store.ActionFailed || len(act.Result) > agentwire.MaxResultBytes || !strings.Contains(act.Result, "lock error") {
		t.Errorf("the failure recorded on the server = %s %q", act.Status, act.Result)
	}
}
