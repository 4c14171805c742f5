//go:build !unix

package main

import "time"

// cpuTime is not measured on this system: the CPU/req and CPU used
// columns read 0 (throughput and latency are still measured).
func cpuTime(int) time.Duration { return 0 }
