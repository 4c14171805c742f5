package server

import "runtime/debug"

// loadGCPercent is the garbage collector's target (GOGC) while the read
// model loads. Nearly everything the load allocates stays live (the
// records and their indexes; the garbage, the rows' bytes and the JSON
// decoder's scratch, is under half of it), so collecting each time the
// heap doubles from nothing marks the growing heap over and over for
// little memory back: at the default 100 that was about a third of the
// cold start's CPU time. At 400 the load still allocates less than the
// heap the default target allows once the replica runs (twice the live
// heap), so the peak is no higher. A memory limit (GOMEMLIMIT) is obeyed
// as always.
const loadGCPercent = 400

// relaxGC raises the collector's target to percent until the returned
// function is called, unless it is already that or higher (or off: the
// operator's setting is kept). Two start-ups in one process (tests) never
// leave it raised: the second finds it raised and leaves it to the first.
func relaxGC(percent int) (restore func()) {
	old := debug.SetGCPercent(percent)
	switch {
	case old == percent:
		return func() {}
	case old < 0 || old > percent:
		debug.SetGCPercent(old)
		return func() {}
	}
	return func() { debug.SetGCPercent(old) }
}
