//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/systeminfo"
	"github.com/chromedp/chromedp"
)

// TestLivePerformance measures issue 7's figures between tabs, each tab a
// renderer process of its own (the one-page benchmark in wasm/live runs
// every broker on one thread): the raw data channel from one tab to another
// (JavaScript alone, 16 KiB messages, the most a page can get from it), then
// replication: three tabs join a cluster, a topic with RF=3 and
// min.insync.replicas=2 is created, and tab 1 produces with acks=all and
// the live producer's defaults. It prints figures and fails on nothing but a
// broken page: a measurement, not a timed test. It runs with
// STREAMLAB_PERF=1 (and STREAMLAB_E2E=1).
func TestLivePerformance(t *testing.T) {
	Require(t)
	if os.Getenv("STREAMLAB_PERF") != "1" {
		t.Skip("a measurement: set STREAMLAB_PERF=1")
	}
	node := StartNode(t)
	b := newLiveBrowser(t, node.URL)
	url := node.URL + "/live?cluster=perf"
	tabs := []context.Context{b.Ctx, b.NewTab(t, "tab2"), b.NewTab(t, "tab3")}
	for _, ctx := range tabs {
		liveOpen(t, ctx, url)
	}
	t.Logf("renderer processes: %d (one per tab is the measurement's premise)", rendererProcesses(t, b.Ctx))

	const rawMsgs, rawSize = 1024, 16 << 10
	var raws []float64
	busy := machineBusy()
	for range 3 {
		raws = append(raws, rawTabToTab(t, tabs[0], tabs[1], rawMsgs, rawSize))
	}
	raw := pct(raws, 50) // the median
	t.Logf("figure: raw data channel tab to tab, %d × %d B messages: %s MB/s (median %.2f); the machine's CPUs %s busy",
		rawMsgs, rawSize, joinFloats(raws), raw, busy())

	ids := make([]int, len(tabs))
	for i, ctx := range tabs {
		ids[i] = liveJoin(t, ctx, fmt.Sprintf("tab %d", i+1))
	}
	pageWait(t, tabs[0], 90*time.Second, "tab 1 shows 3 brokers live", func() bool {
		return pageData(t, tabs[0], "#live-member", "live") == "3"
	})
	const topic = "perf"
	pageSet(t, tabs[0], "live-topic-name", topic, "input")
	pageSet(t, tabs[0], "live-topic-partitions", "3", "input")
	pageSet(t, tabs[0], "live-topic-rf", "3", "input")
	pageSet(t, tabs[0], "live-topic-minisr", "2", "input")
	pageClick(t, tabs[0], "live-create-topic")
	pageWait(t, tabs[0], 90*time.Second, "every partition led, ISR 1,2,3", func() bool {
		for p := range 3 {
			if !fullISR(pageData(t, tabs[0], liveRow(topic, p), "isr"), ids) || pageData(t, tabs[0], liveRow(topic, p), "leader") == "-1" {
				return false
			}
		}
		return true
	})
	pageSet(t, tabs[0], "live-produce-topic", topic, "input")
	acked := 0
	for _, c := range []struct {
		n, size int
	}{{2000, 100}, {20000, 100}, {1000, 1024}, {5000, 1024}} {
		// The value is the field's text plus "-<k>": size counts both.
		value := strings.Repeat("v", c.size-len("-")-len(strconv.Itoa(acked+c.n)))
		pageSet(t, tabs[0], "live-produce-value", value, "input")
		pageSet(t, tabs[0], "live-produce-n", strconv.Itoa(c.n), "input")
		start, busy := time.Now(), machineBusy()
		pageClick(t, tabs[0], "live-produce")
		acked += c.n
		waitAckedFor(t, tabs[0], acked, 5*time.Minute)
		secs := time.Since(start).Seconds()
		mbs := float64(c.n*c.size) / secs / 1e6
		t.Logf("figure: replication, acks=all, RF=3, %d records of %d B from tab 1: %.2f s, %.0f records/s, %.2f MB/s, %.0f%% of raw; the machine's CPUs %s busy",
			c.n, c.size, secs, float64(c.n)/secs, mbs, 100*mbs/raw, busy())
	}
	pageNoExceptions(t, b)
}

