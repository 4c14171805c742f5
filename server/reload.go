package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/portier/portier/config"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// Reload re-reads the config file without a restart (SIGHUP). With
// config_policies: file its routes and policies become the store's (new
// versions by "config file") and apply from the next request, on every
// replica; otherwise a file whose routes or policies differ from the
// store's is refused. A broken or refused file changes nothing: the error
// names file:line and the running config stays. Every reload is audited.
// Other settings (listen address, store, identity providers) need a
// restart.
func (s *Server) Reload(env func(string) string, flags map[string]string) error {
	if s.cfg.File == "" {
		return errors.New("reload: Portier was started without a config file; there is nothing to reload")
	}
	cfg, err := config.Load(s.cfg.File, env, flags)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if _, err := CompilePolicies(cfg); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if _, err := posture.FromConfig(cfg); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	ctx := context.Background()
	written, err := s.rules.Sync(ctx, cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	s.rulesMu.Lock()
	prev := s.base.Swap(cfg)
	err = s.applyRulesLocked(ctx)
	if err != nil {
		s.base.Store(prev)
	}
	s.rulesMu.Unlock()
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	// The privacy profiles and sources may have changed with the file:
	// the store's compliance policies are compiled with them.
	s.applyCompliance(s.rulesNow.Load().posture)
	ev := store.NewAuditEvent(s.clock(), "system", "config.reload", cfg.File)
	ev.Detail = map[string]string{"config_policies": cfg.ConfigPolicies, "rules_written": strconv.Itoa(written)}
	if err := s.store.Write(ctx, store.Put(ev)); err != nil {
		s.log.Error("reload: the audit event could not be written", "err", err)
	}
	now := s.rulesNow.Load().set
	s.log.Info("config reloaded: routes and policies apply from the next request",
		"file", cfg.File, "config_policies", cfg.ConfigPolicies, "rules_written", written,
		"routes", len(now.Routes), "policies", len(now.All))
	if cfg.Listen != s.cfg.Listen || cfg.Store != s.cfg.Store || cfg.ExternalURL != s.cfg.ExternalURL || cfg.DataDir != s.cfg.DataDir {
		s.log.Warn("config reload: listen, store, external_url and data_dir changes need a restart")
	}
	if acmeNeedsRestart(s.cfg.ACME, cfg.ACME) {
		s.log.Warn("config reload: acme changes other than acme.hosts need a restart")
	}
	return nil
}
