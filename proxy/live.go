package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// liveSet tracks forwarded requests that are still open, so that a lost
// access (signed out, certificate revoked, device quarantined, posture
// dropped) closes streaming responses and WebSockets within a second.
//
// An HTTP/1 connection carries one request at a time, so it is registered
// once and stands for whichever request it is forwarding (connState.active);
// losing access closes the connection. HTTP/2 streams and upgraded
// connections are registered one by one and cancelled on their own.
type liveSet struct {
	next  atomic.Uint64
	m     sync.Map // uint64 -> *liveReq
	conns sync.Map // net.Conn -> *connState; removed by Attach's ConnState hook
}

// watchConn registers an HTTP/1 connection, once.
func (l *liveSet) watchConn(cs *connState) {
	if !cs.watched.Load() && cs.watched.CompareAndSwap(false, true) {
		l.conns.Store(cs.conn, cs)
	}
}

type liveReq struct {
	req    *request
	cancel context.CancelFunc
	mu     sync.Mutex
	conn   interface{ Close() error } // a hijacked (WebSocket) connection
}

func (l *liveSet) add(req *request, cancel context.CancelFunc) uint64 {
	id := l.next.Add(1)
	l.m.Store(id, &liveReq{req: req, cancel: cancel})
	return id
}

func (l *liveSet) remove(id uint64) { l.m.Delete(id) }

func (l *liveSet) attach(id uint64, c interface{ Close() error }) {
	if v, ok := l.m.Load(id); ok {
		lr := v.(*liveReq)
		lr.mu.Lock()
		lr.conn = c
		lr.mu.Unlock()
	}
}

// Run re-evaluates every open request once a second, and
// prunes the assertion cache every minute, until ctx ends.
func (p *Proxy) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var ticks int
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := p.opts.Clock()
			p.reevaluate(now)
			if ticks++; ticks%60 == 0 {
				p.cache.prune(now)
			}
		}
	}
}

func (p *Proxy) reevaluate(now time.Time) {
	p.live.m.Range(func(_, v any) bool {
		lr := v.(*liveReq)
		if !p.stillAllowed(lr.req, now) {
			lr.cancel()
			lr.mu.Lock()
			if lr.conn != nil {
				lr.conn.Close()
			}
			lr.mu.Unlock()
			p.logLost(lr.req)
		}
		return true
	})
	p.live.conns.Range(func(_, v any) bool {
		cs := v.(*connState)
		req := cs.active.Load()
		if req != nil && !p.stillAllowed(req, now) && cs.active.Load() == req {
			cs.conn.Close()
			p.logLost(req)
		}
		return true
	})
}

func (p *Proxy) logLost(req *request) {
	p.opts.Log.Info("proxy: closed an open connection: access lost", "route", req.rt.from, "email", req.session.Email)
}

// stillAllowed rebuilds the request's facts from the current state and
// evaluates again: the route that serves the request's path in the current
// route table (a reload may have tightened its policy or removed it), the
// session as stored now, and the device as of now — its certificate's
// validity at now, revocation, and the device record.
func (p *Proxy) stillAllowed(old *request, now time.Time) bool {
	rt := p.table.Load().match(old.rt.host, old.in.Path)
	if rt == nil {
		return false
	}
	s, ok := p.opts.Store.Session(old.session.ID)
	if !ok || !now.Before(s.ExpiresAt) || !identity.BoundTo(s, rt.host) {
		return false
	}
	if s.ParentID != "" {
		if _, ok := p.opts.Store.Session(s.ParentID); !ok {
			return false
		}
	}
	req := &request{rt: rt, session: s, in: old.in}
	if old.device != nil {
		certExpired := old.serial != "" && (old.conn == nil || !now.Before(old.conn.notAfter))
		if certExpired || (old.serial != "" && p.opts.Store.IsRevoked(old.serial)) {
			req.device = nil
		} else if d, ok := p.opts.Store.Device(old.device.ID); ok && d.State != store.DeviceRetired && d.State != store.DeviceWiped {
			req.device = d
		}
		if old.serial == "" && p.recheckDue(s, now) {
			req.device = nil
		}
	}
	p.bindOwner(req)
	req.in.Now = now
	in := &req.in
	in.Groups, in.MFAAt, in.SignedInAt = s.Groups, s.MFAAt, signedInAt(s)
	req.key = old.key
	in.Device = policyDevice(req.device, req.key)
	ro := p.rollout.Load()
	in.Waves = ro.waves(in.Email, in.Groups)
	return p.decide(req, ro).Outcome.Allowed()
}

// hijackWatch hands a hijacked connection to the live set so it can be
// closed when access is lost.
type hijackWatch struct {
	http.ResponseWriter
	onHijack func(interface{ Close() error })
}

func (h *hijackWatch) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.onHijack(c)
	}
	return c, rw, err
}

func (h *hijackWatch) Unwrap() http.ResponseWriter { return h.ResponseWriter }