// machineBusy starts measuring how busy the machine's CPUs are (all
// processes, not only the browser's); the function it returns tells, as a
// percentage, since then.
func machineBusy() func() string {
	b0, a0 := cpuTimes()
	return func() string {
		b1, a1 := cpuTimes()
		if a1 <= a0 {
			return "?%"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(b1-b0)/float64(a1-a0))
	}
}

// rendererProcesses counts Chromium's renderer processes.
func rendererProcesses(t *testing.T, ctx context.Context) int {
	t.Helper()
	res, err := chromedp.CallBrowser(ctx, systeminfo.GetProcessInfo, cdp.Empty{})
	if err != nil {
		t.Logf("process info: %v", err)
		return -1
	}
	n := 0
	for _, p := range res.ProcessInfo {
		if p.Type == "renderer" {
			n++
		}
	}
	return n
}

// rawPeerJS sets up one side of a raw data channel (ordered, reliable,
// negotiated id 0, as p2p/rtc's) over a BroadcastChannel for signaling, and
// resolves, on the receiving side, to the MB/s from the first message to the
// last of n; the sending side resolves once it has queued them all.
const rawPeerJS = `(async (role, run, n, size) => {
  const bc = new BroadcastChannel("rawperf-" + run);
  const pc = new RTCPeerConnection();
  const dc = pc.createDataChannel("raw", {negotiated: true, id: 0, ordered: true});
  dc.binaryType = "arraybuffer";
  pc.onicecandidate = e => { if (e.candidate) bc.postMessage({cand: e.candidate.toJSON(), from: role}); };
  bc.onmessage = async e => {
    const m = e.data;
    if (m.from === role) return;
    if (m.cand) await pc.addIceCandidate(m.cand);
    if (m.sdp) {
      await pc.setRemoteDescription(m.sdp);
      if (m.sdp.type === "offer") {
        await pc.setLocalDescription(await pc.createAnswer());
        bc.postMessage({sdp: pc.localDescription.toJSON(), from: role});
      }
    }
  };
  const opened = new Promise(r => { dc.onopen = r; });
  if (role === "send") {
    // The receiver is listening before the sender starts (the test
    // starts it first), so the offer is not lost.
    await pc.setLocalDescription(await pc.createOffer());
    bc.postMessage({sdp: pc.localDescription.toJSON(), from: role});
  }
  await opened;
  let result;
  if (role === "send") {
    const msg = new Uint8Array(size);
    dc.bufferedAmountLowThreshold = 1 << 20;
    for (let i = 0; i < n; i++) {
      if (dc.bufferedAmount > (4 << 20)) await new Promise(r => { dc.onbufferedamountlow = r; });
      dc.send(msg);
    }
    while (dc.bufferedAmount > 0) await new Promise(r => setTimeout(r, 5));
    await new Promise(r => setTimeout(r, 200)); // the receiver reports first
    result = 0;
  } else {
    result = await new Promise(r => {
      let got = 0, bytes = 0, t0 = 0;
      dc.onmessage = e => {
        if (got++ === 0) t0 = performance.now();
        bytes += e.data.byteLength;
        if (got === n) r(bytes / 1e6 / ((performance.now() - t0) / 1000) * n / (n - 1));
      };
    });
  }
  pc.close(); bc.close();
  return result;
})`

var rawRuns int

// rawTabToTab measures the raw data channel from tab from to tab to.
func rawTabToTab(t *testing.T, from, to context.Context, n, size int) float64 {
	t.Helper()
	rawRuns++
	run := strconv.Itoa(rawRuns)
	recv := make(chan float64, 1)
	errs := make(chan error, 2)
	call := func(ctx context.Context, role string, out chan<- float64) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf("%s(%q, %q, %d, %d)", rawPeerJS, role, run, n, size), chromedp.EvalAwaitPromise))
		if err != nil {
			errs <- fmt.Errorf("%s: %w", role, err)
			return
		}
		if out != nil {
			out <- v
		}
	}
	go call(to, "recv", recv)
	time.Sleep(500 * time.Millisecond) // the receiver listens first
	go call(from, "send", nil)
	select {
	case v := <-recv:
		return v
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(3 * time.Minute):
		t.Fatal("the raw data channel measurement did not finish")
	}
	return 0
}

func joinFloats(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(parts, ", ")
}
