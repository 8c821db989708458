package lab

import (
	"runtime"
	rtm "runtime/metrics"
	"testing"
)

// BenchmarkLabGC is one full garbage collection of a lab under issue 6's
// load (2 groups of 2 members, 1,000 records per virtual second) after 65
// virtual seconds. In the page Go's GC marks on the main thread, and in
// wasm it marks a whole cycle in one task, so this is a floor for the
// page's GC tasks; run it in wasm (make bench does). What it costs is the
// heap's pointers, not its size: scan-MB is the heap Go must scan (the
// objects holding pointers), heap-MB all of it, most of it the logs'
// record bytes.
func BenchmarkLabGC(b *testing.B) {
	l := New(Config{Seed: 1, MinLatencyMs: 40, MaxLatencyMs: 120, ClientRequestTimeoutMs: 10000})
	for _, g := range []string{"g1", "g2"} {
		if err := l.AddGroup(GroupConfig{Name: g, Members: 2}); err != nil {
			b.Fatal(err)
		}
	}
	l.Advance(10000)
	for _, p := range []ProducerSpec{{Name: "matches", Generator: GenMatchEvents, Rate: 500}, {Name: "clicks", Generator: GenClickstream, Rate: 500}} {
		if err := l.AddProducer(p); err != nil {
			b.Fatal(err)
		}
	}
	for range 65000 / 5 { // in the page's steps (ui.stepMs)
		l.Advance(5)
	}
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	b.StopTimer()
	s := []rtm.Sample{{Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/live:bytes"}}
	rtm.Read(s)
	b.ReportMetric(float64(s[0].Value.Uint64())/1e6, "scan-MB")
	b.ReportMetric(float64(s[1].Value.Uint64())/1e6, "heap-MB")
	runtime.KeepAlive(l)
}

// BenchmarkLabLoad runs issue 6's load (2 groups of 2 members, 1,000
// records per virtual second) in the page's 5 ms steps: one op is one
// step. virtual-s/s is how many virtual seconds the world runs per wall
// second, the page speed it could keep with the whole thread (the page
// gives it about a third: ui.stepBudget), 10 for issue 6's 10×; rec/s is
// the records acknowledged per wall second.
func BenchmarkLabLoad(b *testing.B) {
	l := New(Config{Seed: 1, MinLatencyMs: 40, MaxLatencyMs: 120, ClientRequestTimeoutMs: 10000})
	for _, g := range []string{"g1", "g2"} {
		if err := l.AddGroup(GroupConfig{Name: g, Members: 2}); err != nil {
			b.Fatal(err)
		}
	}
	l.Advance(10000)
	for _, p := range []ProducerSpec{{Name: "matches", Generator: GenMatchEvents, Rate: 500}, {Name: "clicks", Generator: GenClickstream, Rate: 500}} {
		if err := l.AddProducer(p); err != nil {
			b.Fatal(err)
		}
	}
	l.Advance(2000) // past the start
	acked := func() (n int64) {
		for _, p := range l.Producers() {
			n += p.Stats.Acked
		}
		return n
	}
	before := acked()
	for b.Loop() {
		l.Advance(5)
	}
	b.ReportMetric(float64(b.N)*0.005/b.Elapsed().Seconds(), "virtual-s/s")
	b.ReportMetric(float64(acked()-before)/b.Elapsed().Seconds(), "rec/s")
}
