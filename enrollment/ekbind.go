package enrollment

import (
	"context"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// ekRefusal is an enrollment refused because the TPM does not match the
// expected device's registered endorsement key: audited with what the
// device claimed.
type ekRefusal struct {
	err      error
	serial   string // the serial the agent reported
	expected string // the expected device the serial or the EK points at
	ekSHA256 string // the attested EK's hash, "" without attestation
}

// expectedFor finds the expected device a new device matches: by the
// attested TPM endorsement key (ekSHA256, "" without a verified
// attestation) first, the stronger identity, then by the reported serial.
// An expected device bound to an endorsement key is matched only by it: a
// serial pointing at it with another TPM, or with no attestation, is
// refused; so is a serial and an endorsement key pointing at two
// different expected devices.
func (s *Service) expectedFor(serial, ekSHA256 string) (*store.ExpectedDevice, *ekRefusal) {
	var bySerial, byEK *store.ExpectedDevice
	key := normalizeSerial(serial)
	// A miss on a shared store catches up once: an import on another
	// replica an instant ago may bind the serial to its TPM.
	store.Find(s.st, func() (struct{}, bool) {
		bySerial, byEK = nil, nil
		if key != "" {
			bySerial, _ = s.st.ExpectedDevice(key)
		}
		if ekSHA256 != "" {
			byEK, _ = s.st.ExpectedDeviceByEK(ekSHA256)
		}
		return struct{}{}, (key == "" || bySerial != nil) && (ekSHA256 == "" || byEK != nil)
	})
	switch {
	case byEK != nil && bySerial != nil && byEK.ID != bySerial.ID:
		return nil, &ekRefusal{serial: serial, expected: bySerial.ID, ekSHA256: ekSHA256,
			err: apperr.New(apperr.Conflict, "serial %q is registered as expected device %s, but this device's TPM is registered for expected device %s; correct the expected-device list",
				serial, bySerial.ID, byEK.ID)}
	case byEK != nil:
		return byEK, nil
	case bySerial == nil || bySerial.TPMEKSHA256 == "":
		return bySerial, nil
	case ekSHA256 == "":
		return nil, &ekRefusal{serial: serial, expected: bySerial.ID,
			err: apperr.New(apperr.Forbidden, "serial %q is registered with its TPM, and this enrollment sent no TPM attestation; enroll it with its TPM (the agent attests its key when the device has a TPM 2.0)", serial)}
	default:
		return nil, &ekRefusal{serial: serial, expected: bySerial.ID, ekSHA256: ekSHA256,
			err: apperr.New(apperr.Forbidden, "the TPM of this device is not the one registered for serial %q; this is not that device", serial)}
	}
}

// detail is what the audit log records of the refusal.
func (r *ekRefusal) detail(c *store.EnrollCode) map[string]string {
	d := map[string]string{"serial": r.serial, "expected": r.expected, "code": c.ID[:12], "reason": r.err.Error()}
	if r.ekSHA256 != "" {
		d["tpm_ek_sha256"] = r.ekSHA256
	}
	return d
}

// auditEKRefusal records a refused enrollment of an EK-bound expected
// device in the audit log; a failure to write is logged, the refusal
// stands.
func (s *Service) auditEKRefusal(ctx context.Context, c *store.EnrollCode, r *ekRefusal, now time.Time) {
	ev := store.NewAuditEvent(now, "enrollcode:"+c.ID[:12], "device.enroll.refused", r.expected)
	ev.Detail = r.detail(c)
	if err := s.st.Write(context.WithoutCancel(ctx), store.Put(ev)); err != nil {
		s.log.Error("enrollment: cannot audit a refused enrollment", "serial", r.serial, "expected", r.expected, "err", err)
	}
}
