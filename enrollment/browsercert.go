package enrollment

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// Browser certificates: a certificate for a key of its own that the agent
// keeps where one person's browsers find it (an NSS database when the
// agent's own key cannot leave the TPM, a Windows person's key). They say
// Purpose browser and the Person, and their key protection is the agent's
// word. The agent API refuses them (Authenticate): they open routes, they
// do not speak for the agent.
const (
	// MaxBrowserCertificates bounds the unexpired, unrevoked browser
	// certificates of one device.
	MaxBrowserCertificates = 20
	// maxPersonLen bounds BrowserCertificateRequest.Person, in bytes.
	maxPersonLen = 256
)

// ParseBrowserCertificateRequest reads and checks the body of POST
// /api/v1/agent/browser-certificates. Errors are client errors naming the
// field.
func ParseBrowserCertificateRequest(body []byte) (agentwire.BrowserCertificateRequest, error) {
	var r agentwire.BrowserCertificateRequest
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	switch {
	case r.CSR == "":
		return r, apperr.Field("csr", "csr is required: a PEM certificate request for the browser key")
	case len(r.CSR) > ca.MaxCSRSize:
		return r, apperr.Field("csr", "csr is larger than %d bytes", ca.MaxCSRSize)
	case strings.TrimSpace(r.Person) == "":
		return r, apperr.Field("person", "person is required: the local account whose browsers use the key")
	case !cleanText(r.Person, maxPersonLen) || !printable(r.Person):
		return r, apperr.Field("person", "person must be at most %d bytes of printable text", maxPersonLen)
	case !cleanText(r.KeyProtection, maxTextLen):
		return r, apperr.Field("key_protection", "key_protection must be %q or %q", store.KeyHardware, store.KeySoftware)
	}
	switch strings.ToLower(strings.TrimSpace(r.KeyProtection)) {
	case "", store.KeyHardware, store.KeySoftware:
	default:
		return r, apperr.Field("key_protection", "key_protection must be %q or %q", store.KeyHardware, store.KeySoftware)
	}
	return r, nil
}

// printable reports whether s has only printable characters (no control
// or format characters that could hide text in the console).
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return false
		}
	}
	return true
}

// BrowserCertificate is an issued browser certificate.
type BrowserCertificate struct {
	Chain []*x509.Certificate
	// Superseded are the serials of the person's older browser
	// certificates of this device: they stay valid until they expire (or
	// the device is revoked), so a browser can switch to the new one.
	Superseded []string
}

// IssueBrowserCertificate issues a browser certificate to an authenticated
// device. A device waiting for ownership approval, quarantined, or not
// active gets none; a device at MaxBrowserCertificates gets a conflict.
func (s *Service) IssueBrowserCertificate(ctx context.Context, d *store.Device, req agentwire.BrowserCertificateRequest) (*BrowserCertificate, error) {
	switch {
	case retired(d):
		return nil, apperr.New(apperr.Forbidden, "this device was removed from management (%s)", d.State)
	case d.PendingApproval():
		return nil, apperr.New(apperr.Forbidden, "this device waits for an administrator to approve its ownership; browser certificates come after")
	case d.State != store.DeviceActive:
		return nil, apperr.New(apperr.Forbidden, "this device is %s; only an active device gets browser certificates", d.State)
	}
	now := s.clock()
	live, superseded := s.browserCertificates(d.ID, req.Person, now)
	if live >= MaxBrowserCertificates {
		return nil, apperr.New(apperr.Conflict, "this device already has %d valid browser certificates, the most it may hold; wait for older ones to expire, or retire and enroll the device again", live)
	}
	csr, err := parseDeviceCSR(req.CSR, d.ID, false)
	if err != nil {
		return nil, err
	}
	// A browser key lives in a person's store, which the person controls:
	// they could have put a key of their own making there, so the agent
	// cannot vouch for it. Its certificate says hardware only when a TPM
	// attestation proves it, and software otherwise, whatever was claimed.
	key := ca.KeyInfo{Protection: store.KeySoftware, Purpose: ca.PurposeBrowser, Person: req.Person}
	claimed, _ := keyProtection(req.KeyProtection)
	var att *attested
	if req.Attestation != nil { // a verified TPM key, or nothing: never downgraded
		if att, err = s.verifyAttestation(req.Attestation, deviceOwner(d.ID), csr.PublicKey, d.ID, now); err != nil {
			return nil, err
		}
		key.Protection, key.Source = att.key.Protection, att.key.Source
	} else if req.KeyProtection != "" {
		key.Source = store.KeySourceAgent
	}
	chain, err := s.ca.IssueDevice(ctx, csr, d.ID, key) // runs ca.ValidateCSR
	if errors.Is(err, ca.ErrInvalidCSR) {
		return nil, apperr.Field("csr", "%v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("enrollment: issue browser certificate for %s: %w", d.ID, err)
	}
	serial := chain[0].SerialNumber.String()
	detail := map[string]string{"certificate": serial, "person": req.Person, "key_protection": key.Protection,
		"key_protection_source": key.Source, "not_after": chain[0].NotAfter.UTC().Format(time.RFC3339)}
	if len(superseded) > 0 {
		detail["supersedes"] = strings.Join(superseded, ",")
	}
	if claimed != key.Protection {
		detail["key_protection_claimed"] = claimed
	}
	if att != nil {
		maps.Copy(detail, att.detail)
	}
	ops := []store.Op{store.Put(store.NewDeviceEvent(now, d.ID, "browser_certificate_issued", detail)),
		s.auditOp(Actor{ID: "device:" + d.ID}, now, "device.browser_certificate", d.ID, detail)}
	if att != nil {
		ops = append(ops, att.claim)
	}
	if err = s.st.Write(ctx, ops...); err != nil {
		s.revokeQuietly(ctx, serial, "browser certificate not recorded")
		if att != nil && errors.Is(err, store.ErrExists) && s.challengeUsed(req.Attestation.ChallengeID) {
			return nil, apperr.Field("attestation.challenge_id", "the attestation challenge was already used; ask for a new one")
		}
		return nil, fmt.Errorf("enrollment: record browser certificate of %s: %w", d.ID, err)
	}
	s.log.Info("enrollment: browser certificate issued", "device", d.ID, "serial", serial, "superseded", len(superseded))
	return &BrowserCertificate{Chain: chain, Superseded: superseded}, nil
}

// browserCertificates counts a device's valid browser certificates and
// lists those of person, oldest first.
func (s *Service) browserCertificates(deviceID, person string, now time.Time) (live int, ofPerson []string) {
	var mine []*store.Certificate
	for _, c := range s.st.CertificatesOf(deviceID) {
		if c.Purpose != ca.PurposeBrowser || !c.NotAfter.After(now) {
			continue
		}
		if _, revoked := s.st.Revocation(c.ID); revoked {
			continue
		}
		live++
		if c.Person == person {
			mine = append(mine, c)
		}
	}
	slices.SortFunc(mine, func(a, b *store.Certificate) int { return a.NotBefore.Compare(b.NotBefore) })
	for _, c := range mine {
		ofPerson = append(ofPerson, c.ID)
	}
	return live, ofPerson
}
