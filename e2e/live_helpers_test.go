//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Helpers for the tests of the live cluster of tabs (/live) that restart a
// tab or the whole browser: a browser on a user data directory the test
// chooses (so that a second browser process can reopen the first one's
// profile: its IndexedDB and everything else), stopped by the test itself.

// liveFlags are the flags TestLiveClusterOfTabs starts the browser with:
// background tabs not throttled (Go's wasm scheduler runs on timers), and
// WebRTC candidates on loopback, which Chromium gathers only once the page
// may use the microphone (a fake one, granted without UI).
func liveFlags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
	}
}

// profileBrowser is a headless Chromium on a given user data directory.
// Unlike NewBrowser's, its process can be stopped in the middle of a test
// (Close), and another one started on the same directory.
type profileBrowser struct {
	*Browser
	dir string

	cancelCtx, cancelAlloc context.CancelFunc
	closeOnce              sync.Once
}

// startProfileBrowser starts headless Chromium with BrowserFlags(dir), the
// live flags, the microphone granted to origin, and its first tab open. The
// browser is closed when the test ends if the test did not close it.
func startProfileBrowser(t *testing.T, dir, origin string) *profileBrowser {
	t.Helper()
	exe, err := ChromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	b := &profileBrowser{Browser: &Browser{log: &syncBuffer{}}, dir: dir}
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(exe)}, BrowserFlags(dir)...)
	opts = append(opts, chromedp.CombinedOutput(&dropLines{dst: b.log, noise: "ERROR:dbus/"}))
	opts = append(opts, liveFlags()...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b.cancelCtx, b.cancelAlloc = cancelCtx, cancelAlloc
	t.Cleanup(func() {
		b.Close(t)
		if t.Failed() {
			t.Logf("browser log (%s):\n%s", dir, b.log.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	b.Ctx = ctx
	b.record(t, ctx, "tab1")
	grantMicrophone(t, b.Ctx, origin)
	return b
}

// newLiveBrowser is NewBrowser with the live flags and the microphone
// granted to origin.
func newLiveBrowser(t *testing.T, origin string) *Browser {
	t.Helper()
	b := NewBrowser(t, liveFlags()...)
	grantMicrophone(t, b.Ctx, origin)
	return b
}

func grantMicrophone(t *testing.T, ctx context.Context, origin string) {
	t.Helper()
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "microphone"}, Setting: browser.PermissionSettingGranted, Origin: origin,
	}); err != nil {
		t.Fatalf("grant the microphone: %v", err)
	}
}

// Close closes the browser as a person would (Browser.close: every tab
// goes, the profile is written out), waits for its process to exit, and
// kills whatever process of this profile is left. It is safe to call more
// than once.
func (b *profileBrowser) Close(t *testing.T) {
	b.closeOnce.Do(func() {
		if b.Ctx != nil {
			closeCtx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
			if err := chromedp.Cancel(closeCtx); err != nil {
				t.Logf("close the browser on %s: %v", b.dir, err)
			}
			cancel()
		}
		b.cancelCtx()
		b.cancelAlloc() // waits for the browser process
		if n := killByUserDataDir(b.dir); n > 0 {
			t.Logf("killed %d leftover browser processes of %s", n, b.dir)
		}
	})
}

// liveOpen opens url in the tab (1280×1000) and lets the page use the
// (fake) microphone, so that Chromium gathers loopback ICE candidates.
func liveOpen(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1000)); err != nil {
		t.Fatal(err)
	}
	OpenApp(t, ctx, url)
	liveMicrophone(t, ctx)
}

func liveMicrophone(t *testing.T, ctx context.Context) {
	t.Helper()
	mic, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.mediaDevices.getUserMedia({audio: true}).then(
		s => { s.getTracks().forEach(t => t.stop()); return "ok"; }, e => "refused: " + e)`, chromedp.EvalAwaitPromise))
	if err != nil || mic != "ok" {
		t.Fatalf("getUserMedia: %q, %v", mic, err)
	}
}

// liveJoin presses the join button and returns the broker id the tab got.
func liveJoin(t *testing.T, ctx context.Context, what string) int {
	t.Helper()
	pageClick(t, ctx, "live-join")
	pageWait(t, ctx, 90*time.Second, what+" joined", func() bool {
		return pageData(t, ctx, "#live-member", "id") != ""
	})
	id, err := strconv.Atoi(pageData(t, ctx, "#live-member", "id"))
	if err != nil {
		t.Fatalf("%s: broker id: %v", what, err)
	}
	return id
}

// liveRow is the selector of a partition's row in LiveTopics.
func liveRow(topic string, p int) string { return fmt.Sprintf("#live-partition-%s-%d", topic, p) }

// livePart is a partition's row as a tab shows it: the registration from
// its broker's metadata, and its own replica's offsets.
type livePart struct {
	Leader, Epoch int
	ISR           string
	HW, LEO       int64
	Shown         bool // the row exists
}

func liveReadPart(t *testing.T, ctx context.Context, topic string, p int) livePart {
	t.Helper()
	v := pageEval[map[string]string](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		return e ? Object.assign({shown: "1"}, e.dataset) : {}; })()`, liveRow(topic, p)))
	if v["shown"] == "" {
		return livePart{Leader: -1, HW: -1, LEO: -1}
	}
	lp := livePart{Shown: true, ISR: v["isr"]}
	lp.Leader, _ = strconv.Atoi(v["leader"])
	lp.Epoch, _ = strconv.Atoi(v["epoch"])
	lp.HW, _ = strconv.ParseInt(v["hw"], 10, 64)
	lp.LEO, _ = strconv.ParseInt(v["leo"], 10, 64)
	return lp
}

// inISR reports whether broker id is in the ISR list "1,2,3".
func inISR(isr string, id int) bool {
	return slices.Contains(strings.Split(isr, ","), strconv.Itoa(id))
}

// fullISR reports whether every one of ids is in isr.
func fullISR(isr string, ids []int) bool {
	for _, id := range ids {
		if !inISR(isr, id) {
			return false
		}
	}
	return true
}

// liveEvent is a line of the tab's event log (LiveEventLog).
type liveEvent struct {
	Kind, Who, Text string
}

func liveEvents(t *testing.T, ctx context.Context) []liveEvent {
	t.Helper()
	raw := pageEval[[][]string](t, ctx, `Array.from(document.querySelectorAll("#live-event-log .event")).map(e =>
		[e.dataset.event || "", (e.querySelector(".who") || {}).innerText || "", (e.querySelector(".what") || {}).innerText || ""])`)
	out := make([]liveEvent, 0, len(raw))
	for _, r := range raw {
		if len(r) == 3 {
			out = append(out, liveEvent{Kind: r[0], Who: r[1], Text: r[2]})
		}
	}
	return out
}

// liveTabText is what the tab's page says, for the log of a failed test.
func liveTabText(ctx context.Context) string {
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body).innerText`))
	return text
}

// liveReload reloads the tab (F5: same tab, same sessionStorage) and waits
// until the app runs again.
func liveReload(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	pageWait(t, ctx, ReadyTimeout, "the app runs again after the reload", func() bool {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](appState))
		if err != nil {
			return false // the new document may not be there yet
		}
		if strings.HasPrefix(state, "failed") {
			t.Fatalf("app after reload: %s", state)
		}
		return state == "ready"
	})
	liveMicrophone(t, ctx)
}
