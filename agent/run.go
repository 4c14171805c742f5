package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/posture/collect"
)

// Defaults of Options.
const (
	DefaultPollWait = 30 * time.Second
	defaultInterval = 15 * time.Minute
	maxChangeCheck  = 5 * time.Minute
	actionTimeout   = 2 * time.Minute
	maxBackoff      = 5 * time.Minute
	pollGrace       = 30 * time.Second
)

// ErrUnenrolled is returned by Run and Once after a selective wipe or a
// full wipe: the agent removed its enrollment and must stop.
var ErrUnenrolled = errors.New("agent: the device was unenrolled by a remote action")

// Options configure an Agent.
type Options struct {
	StateDir string
	Version  string
	Platform string           // default NativePlatform()
	Clock    func() time.Time // default time.Now
	Log      *slog.Logger     // default: discard
	// Runner runs action commands (lock, notifications, the wipe command);
	// default collect.ExecRunner. Tests inject a fake so they never lock
	// or wipe the machine they run on.
	Runner collect.Runner
	// Collect gathers the allowed signals; default the native collectors
	// on the real machine.
	Collect func(ctx context.Context, allowed collect.Allowed) []collect.Signal
	// WipeCommand is the operator's full-wipe command (argv). Empty: full
	// wipe is disabled on this device, whatever the server asks.
	WipeCommand []string
	// PollWait is how long each action long-poll waits (default 30s).
	PollWait time.Duration
	// TimeZone returns the device's IANA zone for reports.
	TimeZone func() string
	// Browser configures where the device identity is installed for the
	// browsers (see SyncBrowsers); nil leaves the browsers alone.
	Browser *BrowserOptions
	// TPM opens the TPM holding the device key, when device.key is a TPM
	// key (default OpenSystemTPM).
	TPM TPMOpener
}

// Agent is an enrolled device's agent.
type Agent struct {
	o       Options
	dir     string
	st      *State
	key     crypto.Signer // *ecdsa.PrivateKey or the TPM key
	tpm     *tpmSigner    // the TPM key; nil for a software key
	roots   *x509.CertPool
	c       *client
	j       *journal
	profile agentwire.Profile
}

// Open loads the enrollment in stateDir (or its work-profile
// subdirectory) and prepares the mutual-TLS client.
func Open(o Options) (*Agent, error) {
	if o.Platform == "" {
		o.Platform = NativePlatform()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Runner == nil {
		o.Runner = collect.ExecRunner{Timeout: actionTimeout}
	}
	if o.PollWait <= 0 {
		o.PollWait = DefaultPollWait
	}
	if o.TimeZone == nil {
		o.TimeZone = func() string { return "" }
	}
	if o.Collect == nil {
		set, err := collect.Native(collect.DefaultEnv(o.Version))
		if err != nil {
			return nil, err
		}
		o.Collect = func(ctx context.Context, allowed collect.Allowed) []collect.Signal {
			return set.Run(ctx, allowed, o.Clock)
		}
	}
	dir := profileDir(o.StateDir)
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	a := &Agent{o: o, dir: dir, st: st}
	if err := a.loadCredentials(); err != nil {
		return nil, err
	}
	if a.j, err = openJournal(filepath.Join(dir, JournalFile)); err != nil {
		a.Close()
		return nil, fmt.Errorf("agent: read the action journal: %w", err)
	}
	return a, nil
}

// loadCredentials reads the key, certificate and pinned root.
func (a *Agent) loadCredentials() error {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(a.dir, name))
		if err != nil {
			return nil, fmt.Errorf("agent: read %s: %w (enroll again)", name, err)
		}
		return b, nil
	}
	caPEM, err := read(CAFile)
	if err != nil {
		return err
	}
	a.roots = x509.NewCertPool()
	if !a.roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("agent: %s holds no certificate", CAFile)
	}
	keyPEM, err := read(KeyFile)
	if err != nil {
		return err
	}
	certPEM, err := read(CertFile)
	if err != nil {
		return err
	}
	if err := a.loadKey(keyPEM); err != nil {
		return err
	}
	pair, err := a.keyPair(certPEM)
	if err != nil {
		if a.tpm != nil {
			a.tpm.Close()
		}
		return err
	}
	a.c = newClient(a.st.Server, a.roots, pair)
	return nil
}

// loadKey reads device.key: a PKCS #8 software key, or the TPM's wrapped
// blob of a key in the TPM, which it loads into the TPM (told apart by
// the PEM type).
func (a *Agent) loadKey(keyPEM []byte) error {
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return fmt.Errorf("agent: %s is not PEM (enroll again)", KeyFile)
	}
	switch blk.Type {
	case pemTPMKey:
		pub, priv, err := decodeTPMKeyFile(blk.Bytes)
		if err != nil {
			return err
		}
		s, err := loadTPMSigner(a.o.TPM, pub, priv, a.o.Log)
		if err != nil {
			return err
		}
		a.key, a.tpm = s, s
		return nil
	case pemSoftwareKey, "EC PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if blk.Type == "EC PRIVATE KEY" {
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		}
		if err != nil {
			return fmt.Errorf("agent: %s: %w", KeyFile, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return errors.New("agent: the device key is not an ECDSA key")
		}
		a.key = ek
		return nil
	}
	return fmt.Errorf("agent: %s holds a %q block, not a device key", KeyFile, blk.Type)
}

