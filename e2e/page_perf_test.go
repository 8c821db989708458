//go:build !wasm

package e2e

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// TestPagePerformance measures the page: the download (app.wasm raw, gzip,
// brotli) and the time to interactive, cold and warm; then its main thread
// while records flow and a broker fails over, at 1× and 10× speed, and
// under the load of issue 6 (2 consumer groups and 1,000 records/s, at 1×
// and 10×): long tasks (over 50 ms, PerformanceObserver), frame times
// (requestAnimationFrame deltas) and the rate the page achieved (its frame
// budget makes a busy world run slower than real time rather than block).
// It prints figures and fails on nothing but a broken page: it is a
// measurement, not a timed test. It runs with STREAMLAB_PERF=1 (and
// STREAMLAB_E2E=1).
func TestPagePerformance(t *testing.T) {
	Require(t)
	if os.Getenv("STREAMLAB_PERF") != "1" {
		t.Skip("a measurement: set STREAMLAB_PERF=1")
	}
	t.Run("download", perfDownload)
	t.Run("failover", perfFailover)
	t.Run("load", perfLoad)
}

// perfDownload prints app.wasm's size raw, gzip -9 and brotli -q 11 (the
// node serves it as is), and the time from navigation start to #app-ready:
// cold (a fresh profile) and warm (the same profile once the go-app service
// worker has cached app.wasm). The warm load restores the saved session,
// so it replays its few seconds first, as a learner's reload does.
func perfDownload(t *testing.T) {
	wasm, err := os.ReadFile(filepath.Join(RepoRoot(t), "static", "web", "app.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(wasm)
	zw.Close()
	br := "n/a (no brotli command)"
	if exe, err := exec.LookPath("brotli"); err == nil {
		cmd := exec.Command(exe, "-c", "-q", "11")
		cmd.Stdin = bytes.NewReader(wasm)
		if out, err := cmd.Output(); err == nil {
			br = mb(len(out))
		} else {
			br = "n/a (" + err.Error() + ")"
		}
	}
	fmt.Printf("page perf: app.wasm raw=%s gzip-9=%s brotli-11=%s\n", mb(len(wasm)), mb(gz.Len()), br)

	node := StartNode(t)
	b := NewBrowser(t)
	ctx := b.Ctx
	// Stamp performance.now() (ms since navigation start) when #app-ready
	// first shows, in every document the tab loads.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `(() => {
			window.__tti = 0;
			const ready = () => { const r = document.getElementById("app-ready");
				return r && !document.getElementById("app-wasm-loader") && r.getClientRects().length > 0; };
			const mo = new MutationObserver(() => { if (!window.__tti && ready()) { window.__tti = performance.now(); mo.disconnect(); } });
			mo.observe(document, {childList: true, subtree: true, attributes: true});
		})()`})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	type load struct {
		TTI, DOMContentLoaded, Load float64
		WasmStart, WasmEnd          float64
		WasmTransfer, WasmBody      float64
		WasmWorker                  bool
		Controlled                  bool
	}
	measure := func(name string) {
		OpenApp(t, ctx, node.URL+"/")
		pageWait(t, ctx, 10*time.Second, "the ready stamp", func() bool { return pageEval[float64](t, ctx, `window.__tti || 0`) > 0 })
		l := pageEval[load](t, ctx, `(() => {
			const n = performance.getEntriesByType("navigation")[0] || {};
			const w = performance.getEntriesByType("resource").filter(e => e.name.includes("app.wasm"))[0] || {};
			return {TTI: window.__tti, DOMContentLoaded: n.domContentLoadedEventEnd || 0, Load: n.loadEventEnd || 0,
				WasmStart: w.startTime || 0, WasmEnd: w.responseEnd || 0, WasmTransfer: w.transferSize || 0, WasmBody: w.decodedBodySize || 0,
				WasmWorker: (w.workerStart || 0) > 0, Controlled: !!navigator.serviceWorker.controller}; })()`)
		fmt.Printf("page perf: time-to-interactive %s: app-ready=%.0fms (domcontentloaded=%.0fms load=%.0fms; app.wasm fetched %.0f–%.0fms, transfer=%s body=%s, via service worker=%t, controlled=%t)\n",
			name, l.TTI, l.DOMContentLoaded, l.Load, l.WasmStart, l.WasmEnd, mb(int(l.WasmTransfer)), mb(int(l.WasmBody)), l.WasmWorker, l.Controlled)
	}
	measure("cold")
	pageWait(t, ctx, 60*time.Second, "the service worker caching app.wasm", func() bool {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => {
			for (const k of await caches.keys()) {
				if ((await (await caches.open(k)).keys()).some(r => r.url.includes("app.wasm"))) return true;
			}
			return false; })()`, chromedp.EvalAwaitPromise))
		return err == nil && v
	})
	measure("warm")
	pageNoExceptions(t, b)
}

