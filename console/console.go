// Package console is Portier's console host: the REST API, the first-run
// set-up page, health endpoints and the CA's public files. Handlers are thin
// methods on Console (decode, call the store or a service, encode); every
// route is declared in routes.go.
package console

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// MaxBodyBytes bounds every API request body.
const MaxBodyBytes = 1 << 20

// Options are the console's dependencies.
type Options struct {
	Store       *store.Store
	Log         *slog.Logger
	Clock       func() time.Time
	ExternalURL string
	// Roots and CRL serve /ca/roots.pem and /ca/crl.
	Roots, CRL http.Handler
	// AgentDownloadsDir holds agent binaries for other platforms than the
	// server's (enrollment's agent_downloads_dir); "" serves only the
	// server's own executable at /download/agent/{os}-{arch}.
	AgentDownloadsDir string
	// Executable is the server's own binary (nil: os.Executable), served
	// as the agent for the server's GOOS/GOARCH.
	Executable func() (string, error)
	// RootFingerprint is the SHA-256 of the CA root the /enroll page shows
	// for the agent's --ca-fingerprint; "" leaves the flag out.
	RootFingerprint string
	// Ready reports whether the server can serve (store reachable, CA loaded).
	Ready func(ctx context.Context) error
	// JWKS returns the upstream assertion keys, served at
	// /.well-known/portier/jwks.json.
	JWKS func() []byte
	// Simulate answers the what-if API with the live routes and policies.
	Simulate func(target string, q proxy.Query) (*proxy.Simulation, error)
	// Waves gives a person's rollout waves (rollout.Key) as the plans say
	// now, for the impact replay; nil: no plan.
	Waves func(email string, groups []string) []string
	// Identity signs people in (the /auth/ pages); nil serves none of them.
	Identity *identity.Service
	// PostureIngest is the signed webhook external MDM/EDR sources post
	// posture to (POST /api/v1/posture/ingest); its HMAC is the
	// authentication, not an API token. Nil serves none.
	PostureIngest http.Handler
	// Enrollment is the device registry: enrollment, devices, remote
	// actions, KPIs and the agent API; nil serves none of them.
	Enrollment *enrollment.Service
	// InForce returns the routes and policies in force, for the impact
	// replay; nil answers 503 there.
	InForce func() Rules
	// CheckNames lists the compliance checks a draft policy may name; nil
	// checks none.
	CheckNames func() []string
	// Origins lists Portier's https origins (console and routes), for the
	// agent's browser policy; nil answers an empty list.
	Origins func() []string
	// Rules reads and writes the versioned routes and policies; nil serves
	// none of their routes.
	Rules *rules.Service
	// Routes lists the live routes' from URLs (scheme://host[:port][/prefix]),
	// for the signed-in home; nil lists none.
	Routes func() []string
	// Cluster lists the replicas' heartbeats (GET /api/v1/cluster);
	// ReplicaID is this replica's; a replica whose last heartbeat is older
	// than MissingAfter is shown missing.
	Cluster      store.Replicas
	ReplicaID    string
	MissingAfter time.Duration
	// Leases lists who holds each background job's lease, for the cluster
	// view; nil lists none.
	Leases func(context.Context) ([]store.LeaseHolder, error)
	// Report is the config's cost inputs of the executive report.
	Report config.Report
	// Approvals configure two-person approval of destructive fleet
	// actions (zero values: the defaults).
	Approvals ApprovalOptions
}

// Console serves the console host.
type Console struct {
	opts   Options
	engine *gin.Engine
	// declared maps "METHOD /path" to the Permission its require
	// guard checks (see declare).
	declared sync.Map
	ui       *ui.UI
	// guide is the user guide /help shows, rendered once (nil if it
	// could not be: /help then says so).
	guide *guidePage
	// agents finds the agent binaries /download/agent/ serves.
	agents *agentFiles
}

// New builds the console and its route table.
func New(opts Options) *Console {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	pages, err := ui.New()
	if err != nil {
		panic(err) // the embedded templates are broken: a build defect the tests catch
	}
	c := &Console{opts: opts, engine: e, ui: pages, agents: newAgentFiles(opts.AgentDownloadsDir, opts.Executable)}
	e.Use(gin.CustomRecoveryWithWriter(nil, func(g *gin.Context, err any) {
		opts.Log.Error("console: panic", "path", g.Request.URL.Path, "panic", err)
		c.failPage(g, apperr.New(apperr.Internal, "internal error"))
	}))
	// Portier terminates TLS itself: the client address is the peer's, and a
	// client-sent X-Forwarded-For is never believed.
	_ = e.SetTrustedProxies(nil)
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	if guide, err := renderGuide(); err != nil {
		opts.Log.Error("console: the user guide could not be rendered; /help answers 404", "err", err)
	} else {
		c.guide = guide
	}
	c.routes()
	return c
}

// ServeHTTP serves one console request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.engine.ServeHTTP(w, r) }

// Routes lists the registered method and path pairs, for the route-table test.
func (c *Console) Routes() gin.RoutesInfo { return c.engine.Routes() }

func (c *Console) now() time.Time { return c.opts.Clock() }
