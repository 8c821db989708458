package ui

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// TestGCPacerDueBeforeGo allocates garbage after a collection until the
// pacer says "due", and checks that the heap then is less than 70% of the
// way from the live heap to Go's goal: Go's earliest trigger (mgcpacer.go,
// its minimum trigger), so that the page's collection comes first. A pacer
// reading the wrong metric would never be due, or be due at once.
func TestGCPacerDueBeforeGo(t *testing.T) {
	s := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	read := func() (cycles, live, goal, now float64) {
		metrics.Read(s)
		return float64(s[0].Value.Uint64()), float64(s[1].Value.Uint64()), float64(s[2].Value.Uint64()), float64(s[3].Value.Uint64())
	}
	g := newGCPacer()
	for try := 0; try < 5; try++ { // a cycle something else started: try again
		runtime.GC()
		before, _, _, _ := read()
		if g.due() {
			t.Fatal("due right after a collection")
		}
		var keep [][]byte
		for i := 0; i < 1<<16; i++ {
			keep = append(keep[:i%8], make([]byte, 16<<10)) // garbage, a little of it live
			if !g.due() {
				continue
			}
			cycles, live, goal, now := read()
			if cycles != before {
				break // a collection ended in between: inconclusive
			}
			if way := (now - live) / (goal - live); way >= 0.7 {
				t.Fatalf("due only %.0f%% of the way to Go's goal: Go may have started first", 100*way)
			}
			return
		}
		runtime.KeepAlive(keep)
	}
	t.Fatal("never due before a collection ended, five times")
}
