//go:build windows

package cli

import (
	"context"

	"golang.org/x/sys/windows/svc"
)

// asService runs fn under the Windows service control manager when it
// started the process (sc.exe create ... binPath= "portier.exe agent run"),
// so the service starts, reports running, and stops on request.
func asService(name string, fn func(context.Context) int) (int, bool) {
	is, err := svc.IsWindowsService()
	if err != nil || !is {
		return 0, false
	}
	h := &serviceHandler{fn: fn}
	if err := svc.Run(name, h); err != nil {
		return ExitFail, true
	}
	return h.code, true
}

type serviceHandler struct {
	fn   func(context.Context) int
	code int
}

// Execute implements svc.Handler.
func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- h.fn(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				h.code = <-done
				return false, 0
			}
		case code := <-done:
			h.code = code
			return false, uint32(code)
		}
	}
}
