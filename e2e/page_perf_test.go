//go:build !wasm

package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestPagePerformance measures the page's main thread while records flow
// and a broker fails over: long tasks (over 50 ms, PerformanceObserver) and
// frame times (requestAnimationFrame deltas), at 1× and at 10× speed. It
// prints figures and fails on nothing but a broken page: it is a
// measurement, not a timed test. It runs with STREAMLAB_PERF=1 (and
// STREAMLAB_E2E=1).
func TestPagePerformance(t *testing.T) {
	Require(t)
	if os.Getenv("STREAMLAB_PERF") != "1" {
		t.Skip("a measurement: set STREAMLAB_PERF=1")
	}
	b := openPage(t)
	ctx := b.Ctx
	pageEval[bool](t, ctx, `(() => {
		window.__perf = {long: [], frames: []};
		new PerformanceObserver(l => { for (const e of l.getEntries()) window.__perf.long.push(e.duration); }).observe({type: 'longtask', buffered: false});
		let last = performance.now();
		const f = now => { window.__perf.frames.push(now - last); last = now; requestAnimationFrame(f); };
		requestAnimationFrame(f);
		return true; })()`)
	type stats struct {
		Long   []float64
		Frames []float64
	}
	measure := func(name string, speed int, load bool) {
		pageSetSpeed(t, ctx, speed)
		pageEval[bool](t, ctx, `(() => { window.__perf.long = []; window.__perf.frames = []; return true; })()`)
		start := time.Now()
		for i := 0; time.Since(start) < 15*time.Second; i++ {
			if load {
				pageClick(t, ctx, "produce-10") // 10 records every ~0.5 s: ~20 records/s
				switch i {
				case 10:
					pageClick(t, ctx, "kill-broker-1")
				case 20:
					pageClick(t, ctx, "restart-broker-1")
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
		s := pageEval[stats](t, ctx, `({Long: window.__perf.long, Frames: window.__perf.frames})`)
		fmt.Printf("page perf: %s speed=%d%% long_tasks=%d max_long=%.0fms frames=%d p50=%.1fms p95=%.1fms max=%.1fms\n",
			name, speed, len(s.Long), maxOf(s.Long), len(s.Frames), pct(s.Frames, 50), pct(s.Frames, 95), maxOf(s.Frames))
	}
	measure("idle", 100, false)
	measure("produce+failover", 100, true)
	measure("produce+failover", 1000, true)
	Screenshot(t, ctx, "after")
	pageNoExceptions(t, b)
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j-1] > s[j]; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
	return s[(len(s)-1)*p/100]
}
