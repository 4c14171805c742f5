package enrollment

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// CA is the part of the certificate authority enrollment uses; *ca.CA
// implements it.
type CA interface {
	IssueDevice(ctx context.Context, csr *x509.CertificateRequest, deviceID string, key ca.KeyInfo) ([]*x509.Certificate, error)
	Renew(ctx context.Context, leaf *x509.Certificate, csr *x509.CertificateRequest, key ca.KeyInfo) ([]*x509.Certificate, error)
	Revoke(ctx context.Context, serial string, reasonCode int, reason string) error
	RevokeOp(serial string, reasonCode int, reason string) (op store.Op, ok bool, err error)
	VerifyClient(chain []*x509.Certificate, now time.Time) (deviceID, serial string, err error)
}

var _ CA = (*ca.CA)(nil)

// Posture is what enrollment needs from the posture engine
// (*posture.Engine implements it): ingest a report, tell a device's data
// profile and privacy notice, recompute trust after a lifecycle change,
// and reset the compliance escalation when a device leaves quarantine.
type Posture interface {
	Ingest(ctx context.Context, deviceID string, r posture.Report) error
	Profile(d *store.Device) posture.DataProfile
	PrivacyIn(d *store.Device, lang string) posture.Notice
	Recompute(ctx context.Context, deviceID string) error
	ResetEscalation(ctx context.Context, deviceID, actor string) error
}

var _ Posture = (*posture.Engine)(nil)

// ActionQueue is what the posture engine needs from enrollment.
var _ posture.ActionQueue = (*Service)(nil)

// Options are a Service's dependencies. Store and CA are required.
type Options struct {
	Store *store.Store
	CA    CA
	Clock func() time.Time // default time.Now
	Log   *slog.Logger     // default: discard
	// ExternalURL is where users and agents reach Portier; enrollment URLs
	// and QR codes point there.
	ExternalURL string
	Config      Config
	// Posture is the posture engine; it may also be set later with
	// SetPosture (the engine needs the Service as its action queue).
	Posture Posture
	// Counter counts self-service code requests per user and per address
	// (store.CounterFor the backend, so replicas share the count); default
	// in-process.
	Counter store.Counter
	// EKRoots are the TPM manufacturer CAs whose endorsement keys make an
	// attested key store.KeySourceTPM; nil trusts none (attested keys are
	// then the agent's word).
	EKRoots *EKRoots
}

// Service is the device registry. It is safe for concurrent use.
type Service struct {
	st      *store.Store
	ca      CA
	clock   func() time.Time
	log     *slog.Logger
	ext     string
	cfg     Config
	posture atomic.Pointer[postureBox]
	perIP   *limiter // enrollment attempts per client address
	badIP   *limiter // failed enrollment attempts per client address
	claims  claimAllocator
	counter store.Counter // self-service limits, shared across replicas
	ekRoots *EKRoots      // TPM manufacturer CAs (nil: none)
}

type postureBox struct{ p Posture }

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.CA == nil {
		return nil, errors.New("enrollment: Options.Store and Options.CA are required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		st: o.Store, ca: o.CA, clock: o.Clock, log: o.Log,
		ext: strings.TrimSuffix(o.ExternalURL, "/"), cfg: o.Config.withDefaults(),
		perIP: newLimiter(enrollRate, enrollBurst), badIP: newLimiter(badEnrollRate, badEnrollBurst),
	}
	s.counter = o.Counter
	s.ekRoots = o.EKRoots
	if s.counter == nil {
		s.counter = store.NewMemoryCounter(maxLimiters)
	}
	if o.Posture != nil {
		s.SetPosture(o.Posture)
	}
	return s, nil
}

// SetPosture connects the posture engine. Call it before serving.
func (s *Service) SetPosture(p Posture) { s.posture.Store(&postureBox{p: p}) }

// postureEngine returns the posture engine, nil when none is connected.
func (s *Service) postureEngine() Posture {
	if b := s.posture.Load(); b != nil {
		return b.p
	}
	return nil
}

// Config returns the effective settings.
func (s *Service) Config() Config { return s.cfg }

// Actor is who asks for a change, for the audit log: "token:<id>",
// "user:<email>", "system:compliance", "device:<id>".
type Actor struct {
	ID       string
	RemoteIP string
}

// auditOp is the audit event of a change, written in the change's
// transaction.
func (s *Service) auditOp(a Actor, now time.Time, action, target string, detail map[string]string) store.Op {
	ev := store.NewAuditEvent(now, a.ID, action, target)
	ev.RemoteIP = a.RemoteIP
	ev.Detail = detail
	return store.Put(ev)
}
