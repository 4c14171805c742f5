package server

import (
	"time"

	"github.com/portier/portier/audit"
)

// auditSweeper is the audit log's retention sweep, with the configured
// retention (audit.DefaultRetention when unset).
func (s *Server) auditSweeper() *audit.Sweeper {
	retention := audit.DefaultRetention
	if r := s.cfg.Audit.Retention; r != nil {
		retention = time.Duration(*r)
	}
	return audit.NewSweeper(audit.Options{Log: s.store, Clock: s.clock, Retention: retention, Logger: s.log})
}
