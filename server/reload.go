package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/portier/portier/config"
	"github.com/portier/portier/posture"
)

// Reload re-reads the config file and applies its routes and policies to
// the next request, without a restart (SIGHUP). A broken file changes
// nothing: the error names file:line and the running config stays. Other
// settings (listen address, store, identity providers) need a restart.
func (s *Server) Reload(env func(string) string, flags map[string]string) error {
	if s.cfg.File == "" {
		return errors.New("reload: Portier was started without a config file; there is nothing to reload")
	}
	cfg, err := config.Load(s.cfg.File, env, flags)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	pols, err := CompilePolicies(cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	pcfg, err := posture.FromConfig(cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if err := s.loadRoutes(cfg, pols); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	s.posture.SetConfig(pcfg)
	go func() {
		// Trust follows the new compliance policies without waiting for
		// each device's next report.
		if err := s.posture.RecomputeAll(context.Background()); err != nil {
			s.log.Error("reload: recomputing device trust failed", "err", err)
		}
	}()
	s.log.Info("config reloaded: routes and policies apply from the next request",
		"file", cfg.File, "routes", len(cfg.Routes), "policies", len(pols))
	if cfg.Listen != s.cfg.Listen || cfg.Store != s.cfg.Store || cfg.ExternalURL != s.cfg.ExternalURL || cfg.DataDir != s.cfg.DataDir {
		s.log.Warn("config reload: listen, store, external_url and data_dir changes need a restart")
	}
	return nil
}
