package enrollment

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// maxClaimRetries bounds how often a bulk-token enrollment retries its
// claim after losing a race with another enrollment.
const maxClaimRetries = 16

// ParseEnrollRequest reads and checks an enrollment request body (see
// agentwire.EnrollRequest). Errors are client errors naming the field.
func ParseEnrollRequest(body []byte) (agentwire.EnrollRequest, error) {
	var r agentwire.EnrollRequest
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	if strings.TrimSpace(r.Code) == "" {
		return r, apperr.Field("code", "code is required: the enrollment code you were given")
	}
	if r.CSR == "" {
		return r, apperr.Field("csr", "csr is required: a PEM certificate request for the device key")
	}
	if len(r.CSR) > ca.MaxCSRSize {
		return r, apperr.Field("csr", "csr is larger than %d bytes", ca.MaxCSRSize)
	}
	return r, checkDeviceInfo(&r.Device)
}

// checkDeviceInfo checks and tidies what the agent says about its device.
func checkDeviceInfo(d *agentwire.DeviceInfo) error {
	for _, f := range []struct{ name, v string }{
		{"device.serial", d.Serial}, {"device.hostname", d.Hostname}, {"device.platform", d.Platform},
		{"device.model", d.Model}, {"device.os_version", d.OSVersion}, {"device.agent_version", d.AgentVersion},
		{"device.time_zone", d.TimeZone}, {"device.key_protection", d.KeyProtection},
	} {
		if !cleanText(f.v, maxTextLen) {
			return apperr.Field(f.name, "%s must be at most %d characters of text", f.name, maxTextLen)
		}
	}
	d.Serial = strings.TrimSpace(d.Serial)
	if d.Serial != "" {
		if msg := checkSerial(d.Serial); msg != "" {
			return apperr.Field("device.serial", "device.%s", msg)
		}
	}
	if d.Platform != "" && !slices.Contains(platforms[:], d.Platform) {
		return apperr.Field("device.platform", "device.platform must be one of %s", strings.Join(platforms[:], ", "))
	}
	for _, r := range d.TimeZone {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+-", r)) {
			return apperr.Field("device.time_zone", "device.time_zone must be an IANA zone such as Europe/Paris")
		}
	}
	return nil
}

// Enrolled is the result of an enrollment: the new device and its
// certificate chain (leaf, then intermediate).
type Enrolled struct {
	Device *store.Device
	Chain  []*x509.Certificate
}

// Enroll turns a code and a CSR into an active device with a certificate.
// remoteIP keys the rate limits. The code's use, the device, its history
// and the expected-device match are written in one transaction; if another
// enrollment used the code meanwhile, the certificate just issued is
// revoked and the enrollment refused.
func (s *Service) Enroll(ctx context.Context, req agentwire.EnrollRequest, remoteIP string) (*Enrolled, error) {
	now := s.clock()
	if !s.badIP.ok(remoteIP, now) || !s.perIP.allow(remoteIP, now) {
		return nil, apperr.New(apperr.RateLimited, "too many enrollment attempts from this address; wait a minute and try again")
	}
	res, err := s.enroll(ctx, req, now)
	if err != nil && apperr.Status(err) < 500 {
		s.badIP.allow(remoteIP, now)
		s.log.Info("enrollment: refused", "remote_ip", remoteIP, "err", err)
	}
	return res, err
}

// codeError is a refusal of the code itself.
func codeError(code apperr.Code, format string, args ...any) error {
	return &apperr.Error{Code: code, Field: "code", Msg: fmt.Sprintf(format, args...)}
}

