package server

import (
	"log/slog"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// startMDM builds the device-management core: the enrollment service
// (codes, devices, actions, agent API) and the posture engine (compliance,
// trust, privacy). Each needs the other: posture queues actions through
// enrollment, enrollment ingests posture through the engine.
func (s *Server) startMDM(cfg *config.Config, clock func() time.Time, log *slog.Logger) error {
	ecfg, err := enrollment.ParseConfig(cfg)
	if err != nil {
		return err
	}
	var roots *enrollment.EKRoots
	if cfg.TPMEKRoots != "" {
		if roots, err = enrollment.LoadEKRoots(cfg.TPMEKRoots); err != nil {
			return err
		}
		log.Info("tpm key attestation: endorsement key roots loaded", "file", cfg.TPMEKRoots, "certificates", roots.Len())
	}
	// The compliance policies are the store's (compiled with the rules).
	pcfg := s.rulesNow.Load().posture
	s.enroll, err = enrollment.New(enrollment.Options{Store: s.store, CA: s.ca, Clock: clock, Log: log,
		ExternalURL: cfg.ExternalURL, Config: ecfg, Counter: store.CounterFor(s.backend), EKRoots: roots})
	if err != nil {
		return err
	}
	s.posture, err = posture.New(posture.Options{Store: s.store, Clock: clock, Log: log, Config: pcfg, Actions: s.enroll, Waves: s.deviceWaves})
	if err != nil {
		return err
	}
	s.enroll.SetPosture(s.posture)
	return nil
}
