//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/streamlab/streamlab/core/client"
)

// TestTimelineRewindAndShare produces three records, pauses to note the
// cluster as it is (every partition's leader, leader epoch, high watermark
// and ISR, every replica's log end offset), kills the leader of alice's
// partition and waits for a new leader. Dragging the timeline back to the
// noted moment replays the seed and the action log: the page shows the
// old leader and the same records again. The page's share link, opened in
// another tab, rebuilds the same cluster at that moment. Acting while
// rewound forks a new timeline.
func TestTimelineRewindAndShare(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx

	for i, k := range []string{"alice", "bob", "carol"} {
		pageProduce(t, ctx, k, fmt.Sprint("before ", i))
	}
	pageWait(t, ctx, 30*time.Second, "three records acknowledged", func() bool {
		acked, present, _ := pageAckLine(t, ctx, "all")
		return acked == "3" && present == "3"
	})
	p := client.KeyPartition([]byte("alice"), pagePartitions)
	row := fmt.Sprintf("#partition-%d", p)

	pageClick(t, ctx, "pause")
	// The page redraws at most every 100 ms (longer when busy): note the
	// cluster once the paused moment is drawn, not the frame before it.
	want := pageSteady(t, ctx, "the paused page drawn", func() string { return pageClusterState(t, ctx) })
	before := pageTimelineNow(t, ctx)
	leader := pageData(t, ctx, row, "leader")
	offset := pageData(t, ctx, fmt.Sprintf(`.record[data-key="alice"][data-broker=%q]`, leader), "offset")
	if leader == "" || leader == "-1" || offset == "" {
		t.Fatalf("partition %d: leader %q, alice at offset %q", p, leader, offset)
	}
	pageClick(t, ctx, "pause") // resume: the kill comes after the noted moment
	time.Sleep(500 * time.Millisecond)

	pageSetSpeed(t, ctx, 1000)
	pageClick(t, ctx, "kill-broker-"+leader)
	pageWait(t, ctx, 60*time.Second, fmt.Sprintf("a new leader of partition %d", p), func() bool {
		l := pageData(t, ctx, row, "leader")
		return l != leader && l != "-1" && l != ""
	})
	Screenshot(t, ctx, "after-kill")
	if n := pageCount(t, ctx, ".tl-fault"); n == 0 {
		t.Error("the timeline marks no fault")
	}

	pageSeek(t, ctx, before)
	if got := pageClusterState(t, ctx); got != want {
		t.Errorf("rewound to %d, the cluster differs:\n got  %s\n want %s", before, got, want)
	}
	if got := pageData(t, ctx, row, "leader"); got != leader {
		t.Errorf("rewound: partition %d led by %s, want the old leader %s", p, got, leader)
	}
	if got := pageData(t, ctx, fmt.Sprintf(`.record[data-key="alice"][data-broker=%q]`, leader), "offset"); got != offset {
		t.Errorf("rewound: alice at offset %q on broker %s, want %s", got, leader, offset)
	}
	if st := pageData(t, ctx, "#broker-"+leader, "state"); st != "live" {
		t.Errorf("rewound: broker %s is %s, want live", leader, st)
	}
	if note := pageText(t, ctx, "#timeline-note"); !strings.Contains(note, "Rewound") {
		t.Errorf("rewind note %q", note)
	}
	if pageData(t, ctx, "#timeline", "pending") == "0" {
		t.Error("rewound before the kill, but no later action is pending")
	}
	pageScrollTo(t, ctx, "timeline")
	Screenshot(t, ctx, "rewound")

	pageClick(t, ctx, "share")
	link := pageEval[string](t, ctx, `document.getElementById('share-link')?.value ?? ""`)
	if !strings.Contains(link, "#s=") || pageEval[string](t, ctx, `location.href`) != link {
		t.Fatalf("share link %q, address bar %q", link, pageEval[string](t, ctx, `location.href`))
	}
	t.Logf("share link: %d characters", len(link))

	shared := b.NewTab(t, "shared")
	if err := chromedp.Do(shared, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatal(err)
	}
	OpenApp(t, shared, link)
	pageWait(t, shared, 60*time.Second, "the shared link replayed", func() bool {
		return pageData(t, shared, "#timeline", "replaying") == "false" && pageTimelineNow(t, shared) == before
	})
	if got := pageClusterState(t, shared); got != want {
		t.Errorf("the shared link shows another cluster:\n got  %s\n want %s", got, want)
	}
	Screenshot(t, shared, "shared")

	// Acting while rewound forks: the kill and what followed are dropped.
	pageProduce(t, ctx, "dave", "forked")
	pageWait(t, ctx, 10*time.Second, "the fork said", func() bool {
		return strings.Contains(pageText(t, ctx, "#timeline-note"), "forked") && pageData(t, ctx, "#timeline", "pending") == "0"
	})
	pageNoExceptions(t, b)
}

