package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one server under load.
type target struct {
	name  string
	proto string // what the load generator speaks to it, for the table
	// addr is the 127.0.0.1:port every connection dials, whatever the URL
	// says: the URL's host is only the Host header and the TLS server name.
	addr string
	// urls are requested round-robin by worker: worker i asks for
	// urls[i%len(urls)] with the Cookie header cookies[i%len(urls)].
	urls    []string
	cookies []string
	tls     *tls.Config // client TLS settings; nil for plain HTTP
	pid     int         // the target's process when it is not this one, for CPU accounting
	// upstreamConns counts connections opened to the upstream.
	upstreamConns *atomic.Int64
}

// client returns an HTTP/1.1 client with one keep-alive connection that
// only ever dials t.addr and does not follow redirects.
func (t *target) client() *http.Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialLoopback(ctx, "tcp", t.addr)
		},
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
	}
	if t.tls != nil {
		tr.TLSClientConfig = t.tls.Clone()
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get requests url with only the cookie (the set-up's requests) and reads
// the whole body; anything but 200 is an error.
func get(ctx context.Context, c *http.Client, url, cookie string) ([]byte, error) {
	return getWith(ctx, c, url, requestHeader(requestMinimal, cookie))
}

// Request header sets for -request.
const (
	requestBrowser = "browser"
	requestMinimal = "minimal"
)

// requestHeader is what the load generator sends besides Host: with
// "browser", the headers Chromium sends when it loads a page (what a proxy
// in front of web applications parses and forwards); with "minimal", only
// Go's User-Agent. The cookie, if any, is added to both.
func requestHeader(kind, cookie string) http.Header {
	h := http.Header{}
	if kind == requestBrowser {
		h.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36")
		h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8")
		h.Set("Accept-Encoding", "gzip, deflate, br, zstd")
		h.Set("Accept-Language", "en-US,en;q=0.9")
		h.Set("Sec-Ch-Ua", `"Chromium";v="156", "Not-A.Brand";v="24"`)
		h.Set("Sec-Ch-Ua-Mobile", "?0")
		h.Set("Sec-Ch-Ua-Platform", `"Linux"`)
		h.Set("Sec-Fetch-Dest", "document")
		h.Set("Sec-Fetch-Mode", "navigate")
		h.Set("Sec-Fetch-Site", "same-origin")
		h.Set("Sec-Fetch-User", "?1")
		h.Set("Upgrade-Insecure-Requests", "1")
	}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	return h
}

// getWith requests url with the header h (not modified, so workers reuse
// theirs) and reads the whole body; anything but 200 is an error.
func getWith(ctx context.Context, c *http.Client, url string, h http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return body, nil
}

// preflight asks every URL of t once and checks that the upstream answered.
func preflight(ctx context.Context, t *target) error {
	c := t.client()
	defer c.CloseIdleConnections()
	for i, u := range t.urls {
		body, err := get(ctx, c, u, t.cookies[i])
		if err != nil {
			return fmt.Errorf("%s is not serving: %w (body %.200q)", t.name, err, body)
		}
		if string(body) != upstreamBody {
			return fmt.Errorf("%s: %s did not answer with the upstream's body: %.200q", t.name, u, body)
		}
	}
	return nil
}

// result is one measurement of one target.
type result struct {
	requests int // answered 200 within the measured window
	errors   int
	firstErr string
	elapsed  time.Duration
	p50, p99 time.Duration
	// cpuPerReq is the CPU time of this process (load generator, upstream
	// and any in-process target) plus the target's own process, per request.
	cpuPerReq time.Duration
	// allocs and allocBytes are this process's heap allocations per
	// request: the load generator's and the upstream's, plus the target's
	// when it runs in-process.
	allocs, allocBytes uint64
	// cpuShare is the CPU time counted in cpuPerReq over the window, as a
	// share of all the machine's CPUs: well under 100% when other work on
	// the machine took CPU from the benchmark.
	cpuShare float64
	// upstreamConns is how many connections were opened to the upstream
	// during the window: a proxy that keeps enough idle connections opens
	// none once warm.
	upstreamConns int64
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// measure loads t with conc connections for warmup+d and reports the window
// after the warm-up. onWindow, if set, is called with true as the measured
// window opens and false as it closes.
func measure(ctx context.Context, t *target, conc int, request string, warmup, d time.Duration, onWindow func(bool)) result {
	// Every measurement starts from a collected heap, so one does not
	// inherit the previous one's garbage (and its collection).
	runtime.GC()
	start := time.Now().Add(warmup)
	end := start.Add(d)
	stats := make([]workerStats, conc)
	var wg sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("role", "client"), func(ctx context.Context) {
		for i := range conc {
			wg.Go(func() {
				c := t.client()
				defer c.CloseIdleConnections()
				n := i % len(t.urls)
				stats[i].run(ctx, c, t.urls[n], requestHeader(request, t.cookies[n]), start, end)
			})
		}
	})
	sleepUntil(ctx, start)
	if onWindow != nil {
		onWindow(true)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, conns0 := cpuTime(t.pid), t.upstreamConns.Load()
	sleepUntil(ctx, end)
	cpu1, conns1 := cpuTime(t.pid), t.upstreamConns.Load()
	runtime.ReadMemStats(&m1)
	if onWindow != nil {
		onWindow(false)
	}
	wg.Wait()

	r := result{elapsed: d, upstreamConns: conns1 - conns0}
	var lat []time.Duration
	for _, s := range stats {
		lat = append(lat, s.lat...)
		r.errors += s.errors
		if r.firstErr == "" {
			r.firstErr = s.firstErr
		}
	}
	r.requests = len(lat)
	if r.requests > 0 {
		slices.Sort(lat)
		r.p50 = lat[(len(lat)-1)*50/100]
		r.p99 = lat[(len(lat)-1)*99/100]
		r.cpuPerReq = (cpu1 - cpu0) / time.Duration(r.requests)
		r.cpuShare = float64(cpu1-cpu0) / float64(d) / float64(runtime.NumCPU())
		r.allocs = (m1.Mallocs - m0.Mallocs) / uint64(r.requests)
		r.allocBytes = (m1.TotalAlloc - m0.TotalAlloc) / uint64(r.requests)
	}
	return r
}

// sleepUntil returns at t or when ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// workerStats is one connection's share of a measurement.
type workerStats struct {
	lat      []time.Duration
	errors   int
	firstErr string
}

// run sends requests one after another until end; those sent and answered
// within [start, end] count.
func (s *workerStats) run(ctx context.Context, c *http.Client, url string, h http.Header, start, end time.Time) {
	s.lat = make([]time.Duration, 0, 1<<13)
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		_, err := getWith(ctx, c, url, h)
		t1 := time.Now()
		switch {
		case t0.Before(start) || t1.After(end):
		case err != nil:
			s.errors++
			if s.firstErr == "" {
				s.firstErr = err.Error()
			}
		default:
			s.lat = append(s.lat, t1.Sub(t0))
		}
		if err != nil {
			time.Sleep(time.Millisecond) // a failing target must not turn the generator into a busy loop
		}
	}
}
