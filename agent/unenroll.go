package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// Unenrolled describes a finished `portier agent unenroll`.
type Unenrolled struct {
	DeviceID string
	// Removed are the places the device identity was removed from.
	Removed []Placement
	// ServerTold says the server retired the device at the agent's
	// request (or had already revoked or retired it).
	ServerTold bool
}

// Unenroll takes this device out of management: it removes the device
// identity from every browser store it was installed in, asks the server
// to retire the device (which revokes every certificate it holds), and
// deletes the enrollment's files. When the server cannot be reached the
// enrollment is kept (run it again) unless force is set.
func (a *Agent) Unenroll(ctx context.Context, force bool) (*Unenrolled, error) {
	res := &Unenrolled{DeviceID: a.st.DeviceID}
	var errs []error
	if a.o.Browser != nil {
		removed, err := RemoveBrowserIdentity(ctx, a.o.StateDir, *a.o.Browser)
		res.Removed = removed
		if err != nil {
			errs = append(errs, err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	err := a.c.call(cctx, http.MethodPost, "/api/v1/agent/unenroll", struct{}{}, nil)
	cancel()
	switch {
	case err == nil, refused(err):
		res.ServerTold = true
	case force:
		a.o.Log.Warn("agent: the server was not told; removing the enrollment anyway (--force)", "err", err)
	default:
		return res, fmt.Errorf("agent: tell the server: %w (the enrollment is kept; run unenroll again, or add --force to remove it without telling the server)", err)
	}
	if len(errs) > 0 && !force {
		return res, fmt.Errorf("%w (the enrollment is kept so the removal can be retried; --force removes it anyway)", errors.Join(errs...))
	}
	a.Close()
	if filepath.Base(a.dir) == WorkProfileDir {
		return res, os.RemoveAll(a.dir)
	}
	if err := a.removeProfile(); err != nil {
		return res, err
	}
	return res, nil
}
