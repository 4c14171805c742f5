package enrollment

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// Authenticate checks the client certificate chain of an agent request
// (leaf first, as in tls.ConnectionState.PeerCertificates) and returns its
// device. A missing, foreign, expired or revoked certificate is
// unauthenticated; a retired or wiped device is forbidden.
func (s *Service) Authenticate(chain []*x509.Certificate) (*store.Device, error) {
	if len(chain) == 0 {
		return nil, apperr.New(apperr.Unauthenticated, "this API needs the device's client certificate (mutual TLS); enroll the device first")
	}
	id, _, err := s.ca.VerifyClient(chain, s.clock())
	switch {
	case errors.Is(err, ca.ErrRevoked):
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "this device's certificate was revoked; the device must be enrolled again")
	case errors.Is(err, ca.ErrExpired):
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "this device's certificate expired; the device must be enrolled again")
	case err != nil:
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "the client certificate was not issued by this Portier to a device")
	}
	if ca.KeyInfoFromCert(chain[0]).Purpose == ca.PurposeBrowser {
		return nil, apperr.New(apperr.Forbidden, "a browser certificate opens routes; it cannot speak for the device's agent")
	}
	d, ok := s.st.Device(id)
	if !ok {
		return nil, apperr.New(apperr.Unauthenticated, "this device is not registered; enroll it again")
	}
	if retired(d) {
		return nil, apperr.New(apperr.Forbidden, "this device was removed from management (%s); enroll it again to use it", d.State)
	}
	return d, nil
}

func retired(d *store.Device) bool {
	return d.State == store.DeviceRetired || d.State == store.DeviceWiped
}

// ParseRenewRequest reads a renewal body (see agentwire.RenewRequest); an
// empty body keeps the key.
func ParseRenewRequest(body []byte) (agentwire.RenewRequest, error) {
	var r agentwire.RenewRequest
	if len(body) == 0 {
		return r, nil
	}
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	if len(r.CSR) > ca.MaxCSRSize {
		return r, apperr.Field("csr", "csr is larger than %d bytes", ca.MaxCSRSize)
	}
	return r, nil
}

// Renew issues a new certificate for an authenticated device: for the same
// key, or for the key of req.CSR. The old certificate stays valid until it
// expires, so an agent that loses the answer can still try again.
func (s *Service) Renew(ctx context.Context, d *store.Device, leaf *x509.Certificate, req agentwire.RenewRequest) ([]*x509.Certificate, error) {
	var csr *x509.CertificateRequest
	var key ca.KeyInfo
	if req.CSR != "" {
		var err error
		if csr, err = parseDeviceCSR(req.CSR, d.ID, true); err != nil {
			return nil, err
		}
		// A new key has the protection the agent states for it; the same
		// key keeps what it had (the certificate carries it), whatever a
		// renewal without a CSR says.
		key.Protection, key.Source = keyProtection(req.KeyProtection)
		key.Purpose = ca.PurposeAgent
	}
	var att *attested
	if req.Attestation != nil { // a verified TPM key, or nothing: never downgraded
		if csr == nil {
			return nil, apperr.Field("csr", "an attestation proves where a new key lives: send the CSR for that key with it")
		}
		var err error
		if att, err = s.verifyAttestation(req.Attestation, deviceOwner(d.ID), csr.PublicKey, d.ID, s.clock()); err != nil {
			return nil, err
		}
		key = att.key
	}
	if csr != nil && d.TPMEKSHA256 != "" && (att == nil || att.ekSHA256 != d.TPMEKSHA256) {
		// A device enrolled with its TPM moves to a new key only inside
		// that TPM: anything else would carry the enrollment to another
		// machine.
		return nil, apperr.New(apperr.Forbidden, "this device was enrolled with its TPM; a new key must be attested by that same TPM")
	}
	chain, err := s.ca.Renew(ctx, leaf, csr, key)
	switch {
	case errors.Is(err, ca.ErrInvalidCSR):
		return nil, apperr.Field("csr", "%v", err)
	case errors.Is(err, ca.ErrRevoked), errors.Is(err, ca.ErrExpired), errors.Is(err, ca.ErrUnknownCertificate), errors.Is(err, ca.ErrUntrusted):
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "this certificate cannot be renewed; the device must be enrolled again")
	case err != nil:
		return nil, fmt.Errorf("enrollment: renew %s: %w", d.ID, err)
	}
	now := s.clock()
	serial := chain[0].SerialNumber.String()
	cur, ok := s.st.Device(d.ID) // re-read: keep changes made since the request began
	if !ok {
		return nil, apperr.New(apperr.Unauthenticated, "this device is not registered; enroll it again")
	}
	cp := *cur
	cp.CertSerial = serial
	cp.LastSeen = now.UTC()
	fields := map[string]string{"old": leaf.SerialNumber.String(), "new": serial, "rekey": fmt.Sprint(csr != nil),
		"not_after": chain[0].NotAfter.UTC().Format(time.RFC3339)}
	if csr != nil {
		cp.KeyProtection, cp.KeyProtectionSource = key.Protection, key.Source
		if att != nil {
			cp.TPMEKSHA256 = att.ekSHA256
		}
		fields["key_protection"] = cp.KeyProtection
		fields["key_protection_source"] = cp.KeyProtectionSource
	}
	ops := []store.Op{store.Put(&cp)}
	if att != nil {
		maps.Copy(fields, att.detail)
		ops = append(ops, att.claim, s.auditOp(Actor{ID: "device:" + d.ID}, now, "device.key_attested", d.ID, fields))
	}
	ops = append(ops, store.Put(store.NewDeviceEvent(now, d.ID, "certificate_renewed", fields)))
	if err := s.st.Write(ctx, ops...); err != nil {
		if att != nil {
			s.revokeQuietly(ctx, serial, "renewal not recorded")
			if errors.Is(err, store.ErrExists) {
				return nil, apperr.Field("attestation.challenge_id", "the attestation challenge was already used; ask for a new one")
			}
		}
		return nil, err
	}
	return chain, nil
}