func mb(n int) string { return fmt.Sprintf("%.2fMB", float64(n)/1e6) }

// perfStats is what the page's observers collected: the long tasks'
// durations and start times (performance.now() ms), and the frame deltas.
type perfStats struct {
	Long, LongAt []float64
	Frames       []float64
}

// perfObserve starts collecting long tasks and frame deltas in the page.
func perfObserve(t *testing.T, ctx context.Context) {
	t.Helper()
	pageEval[bool](t, ctx, `(() => {
		window.__perf = {long: [], longAt: [], frames: []};
		new PerformanceObserver(l => { for (const e of l.getEntries()) { window.__perf.long.push(e.duration); window.__perf.longAt.push(e.startTime); } }).observe({type: 'longtask', buffered: false});
		let last = performance.now();
		const f = now => { window.__perf.frames.push(now - last); last = now; requestAnimationFrame(f); };
		requestAnimationFrame(f);
		return true; })()`)
}

func perfReset(t *testing.T, ctx context.Context) {
	t.Helper()
	pageEval[bool](t, ctx, `(() => { window.__perf.long = []; window.__perf.longAt = []; window.__perf.frames = []; (window.__gc || []).length = 0; return true; })()`)
}

func perfRead(t *testing.T, ctx context.Context) perfStats {
	t.Helper()
	return pageEval[perfStats](t, ctx, `({Long: window.__perf.long, LongAt: window.__perf.longAt, Frames: window.__perf.frames})`)
}

func (s perfStats) String() string {
	return fmt.Sprintf("long_tasks=%d max_long=%.0fms frames=%d p50=%.1fms p95=%.1fms max=%.1fms",
		len(s.Long), maxOf(s.Long), len(s.Frames), pct(s.Frames, 50), pct(s.Frames, 95), maxOf(s.Frames))
}

// perfFailover: a few records by hand while a broker fails over.
func perfFailover(t *testing.T) {
	b := openPage(t)
	ctx := b.Ctx
	perfObserve(t, ctx)
	measure := func(name string, speed int, load bool) {
		pageSetSpeed(t, ctx, speed)
		perfReset(t, ctx)
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
		fmt.Printf("page perf: %s speed=%d%% %s\n", name, speed, perfRead(t, ctx))
	}
	measure("idle", 100, false)
	measure("produce+failover", 100, true)
	measure("produce+failover", 1000, true)
	Screenshot(t, ctx, "after")
	pageNoExceptions(t, b)
}

