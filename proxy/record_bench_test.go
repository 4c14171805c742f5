package proxy_test

import (
	"testing"

	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// BenchmarkServeRecording runs BenchmarkServeAllowed with recorded access
// off and on (the recorder flushing into the same embedded store), side by
// side: recording must cost at most 3% of throughput (docs/performance.md).
func BenchmarkServeRecording(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchServeAllowed(b, false) })
	b.Run("on", func(b *testing.B) { benchServeAllowed(b, true) })
}

// benchRecorder is a started recorder on st's decision log, closed when the
// benchmark ends; nil when record is false.
func benchRecorder(b *testing.B, st *store.Store, record bool) *proxy.Recorder {
	if !record {
		return nil
	}
	dl, err := st.Decisions()
	if err != nil {
		b.Fatal(err)
	}
	r := proxy.NewRecorder(proxy.RecorderOptions{Sink: dl})
	r.Start()
	b.Cleanup(r.Close)
	return r
}
