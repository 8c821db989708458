package ui

import "runtime/metrics"

// gcPacer tells the page when to collect garbage itself, in a tick of its
// own, before Go would start a collection on its own.
//
// Go wasm has one thread. A collection Go starts marks in whatever task
// allocates next, and under issue 6's load that was often a redraw: the
// page's last long tasks were redraws with 10–18 ms of marking inside.
// runtime.GC in a tick that does nothing else is a task of its own, and its
// cost is the heap Go must scan (BenchmarkLabGC), a few MB here. Go's own
// collector stays on: it still runs if the page stops ticking or one tick
// allocates the whole runway.
type gcPacer struct {
	samples [3]metrics.Sample
}

// gcEarly is how far along the runway from the live heap to Go's goal the
// page collects. Go may start as early as 70% of the way (its minimum
// trigger); the rest is room for what one tick allocates (well under 1 MB at
// 1×, a few MB when a 10× world runs its whole step budget).
const gcEarly = 0.5

func newGCPacer() *gcPacer {
	g := &gcPacer{}
	g.samples[0].Name = "/gc/heap/live:bytes"
	g.samples[1].Name = "/gc/heap/goal:bytes"
	g.samples[2].Name = "/memory/classes/heap/objects:bytes"
	return g
}

// due reports whether the heap has come gcEarly of the way to Go's goal.
func (g *gcPacer) due() bool {
	metrics.Read(g.samples[:])
	for _, s := range g.samples {
		if s.Value.Kind() != metrics.KindUint64 {
			return false // a Go without these metrics: leave it to Go
		}
	}
	live, goal, now := g.samples[0].Value.Uint64(), g.samples[1].Value.Uint64(), g.samples[2].Value.Uint64()
	return goal > live && float64(now) >= float64(live)+gcEarly*float64(goal-live)
}