// keyPair is the TLS identity of the certificate chain certPEM with the
// device key (in software or in the TPM); the leaf must be for that key.
func (a *Agent) keyPair(certPEM []byte) (*tls.Certificate, error) {
	var pair tls.Certificate
	for rest := certPEM; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			pair.Certificate = append(pair.Certificate, blk.Bytes)
		}
	}
	if len(pair.Certificate) == 0 {
		return nil, fmt.Errorf("agent: %s holds no certificate", CertFile)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", CertFile, err)
	}
	if lp, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !lp.Equal(a.key.Public()) {
		return nil, errors.New("agent: the device key and certificate do not match (enroll again)")
	}
	pair.Leaf, pair.PrivateKey = leaf, a.key
	return &pair, nil
}

// Close releases the agent's connections and the TPM.
func (a *Agent) Close() {
	a.c.close()
	if a.tpm != nil {
		a.tpm.Close()
	}
}

// DeviceID is the enrolled device's id.
func (a *Agent) DeviceID() string { return a.st.DeviceID }

// Dir is the directory holding the enrollment.
func (a *Agent) Dir() string { return a.dir }

// Once runs one full cycle: profile, posture, renewal if due, and the
// actions waiting now.
func (a *Agent) Once(ctx context.Context) error {
	err := a.once(ctx)
	if refused(err) {
		// Revoked or retired: the certificate opens nothing any more.
		a.removeBrowsers(ctx)
	}
	return err
}

func (a *Agent) once(ctx context.Context) error {
	if err := a.refreshProfile(ctx); err != nil {
		return err
	}
	if _, err := a.SendPosture(ctx, false); err != nil {
		return err
	}
	if err := a.renewIfDue(ctx); err != nil {
		return err
	}
	a.syncBrowsers(ctx)
	a.serveBrowserRequests(ctx)
	acts, err := a.PollActions(ctx, 0)
	if err != nil {
		return err
	}
	return a.Execute(ctx, acts)
}

// syncBrowsers runs SyncBrowsers; a failure is logged and recorded (for
// `portier agent status`) but does not stop the cycle.
func (a *Agent) syncBrowsers(ctx context.Context) {
	if err := a.SyncBrowsers(ctx); err != nil {
		a.o.Log.Warn("agent: browser device identity", "err", err)
	}
}

