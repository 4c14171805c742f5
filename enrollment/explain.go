package enrollment

import (
	"fmt"
	"sort"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// explainer is the part of the posture engine that evaluates a device
// without writing anything (posture.Engine.Explain).
type explainer interface {
	Explain(deviceID string) (posture.Evaluation, error)
}

// Explain is the device's compliance evaluation now: each check with its
// message, the source that decided it and the fix, and the escalation
// step and its next deadline. It needs the posture engine.
func (s *Service) Explain(id string) (posture.Evaluation, error) {
	if _, err := s.device(id); err != nil {
		return posture.Evaluation{}, err
	}
	x, ok := s.postureEngine().(explainer)
	if !ok {
		return posture.Evaluation{}, apperr.New(apperr.Unavailable, "compliance evaluation is not available on this server")
	}
	return x.Explain(id)
}

// Certificates lists the certificates issued to a device, newest first.
func (s *Service) Certificates(id string) ([]*store.Certificate, error) {
	if _, err := s.device(id); err != nil {
		return nil, err
	}
	it, err := s.st.Txn().Get(string(store.KindCertificate), "device", id)
	if err != nil {
		return nil, fmt.Errorf("enrollment: list certificates of %s: %w", id, err)
	}
	var out []*store.Certificate
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*store.Certificate))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NotBefore.After(out[j].NotBefore) })
	return out, nil
}

// Revoked reports whether a certificate serial was revoked.
func (s *Service) Revoked(serial string) bool { return s.st.IsRevoked(serial) }