// perfLoad builds issue 6's load through the page's forms: 2 consumer
// groups of 2 members, then two generated producers of 500 records per
// virtual second each (1,000/s). It measures at 1× speed, then at 10×
// (10,000 records per wall second asked of the page), and prints what was
// achieved: virtual seconds per wall second (the clock) and records
// acknowledged per wall second (the producers table).
func perfLoad(t *testing.T) {
	b := perfOpenPage(t)
	ctx := b.Ctx
	perfObserve(t, ctx)
	for _, g := range []string{"g1", "g2"} {
		pageSet(t, ctx, "group-id", g, "input")
		pageSet(t, ctx, "group-members", "2", "change")
		pageClick(t, ctx, "add-group")
		if e := pageEval[string](t, ctx, `(document.getElementById('group-error') || {}).textContent || ""`); e != "" {
			t.Fatalf("the form refused group %s: %s", g, e)
		}
	}
	pageWait(t, ctx, 90*time.Second, "both groups Stable with 2 members owning 3 partitions each", func() bool {
		for _, g := range []string{"g1", "g2"} {
			state, _, members := pageGroup(t, b, g)
			if state != "Stable" || len(members) != 2 || !splitEvenly(members, 3) {
				return false
			}
		}
		return true
	})
	for _, p := range []struct{ name, gen string }{{"matches", "live match events"}, {"clicks", "clickstream"}} {
		pageSet(t, ctx, "np-name", p.name, "input")
		pageSet(t, ctx, "np-generator", p.gen, "change")
		pageSet(t, ctx, "np-rate", "500", "input")
		pageClick(t, ctx, "np-add")
		if e := pageEval[string](t, ctx, `(document.getElementById('np-error') || {}).textContent || ""`); e != "" {
			t.Fatalf("the form refused producer %s: %s", p.name, e)
		}
	}
	if r := pageEval[string](t, ctx, `[...document.querySelectorAll('.producer-row')].map(r => r.dataset.name + "=" + r.dataset.rate).join(" ")`); r == "" {
		t.Fatal("no producer rows")
	} else {
		t.Logf("producers: %s", r)
	}

	// The page's state: its virtual clock and the records its producers
	// sent, had acknowledged, and failed.
	type counts struct {
		Clock               string
		Sent, Acked, Failed float64
		Lag                 float64
	}
	read := func(ctx context.Context) (counts, time.Time) {
		c := pageEval[counts](t, ctx, `(() => { const s = n => [...document.querySelectorAll('.producer-row')].reduce((a, r) => a + (+r.dataset[n] || 0), 0);
			const lag = [...document.querySelectorAll('.group-card .gpart[data-lag]')].reduce((a, e) => a + (+e.dataset.lag || 0), 0);
			return {Clock: document.getElementById('clock').textContent, Sent: s('sent'), Acked: s('acked'), Failed: s('failed'), Lag: lag}; })()`)
		return c, time.Now()
	}
	virtual := func(c counts) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05.0 UTC", c.Clock)
		if err != nil {
			t.Fatalf("clock %q: %v", c.Clock, err)
		}
		return v
	}
	measure := func(name string, speed int) {
		// A tab that answers nothing for 2 minutes is broken: fail, not hang.
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		pageSetSpeed(t, ctx, speed)
		time.Sleep(5 * time.Second) // let the new pace settle
		perfReset(t, ctx)
		stop := perfProfile(t, ctx, fmt.Sprintf("load-%d", speed))
		c0, w0 := read(ctx)
		time.Sleep(20 * time.Second)
		s := perfRead(t, ctx)
		stop()
		c1, w1 := read(ctx)
		wall := w1.Sub(w0).Seconds()
		virt := virtual(c1).Sub(virtual(c0)).Seconds()
		perVirt := 0.0
		if virt > 0 {
			perVirt = (c1.Acked - c0.Acked) / virt
		}
		fmt.Printf("page perf: %s speed=%d%% %s\n", name, speed, s)
		perfGCReport(t, ctx, s)
		fmt.Printf("page perf: %s speed=%d%% achieved: virtual=%.2fs per wall s, sent=%.0f/wall s, acked=%.0f/wall s (%.0f per virtual s), failed=%.0f, group lag at end=%.0f, clock %s\n",
			name, speed, virt/wall, (c1.Sent-c0.Sent)/wall, (c1.Acked-c0.Acked)/wall, perVirt, c1.Failed-c0.Failed, c1.Lag, c1.Clock)
	}
	measure("2 groups+1000 rec/s", 100)
	measure("2 groups+1000 rec/s", 1000)
	pageSetSpeed(t, ctx, 100)
	pageScrollTo(t, ctx, "producers")
	Screenshot(t, ctx, "load")
	pageNoExceptions(t, b)
}

// perfOpenPage is openPage, with Go's GC traced when
// STREAMLAB_PERF_GCTRACE=1: the page's Go then runs with
// GODEBUG=gctrace=1 (go-app's launcher does new Go(); the script wraps the
// class wasm_exec.js defines to set its env) and window.__gc keeps each
// line the runtime prints, with the time it printed it (a cycle's end).
// perfGCReport matches them with the long tasks.
func perfOpenPage(t *testing.T) *Browser {
	if os.Getenv("STREAMLAB_PERF_GCTRACE") != "1" {
		return openPage(t)
	}
	node := StartNode(t)
	b := NewBrowser(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.Ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `(() => {
			window.__gc = [];
			const log = console.log;
			console.log = (...a) => {
				if (typeof a[0] === "string") for (const l of a[0].split("\n")) if (l.startsWith("gc ")) window.__gc.push({At: performance.now(), Line: l});
				log.apply(console, a);
			};
			let Go;
			Object.defineProperty(globalThis, "Go", {configurable: true, get: () => Go,
				set: G => { Go = class extends G { constructor() { super(); this.env.GODEBUG = "gctrace=1"; } }; }});
		})()`})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	OpenApp(t, b.Ctx, node.URL+"/")
	return b
}