// Run runs until ctx ends: posture every interval (and sooner when a
// signal changed), renewal when due, and a continuous long poll for
// actions. It returns nil when ctx ends, ErrUnenrolled after a wipe, and
// an error when the server refuses the device (revoked or retired).
func (a *Agent) Run(ctx context.Context) error {
	var nextFull, nextCheck, nextProfile time.Time
	backoff := time.Second
	for ctx.Err() == nil {
		err := a.step(ctx, &nextFull, &nextCheck, &nextProfile)
		switch {
		case err == nil:
			backoff = time.Second
			continue
		case errors.Is(err, ErrUnenrolled):
			return err
		case refused(err):
			// Revoked or retired: the certificate opens nothing any more.
			a.removeBrowsers(ctx)
			return err
		case ctx.Err() != nil:
			return nil
		}
		a.o.Log.Warn("agent: cycle failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
	return nil
}

// refused reports whether the server refused the device itself.
func refused(err error) bool {
	return IsStatus(err, http.StatusUnauthorized) || IsStatus(err, http.StatusForbidden)
}

func (a *Agent) step(ctx context.Context, nextFull, nextCheck, nextProfile *time.Time) error {
	now := a.o.Clock()
	interval := a.interval()
	if !now.Before(*nextProfile) {
		if err := a.refreshProfile(ctx); err != nil {
			return err
		}
		a.syncBrowsers(ctx)
		*nextProfile = now.Add(interval)
	}
	check := min(interval, maxChangeCheck)
	switch {
	case !now.Before(*nextFull):
		if _, err := a.SendPosture(ctx, false); err != nil {
			return err
		}
		*nextFull, *nextCheck = now.Add(interval), now.Add(check)
	case !now.Before(*nextCheck):
		if _, err := a.SendPosture(ctx, true); err != nil {
			return err
		}
		*nextCheck = now.Add(check)
	}
	if err := a.renewIfDue(ctx); err != nil {
		return err
	}
	a.serveBrowserRequests(ctx)
	wait := min(a.o.PollWait, max(nextCheck.Sub(a.o.Clock()), time.Second))
	acts, err := a.PollActions(ctx, wait)
	if err != nil {
		return err
	}
	return a.Execute(ctx, acts)
}

func (a *Agent) interval() time.Duration {
	if d, err := time.ParseDuration(a.profile.PostureInterval); err == nil && d >= 30*time.Second {
		return d
	}
	return defaultInterval
}

// refreshProfile fetches the data profile and keeps the privacy notice
// for `portier agent privacy`.
func (a *Agent) refreshProfile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var p agentwire.Profile
	if err := a.c.call(ctx, http.MethodGet, "/api/v1/agent/profile", nil, &p); err != nil {
		return err
	}
	a.profile = p
	if p.PrivacyText != "" {
		if err := writeFileAtomic(filepath.Join(a.dir, PrivacyFile), []byte(p.PrivacyText), 0o644); err != nil {
			a.o.Log.Warn("agent: cannot keep the privacy notice", "err", err)
		}
	}
	return nil
}

// Profile returns the last data profile fetched.
func (a *Agent) Profile() agentwire.Profile { return a.profile }

// volatile signals change all the time; they do not make a report urgent.
var volatile = map[string]bool{collect.UptimeSeconds: true, collect.DiskFreeBytes: true}

// digest identifies the signal values that matter for change detection.
func digest(sigs []collect.Signal) string {
	h := sha256.New()
	for _, s := range sigs {
		if volatile[s.Name] {
			continue
		}
		b, _ := json.Marshal([]any{s.Name, s.Value, s.Error})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SendPosture collects the allowed signals and sends them. With
// onlyIfChanged it sends nothing when the values match the last report.
// The sequence number is saved before the report leaves, so it never
// repeats; after a replay answer (the server saw a higher one, e.g. from a
// restored state directory) the agent jumps past it and sends again once.
func (a *Agent) SendPosture(ctx context.Context, onlyIfChanged bool) (agentwire.PostureResult, error) {
	var res agentwire.PostureResult
	allowed := collect.Allow(a.profile.Allowed...)
	sigs := a.o.Collect(ctx, allowed)
	dg := digest(sigs)
	if onlyIfChanged && dg == a.st.LastDigest {
		return res, nil
	}
	for try := 0; try < 2; try++ {
		a.st.Seq++
		if err := a.st.save(a.dir); err != nil {
			return res, err
		}
		if sigs == nil {
			sigs = []collect.Signal{}
		}
		rep := agentwire.PostureReport{Seq: a.st.Seq, CollectedAt: a.o.Clock().UTC(), TimeZone: a.o.TimeZone(), Signals: sigs}
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		err := a.c.call(cctx, http.MethodPost, "/api/v1/agent/posture", rep, &res)
		cancel()
		if err != nil {
			return res, err
		}
		if !res.Replay || res.LastSeq < a.st.Seq {
			break
		}
		a.o.Log.Warn("agent: the server has seen a newer report; catching up", "seq", a.st.Seq, "server_seq", res.LastSeq)
		a.st.Seq = res.LastSeq
	}
	a.st.LastDigest, a.st.LastSent = dg, a.o.Clock().UTC()
	return res, a.st.save(a.dir)
}

// renewIfDue renews the certificate once two thirds of its lifetime have
// passed, for the same key.
func (a *Agent) renewIfDue(ctx context.Context) error {
	if a.o.Clock().Before(a.st.RenewAfter) {
		return nil
	}
	return a.Renew(ctx)
}

// Renew renews the device certificate now, for the same key.
func (a *Agent) Renew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var ans agentwire.Certificate
	if err := a.c.call(ctx, http.MethodPost, "/api/v1/agent/renew", struct{}{}, &ans); err != nil {
		return fmt.Errorf("agent: renew the certificate: %w", err)
	}
	chainPEM, leaf, err := checkIssued(ans.Certificate, a.key.Public().(*ecdsa.PublicKey), a.roots)
	if err != nil {
		return err
	}
	pair, err := a.keyPair(chainPEM)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(a.dir, CertFile), chainPEM, 0o644); err != nil {
		return fmt.Errorf("agent: write %s: %w", CertFile, err)
	}
	a.st.NotAfter, a.st.RenewAfter = leaf.NotAfter, ans.RenewAfter
	if err := a.st.save(a.dir); err != nil {
		return err
	}
	a.c.setCert(pair)
	a.o.Log.Info("agent: certificate renewed", "not_after", leaf.NotAfter)
	// The browsers get the new certificate; the old one leaves them.
	a.syncBrowsers(ctx)
	return nil
}

// CachedPrivacy returns the privacy notice kept in stateDir, if any.
func CachedPrivacy(stateDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(profileDir(stateDir), PrivacyFile))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// PrivacyText fetches the device's privacy notice from the server.
func (a *Agent) PrivacyText(ctx context.Context) (string, error) {
	if err := a.refreshProfile(ctx); err != nil {
		return "", err
	}
	if a.profile.PrivacyText == "" {
		return "", errors.New("agent: the server sent no privacy notice")
	}
	return a.profile.PrivacyText, nil
}