// IngestPosture hands a report from an authenticated device to the posture
// engine, after dropping what the device's data profile does not allow. A
// replayed report is not an error: the result says Replay and the last
// accepted seq, so an agent whose counter went back (a restored state
// directory) can catch up, and a retry of a report that did arrive is
// harmless.
func (s *Service) IngestPosture(ctx context.Context, d *store.Device, r agentwire.PostureReport) (agentwire.PostureResult, error) {
	eng := s.postureEngine()
	if eng == nil {
		return agentwire.PostureResult{}, apperr.New(apperr.Unavailable, "posture ingestion is not available on this server")
	}
	allowed := collect.Allow(eng.Profile(d).Signals...)
	kept := make([]collect.Signal, 0, len(r.Signals))
	dropped := 0
	for _, sig := range r.Signals {
		if allowed.Has(sig.Name) {
			kept = append(kept, sig)
		} else {
			dropped++
		}
	}
	r.Signals = kept
	err := eng.Ingest(ctx, d.ID, posture.Report(r))
	switch {
	case errors.Is(err, posture.ErrReplay):
		res := agentwire.PostureResult{Replay: true, Dropped: dropped}
		if p, ok := s.st.Posture(d.ID); ok {
			res.LastSeq = p.ReportSeq
		}
		return res, nil
	case errors.Is(err, posture.ErrUnknownDevice):
		return agentwire.PostureResult{}, apperr.New(apperr.Unauthenticated, "this device is not registered; enroll it again")
	case errors.Is(err, posture.ErrRetired):
		return agentwire.PostureResult{}, apperr.New(apperr.Forbidden, "this device was removed from management")
	case err != nil:
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Code != apperr.Internal {
			return agentwire.PostureResult{}, err
		}
		return agentwire.PostureResult{}, fmt.Errorf("enrollment: ingest posture of %s: %w", d.ID, err)
	}
	return agentwire.PostureResult{Accepted: true, Dropped: dropped}, nil
}

// Profile returns the collection profile of a device, as the agent
// receives it.
func (s *Service) Profile(d *store.Device) (agentwire.Profile, error) {
	eng := s.postureEngine()
	if eng == nil {
		return agentwire.Profile{}, apperr.New(apperr.Unavailable, "posture collection is not available on this server")
	}
	p := eng.Profile(d)
	allowed := slices.Clone(p.Signals)
	slices.Sort(allowed)
	if allowed == nil {
		allowed = []string{}
	}
	n := eng.PrivacyIn(d, "en") // posture.Notice is the wire type
	return agentwire.Profile{DeviceID: d.ID, Ownership: string(d.Ownership), WorkProfile: d.WorkProfile, State: string(d.State),
		Allowed: allowed, Location: wireLocation(p.Location), PostureInterval: s.cfg.PostureInterval.String(), Privacy: &n, PrivacyText: posture.NoticeText(n)}, nil
}

// Privacy returns the privacy notice of a device by id.
func (s *Service) Privacy(id string) (posture.Notice, error) {
	return s.PrivacyIn(id, "en")
}

// PrivacyIn is the device's notice in a language ("fr" for French, English
// otherwise), as the employee's own devices page shows it.
func (s *Service) PrivacyIn(id, lang string) (posture.Notice, error) {
	d, ok := s.st.Device(id)
	if !ok {
		return posture.Notice{}, apperr.New(apperr.NotFound, "no device %q", id)
	}
	eng := s.postureEngine()
	if eng == nil {
		return posture.Notice{}, apperr.New(apperr.Unavailable, "privacy notices are not available on this server")
	}
	return eng.PrivacyIn(d, lang), nil
}