// perfGCReport prints, when the GC is traced (perfOpenPage), the GC
// cycles since the last perfReset and, for each long task, the cycles
// that ended within it.
func perfGCReport(t *testing.T, ctx context.Context, s perfStats) {
	t.Helper()
	if os.Getenv("STREAMLAB_PERF_GCTRACE") != "1" {
		return
	}
	type line struct {
		At   float64
		Line string
	}
	gc := pageEval[[]line](t, ctx, `window.__gc || []`)
	fmt.Printf("page perf: gc: %d cycles\n", len(gc))
	for _, g := range gc {
		fmt.Printf("  at=%.0fms %s\n", g.At, g.Line)
	}
	withGC := 0
	for i, d := range s.Long {
		var in []string
		for _, g := range gc {
			if g.At >= s.LongAt[i] && g.At <= s.LongAt[i]+d {
				in = append(in, strings.Fields(g.Line)[1])
			}
		}
		if len(in) > 0 {
			withGC++
		}
		fmt.Printf("  long task at=%.0fms %.0fms: gc %v\n", s.LongAt[i], d, in)
	}
	fmt.Printf("page perf: gc: %d of %d long tasks had a GC cycle end in them\n", withGC, len(s.Long))
}

// perfProfile records a CPU profile of the page (the Profiler domain)
// when STREAMLAB_PERF_PROFILE names a directory, until the returned
// function is called; it then writes <dir>/<name>.cpuprofile (DevTools
// opens it) and prints the functions with the most self time and the most
// total time. Go's function names show only in a wasm built without
// -ldflags='-s -w' (GOOS=js GOARCH=wasm go build -o static/web/app.wasm .).
func perfProfile(t *testing.T, ctx context.Context, name string) (stop func()) {
	t.Helper()
	dir := os.Getenv("STREAMLAB_PERF_PROFILE")
	if dir == "" {
		return func() {}
	}
	run := func(f func(ctx context.Context, tg *chromedp.Target) error) {
		if err := chromedp.Do(ctx, chromedp.Func(f)); err != nil {
			t.Fatalf("profile %s: %v", name, err)
		}
	}
	run(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, profiler.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 500}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, profiler.Start, cdp.Empty{})
		return err
	})
	return func() {
		var prof *profiler.Profile
		run(func(ctx context.Context, tg *chromedp.Target) error {
			r, err := cdp.Call(ctx, tg, profiler.Stop, cdp.Empty{})
			prof = r.Profile
			return err
		})
		if prof == nil {
			t.Fatalf("profile %s: none", name)
		}
		if b, err := json.Marshal(prof); err == nil {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, name+".cpuprofile"), b, 0o644)
		}
		fmt.Print(profileSummary(name, prof))
	}
}

// profileSummary is a profile's top functions by self and by total time
// (samples × their time deltas), in ms.
func profileSummary(name string, p *profiler.Profile) string {
	byID := map[int64]*profiler.ProfileNode{}
	parent := map[int64]int64{}
	for _, n := range p.Nodes {
		byID[n.ID] = n
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	self := map[int64]float64{} // node -> µs
	for i, id := range p.Samples {
		if i+1 < len(p.TimeDeltas) {
			self[id] += float64(p.TimeDeltas[i+1])
		}
	}
	fname := func(n *profiler.ProfileNode) string {
		if n.CallFrame == nil || n.CallFrame.FunctionName == "" {
			return "(anonymous)"
		}
		return n.CallFrame.FunctionName
	}
	selfBy, totalBy := map[string]float64{}, map[string]float64{}
	all := 0.0
	for id, us := range self {
		n := byID[id]
		if f := fname(n); f != "(idle)" && f != "(program)" {
			all += us
		}
		selfBy[fname(n)] += us
		seen := map[string]bool{}
		for cur, ok := id, true; ok; cur, ok = parent[cur] {
			f := fname(byID[cur])
			if !seen[f] {
				seen[f] = true
				totalBy[f] += us
			}
		}
	}
	top := func(m map[string]float64, n int) string {
		type kv struct {
			k string
			v float64
		}
		var v []kv
		for k, x := range m {
			v = append(v, kv{k, x})
		}
		slices.SortFunc(v, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
		var sb strings.Builder
		for i := 0; i < len(v) && i < n; i++ {
			fmt.Fprintf(&sb, "  %8.0fms %s\n", v[i].v/1000, v[i].k)
		}
		return sb.String()
	}
	return fmt.Sprintf("page perf: profile %s: %.0fms busy of %.0fms\nself:\n%stotal:\n%s", name, all/1000,
		(p.EndTime-p.StartTime)/1000, top(selfBy, 45), top(totalBy, 90))
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
