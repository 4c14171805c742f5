package boltstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

const benchDevices = 100_000

var (
	fixtureOnce sync.Once
	fixturePath string
)

// fixture writes a store file with benchDevices devices, once per run.
func fixture(b *testing.B) string {
	fixtureOnce.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			b.Fatal(err)
		}
		fixturePath = filepath.Join(dir, "portier.db")
		db, err := boltstore.Open(fixturePath)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for start := 0; start < benchDevices; start += 5000 {
			var muts []store.Mutation
			for i := start; i < start+5000; i++ {
				d := storetest.Laptop(i, time.Unix(1_760_000_000, 0).UTC())
				v, _ := store.Encode(d)
				muts = append(muts, store.Mutation{Kind: store.KindDevice, ID: d.ID, Value: v})
			}
			if _, err := db.Commit(context.Background(), muts); err != nil {
				b.Fatal(err)
			}
		}
	})
	return fixturePath
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkLoad100k measures start-up: reading 100,000 devices into memdb.
func BenchmarkLoad100k(b *testing.B) {
	path := fixture(b)
	b.ResetTimer()
	for b.Loop() {
		db, err := boltstore.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.Open(context.Background(), db, quietLog())
		if err != nil {
			b.Fatal(err)
		}
		if n := len(st.Devices()); n != benchDevices {
			b.Fatalf("%d devices", n)
		}
		st.Close()
		db.Close()
	}
}

func openFixture(b *testing.B) (*store.Store, func()) {
	db, err := boltstore.Open(fixture(b))
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), db, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	return st, func() { st.Close(); db.Close() }
}

// BenchmarkDeviceByCertSerial is the proxy's per-request device lookup.
func BenchmarkDeviceByCertSerial(b *testing.B) {
	st, done := openFixture(b)
	defer done()
	serials := make([]string, 1024)
	for i := range serials {
		serials[i] = fmt.Sprintf("%d", 1_000_000_000_000+(i*97)%benchDevices)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok := st.DeviceByCertSerial(serials[i&1023]); !ok {
			b.Fatal("missing")
		}
		i++
	}
}

// BenchmarkIsRevoked is the per-request revocation check.
func BenchmarkIsRevoked(b *testing.B) {
	st, done := openFixture(b)
	defer done()
	b.ReportAllocs()
	for b.Loop() {
		if st.IsRevoked("1000000000042") {
			b.Fatal("revoked")
		}
	}
}

// BenchmarkMemoryPerDevice reports the heap held per device in memdb.
func BenchmarkMemoryPerDevice(b *testing.B) {
	path := fixture(b)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		db, err := boltstore.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.Open(context.Background(), db, quietLog())
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/benchDevices, "bytes/device")
		runtime.KeepAlive(st)
		st.Close()
		db.Close()
	}
}

// BenchmarkPostureUpsert measures durable device upserts as posture
// reports arrive from many agents at once: each Write is fsynced, and the
// writer groups concurrent writes into one transaction.
func BenchmarkPostureUpsert(b *testing.B) {
	db, err := boltstore.Open(filepath.Join(b.TempDir(), "portier.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st, err := store.Open(context.Background(), db, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.SetParallelism(64) // 64 × GOMAXPROCS agents reporting at once
	var n int64
	var mu sync.Mutex
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		base := n
		n += 1 << 20
		mu.Unlock()
		i := base
		for pb.Next() {
			d := storetest.Laptop(int(i%benchDevices), time.Unix(1_760_000_000, 0).UTC())
			d.LastSeen = time.Unix(i, 0)
			if err := st.Write(context.Background(), store.Put(d)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "portier-bench-*") }