// usableCode finds the code and checks it can enroll one more device.
func (s *Service) usableCode(raw string, now time.Time) (*store.EnrollCode, int, error) {
	canon, ok := normalizeCode(raw)
	if !ok {
		return nil, 0, codeError(apperr.Unauthenticated, "this enrollment code is not valid; check it or ask for a new one")
	}
	id := codeID(canon)
	c, ok := store.Find(s.st, func() (*store.EnrollCode, bool) { return s.st.EnrollCode(id) }) // issued on another replica?
	if !ok {
		return nil, 0, codeError(apperr.Unauthenticated, "this enrollment code is not valid; check it or ask for a new one")
	}
	used := s.uses(c)
	switch {
	case c.Revoked:
		return nil, 0, codeError(apperr.Forbidden, "this enrollment code was revoked; ask for a new one")
	case used >= c.MaxUses && c.MaxUses == 1:
		return nil, 0, codeError(apperr.Forbidden, "this enrollment code was already used; codes work once, ask for a new one")
	case used >= c.MaxUses:
		return nil, 0, codeError(apperr.Forbidden, "this enrollment token reached its limit of %d devices", c.MaxUses)
	case !now.Before(c.ExpiresAt):
		return nil, 0, codeError(apperr.Forbidden, "this enrollment code expired at %s; ask for a new one", c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return c, used, nil
}

// checkDeviceKey accepts only ECDSA P-256 device keys: what every agent
// generates, what hardware key stores support, and small to verify.
func checkDeviceKey(csr *x509.CertificateRequest) error {
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
		return apperr.Field("csr", "the device key is ECDSA %s; it must be ECDSA P-256", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return apperr.Field("csr", "the device key is RSA (%d bits); it must be ECDSA P-256", k.N.BitLen())
	}
	return apperr.Field("csr", "the device key is %s; it must be ECDSA P-256", csr.PublicKeyAlgorithm)
}

// parseDeviceCSR reads a CSR and checks its key is ECDSA P-256. With
// validate it also runs ca.ValidateCSR for deviceID (proof of possession,
// nothing named but the device); enrollment leaves that to
// ca.IssueDevice, which runs it anyway, to verify the signature once.
func parseDeviceCSR(pemText, deviceID string, validate bool) (*x509.CertificateRequest, error) {
	csr, err := ca.ParseCSR([]byte(pemText))
	if err != nil {
		return nil, apperr.Field("csr", "%v", err)
	}
	if err := checkDeviceKey(csr); err != nil {
		return nil, err
	}
	if validate {
		if err := ca.ValidateCSR(csr, deviceID); err != nil {
			return nil, apperr.Field("csr", "%v", err)
		}
	}
	return csr, nil
}

func (s *Service) enroll(ctx context.Context, req agentwire.EnrollRequest, now time.Time) (*Enrolled, error) {
	c, used, err := s.usableCode(req.Code, now)
	if err != nil {
		return nil, err
	}
	deviceID := newDeviceID()
	csr, err := parseDeviceCSR(req.CSR, deviceID, false)
	if err != nil {
		return nil, err
	}
	var att *attested
	// ek is the attested TPM's endorsement key, by its hash.
	ek := ""
	if req.Attestation != nil { // a verified TPM key, or nothing: never downgraded
		if att, err = s.verifyAttestation(req.Attestation, codeOwner(c.ID), csr.PublicKey, deviceID, now); err != nil {
			return nil, err
		}
		ek = att.ekSHA256
	}
	exp, refused := s.expectedFor(req.Device.Serial, ek)
	if refused != nil {
		s.auditEKRefusal(ctx, c, refused, now)
		return nil, refused.err
	}
	d, exp, err := s.newDevice(c, req.Device, deviceID, exp, now)
	if err != nil {
		return nil, err
	}
	if att != nil {
		d.KeyProtection, d.KeyProtectionSource, d.TPMEKSHA256 = att.key.Protection, att.key.Source, att.ekSHA256
	}
	key := ca.KeyInfo{Protection: d.KeyProtection, Source: d.KeyProtectionSource, Purpose: ca.PurposeAgent}
	chain, err := s.ca.IssueDevice(ctx, csr, deviceID, key) // runs ca.ValidateCSR
	if errors.Is(err, ca.ErrInvalidCSR) {
		return nil, apperr.Field("csr", "%v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("enrollment: issue certificate: %w", err)
	}
	d.CertSerial = chain[0].SerialNumber.String()
	ops := s.enrollOps(c, d, exp, att, now)
	for try, n := 0, s.claims.next(c.ID, used); ; try, n = try+1, s.claims.next(c.ID, s.uses(c)) {
		if n > c.MaxUses && try == 0 {
			n = s.uses(c) + 1 // another process left a gap: fill it
		}
		if n > c.MaxUses || try == maxClaimRetries {
			s.revokeQuietly(ctx, d.CertSerial, "enrollment code already used")
			_, _, err := s.usableCode(req.Code, now)
			if err == nil {
				err = apperr.New(apperr.Unavailable, "the enrollment token is busy; try again")
			}
			return nil, err
		}
		claim := store.Create(&store.Claim{ID: claimID(c.ID, n), At: now.UTC(), By: deviceID})
		err := s.st.Write(ctx, append([]store.Op{claim}, ops...)...)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrExists) {
			s.revokeQuietly(ctx, d.CertSerial, "enrollment not recorded")
			return nil, fmt.Errorf("enrollment: record device %s: %w", deviceID, err)
		}
		if att != nil && s.challengeUsed(req.Attestation.ChallengeID) {
			s.revokeQuietly(ctx, d.CertSerial, "attestation challenge already used")
			return nil, apperr.Field("attestation.challenge_id", "the attestation challenge was already used; ask for a new one")
		}
	}
	s.log.Info("enrollment: device enrolled", "device", deviceID, "ownership", d.Ownership, "serial", d.Serial,
		"expected", exp != nil, "work_profile", d.WorkProfile)
	return &Enrolled{Device: d, Chain: chain}, nil
}

// newDevice builds the device record from the code, the matched expected
// device (exp, from expectedFor: nil when none) and what the agent
// reported.
func (s *Service) newDevice(c *store.EnrollCode, info agentwire.DeviceInfo, id string, exp *store.ExpectedDevice, now time.Time) (*store.Device, *store.ExpectedDevice, error) {
	own, src, requested, exp := ownershipFor(c, exp)
	if c.ExpectedOnly && exp == nil {
		if info.Serial == "" {
			return nil, nil, apperr.Field("device.serial", "this token enrolls only pre-registered devices, and the agent could not read this device's serial number")
		}
		return nil, nil, apperr.New(apperr.Forbidden, "this token enrolls only pre-registered devices, and serial %q is not in the expected-device list", info.Serial)
	}
	if exp != nil && exp.EnrolledAs != "" {
		if old, ok := s.st.Device(exp.EnrolledAs); ok && old.State != store.DeviceRetired && old.State != store.DeviceWiped {
			return nil, nil, apperr.New(apperr.Conflict, "the device with serial %q is already enrolled as %s; retire that device first", exp.ID, old.ID)
		}
	}
	d := &store.Device{
		ID: id, Name: info.Hostname, Serial: info.Serial, Platform: info.Platform, Ownership: own,
		OwnershipSource: src, RequestedOwnership: requested,
		OwnerEmail: c.UserEmail, State: store.DeviceActive, Trust: store.TrustUntrusted,
		EnrolledAt: now.UTC(), LastSeen: now.UTC(), Hostname: info.Hostname, Model: info.Model,
		OSVersion: info.OSVersion, AgentVersion: info.AgentVersion, TimeZone: info.TimeZone,
		WorkProfile: info.WorkProfile, ProvisionStart: c.CreatedAt,
	}
	d.KeyProtection, d.KeyProtectionSource = keyProtection(info.KeyProtection)
	if exp != nil {
		d.ProvisionStart = exp.ImportedAt
		d.Department = exp.Department
		d.Groups = slices.Clone(exp.Groups)
		if exp.OwnerEmail != "" {
			d.OwnerEmail = exp.OwnerEmail
		}
		if d.Model == "" {
			d.Model = exp.Model
		}
		if d.Platform == "" {
			d.Platform = exp.Platform
		}
	}
	// A device waiting for approval of the ownership its employee asked
	// for enrolls as it is (byod in the meantime, at most medium trust).
	if d.Ownership == store.OwnershipBYOD && requested == "" {
		if !info.WorkProfile {
			return nil, nil, apperr.Field("device.work_profile", "this code enrolls a personal (BYOD) device, which gets only a work profile: run the agent with --work-profile")
		}
		d.WorkProfile = true
	}
	return d, exp, nil
}

// enrollOps are the writes of an enrollment besides the code's claim.
func (s *Service) enrollOps(c *store.EnrollCode, d *store.Device, exp *store.ExpectedDevice, att *attested, now time.Time) []store.Op {
	detail := map[string]string{"ownership": string(d.Ownership), "ownership_source": d.OwnershipSource,
		"code": c.ID[:12], "certificate": d.CertSerial, "key_protection": d.KeyProtection,
		"key_protection_source": d.KeyProtectionSource}
	var ops []store.Op
	if att != nil {
		maps.Copy(detail, att.detail)
		ops = append(ops, att.claim)
	}
	if d.RequestedOwnership != "" {
		detail["requested_ownership"] = string(d.RequestedOwnership)
	}
	if c.MaxUses > 1 {
		detail["token"] = c.Name
	}
	if d.Serial != "" {
		detail["serial"] = d.Serial
	}
	if d.WorkProfile {
		detail["work_profile"] = "true"
	}
	if exp != nil {
		detail["expected"] = exp.ID
		if exp.TPMEKSHA256 != "" {
			detail["expected_match"] = "tpm_ek" // matched by the attested TPM, whatever the serial
		}
	}
	ops = append(ops, store.Put(d), store.Put(store.NewDeviceEvent(now, d.ID, "enrolled", detail)))
	if exp != nil {
		cp := *exp
		cp.EnrolledAs = d.ID
		ops = append(ops, store.Put(&cp))
	}
	ev := store.NewAuditEvent(now, "enrollcode:"+c.ID[:12], "device.enroll", d.ID)
	ev.Detail = detail
	return append(ops, store.Put(ev))
}

// claimAllocator hands concurrent enrollments with the same bulk token
// distinct use numbers, so they do not all race for the same claim. The
// claim's Create still decides (across replicas too); a number whose
// enrollment failed leaves a gap that a later enrollment fills.
type claimAllocator struct {
	mu   sync.Mutex
	last map[string]int
}

// maxAllocated bounds the allocator's table; it starts over beyond.
const maxAllocated = 10_000

// next returns the use number to claim: after both floor (uses recorded in
// the store) and the last number handed out here.
func (a *claimAllocator) next(codeID string, floor int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil || len(a.last) > maxAllocated {
		a.last = map[string]int{}
	}
	n := max(floor, a.last[codeID]) + 1
	a.last[codeID] = n
	return n
}

// revokeQuietly revokes a certificate that must not stay usable, logging
// (not returning) a failure: the caller is already failing.
func (s *Service) revokeQuietly(ctx context.Context, serial, why string) {
	if err := s.ca.Revoke(context.WithoutCancel(ctx), serial, ca.ReasonCessationOfOperation, why); err != nil {
		s.log.Error("enrollment: cannot revoke an unused certificate", "serial", serial, "err", err)
	}
}
