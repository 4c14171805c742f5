package server

import (
	"runtime/debug"
	"testing"
)

// TestRelaxGC: the collector's target is raised for the load and put
// back; an operator's higher target, or the collector off, is kept; a
// second start-up during the first never leaves it raised.
func TestRelaxGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	current := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }

	restore := relaxGC(400)
	if got := current(); got != 400 {
		t.Errorf("during the load GOGC = %d, want 400", got)
	}
	restore2 := relaxGC(400) // a second start-up meanwhile
	restore()
	if got := current(); got != 100 {
		t.Errorf("after the first load GOGC = %d, want 100", got)
	}
	restore2()
	if got := current(); got != 100 {
		t.Errorf("after both loads GOGC = %d, want 100", got)
	}

	for _, operator := range []int{800, -1} {
		debug.SetGCPercent(operator)
		restore := relaxGC(400)
		if got := current(); got != operator {
			t.Errorf("operator's GOGC %d became %d", operator, got)
		}
		restore()
		if got := current(); got != operator {
			t.Errorf("operator's GOGC %d restored as %d", operator, got)
		}
	}
}
