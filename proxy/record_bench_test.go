package proxy_test

import (
	"sort"
	"testing"
	"time"

	"github.com/portier/portier/proxy"
)

// BenchmarkServeRecording is BenchmarkServeAllowed with recorded access
// off and on, side by side on one store: two proxies, the second with a
// recorder flushing into the store, timed in alternating rounds so that
// the machine's other load falls on both alike. It reports each one's
// ns/request (the median round) and on/off, the throughput ratio with
// recording on (the target is at least 0.97; docs/performance.md).
func BenchmarkServeRecording(b *testing.B) {
	e := newBenchEnv(b)
	dl, err := e.st.Decisions()
	if err != nil {
		b.Fatal(err)
	}
	rec := proxy.NewRecorder(proxy.RecorderOptions{Sink: dl})
	rec.Start()
	b.Cleanup(rec.Close)
	off, on := allowedRequest(b, e, nil), allowedRequest(b, e, rec)
	const perRound = 2000
	var offNs, onNs, ratios []float64
	round := func(serve func()) float64 {
		t := time.Now()
		for range perRound {
			serve()
		}
		return float64(time.Since(t).Nanoseconds()) / perRound
	}
	for b.Loop() {
		// Alternate which goes first, so neither always runs on a warmer cache.
		var a, c float64
		if len(ratios)%2 == 0 {
			a = round(off)
			c = round(on)
		} else {
			c = round(on)
			a = round(off)
		}
		offNs, onNs, ratios = append(offNs, a), append(onNs, c), append(ratios, a/c)
	}
	b.ReportMetric(median(offNs), "ns/req-off")
	b.ReportMetric(median(onNs), "ns/req-on")
	b.ReportMetric(median(ratios), "on/off")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