// pageSteady waits until read gives the same twice 400 ms apart (the page
// redraws at most every 100 ms, longer when busy), and returns it.
func pageSteady[T comparable](t *testing.T, ctx context.Context, what string, read func() T) T {
	t.Helper()
	var v T
	pageWait(t, ctx, 10*time.Second, what, func() bool {
		a := read()
		time.Sleep(400 * time.Millisecond)
		v = read()
		return a == v
	})
	return v
}

// pageTimelineNow is the virtual time the page shows (Unix ms).
func pageTimelineNow(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	n, _ := strconv.ParseInt(pageData(t, ctx, "#timeline", "now"), 10, 64)
	return n
}

// pageClusterState is what the page shows of every partition (leader,
// leader epoch, high watermark, ISR) and every replica (role, epoch, log
// end offset, high watermark), one line.
func pageClusterState(t *testing.T, ctx context.Context) string {
	t.Helper()
	return pageEval[string](t, ctx, `[...document.querySelectorAll('tr[id^="partition-"]')].map(r =>
		r.id + ' leader ' + r.dataset.leader + ' epoch ' + r.dataset.epoch + ' hw ' + r.dataset.hw + ' isr ' + r.dataset.isr).join('; ') + ' | ' +
		[...document.querySelectorAll('.replica[data-leo]')].map(r =>
		r.dataset.broker + '/' + r.dataset.partition + ' ' + r.dataset.role + ' e' + r.dataset.epoch + ' leo ' + r.dataset.leo + ' hw ' + r.dataset.hw).join('; ')`)
}

// pageText is the text of the first element matching sel.
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return pageEval[string](t, ctx, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ""`, sel))
}

// pageSeek drags the timeline to virtual time at (Unix ms) and waits for
// the replay to reach it.
func pageSeek(t *testing.T, ctx context.Context, at int64) {
	t.Helper()
	start, _ := strconv.ParseInt(pageData(t, ctx, "#timeline", "start"), 10, 64)
	pageSet(t, ctx, "scrubber", strconv.FormatInt(at-start, 10), "change")
	pageWait(t, ctx, 60*time.Second, fmt.Sprintf("rewound to %d", at), func() bool {
		return pageData(t, ctx, "#timeline", "replaying") == "false" && pageTimelineNow(t, ctx) == at
	})
}

// TestKeyboardShortcuts: space pauses and resumes, → steps the paused
// world to its next event.
func TestKeyboardShortcuts(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx
	key := func(k string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatal(err)
		}
	}
	label := func() string { return pageText(t, ctx, "#pause") }
	key(" ")
	pageWait(t, ctx, 10*time.Second, "paused by space", func() bool { return label() == "Resume" })
	// The page redraws at most every 100 ms (longer when busy): the
	// button may be drawn before the paused moment is. Running, the clock
	// never stands still for 400 ms.
	before := pageSteady(t, ctx, "the clock standing still", func() int64 { return pageTimelineNow(t, ctx) })
	key(kb.ArrowRight)
	pageWait(t, ctx, 10*time.Second, "→ stepped to the next event", func() bool { return pageTimelineNow(t, ctx) > before })
	if label() != "Resume" {
		t.Errorf("→ resumed the world (button %q)", label())
	}
	key(" ")
	pageWait(t, ctx, 10*time.Second, "resumed by space", func() bool { return label() == "Pause" })
	pageNoExceptions(t, b)
}

// TestSessionRestoredOnReload: the page keeps its session in IndexedDB, so
// the app opened again without a link (no #s= in the address) replays it.
func TestSessionRestoredOnReload(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx
	pageProduce(t, ctx, "alice", "kept")
	pageWait(t, ctx, 30*time.Second, "alice on every replica", func() bool {
		return pageCount(t, ctx, `.record[data-key="alice"]`) == 3
	})
	time.Sleep(2 * time.Second) // the page writes its session at most every second
	OpenApp(t, ctx, pageEval[string](t, ctx, `location.origin + "/"`))
	pageWait(t, ctx, 60*time.Second, "the saved session replayed", func() bool {
		return strings.Contains(pageText(t, ctx, "#timeline-note"), "Opened the saved session") &&
			pageCount(t, ctx, `.record[data-key="alice"]`) == 3
	})
	pageNoExceptions(t, b)
}
