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
)

// TestLiveClusterOfTabs is issue 7 as a person would do it: three tabs of one
// browser open /live?cluster=e2e and join; they form a cluster over real
// WebRTC; tab 1 creates a topic with RF=3 and produces 1,000 records with
// acks=all; a consumer group member in another tab reads them all. Then the
// tab whose broker leads a partition is closed: the remaining tabs show a
// new leader with a higher epoch, tab 1 produces more, and the consumer
// reads every acknowledged record.
//
// The page's URL shortens broker.session.timeout.ms to 3 s and the clients'
// request.timeout.ms to 5 s (the page shows both): a closed tab resets no
// connection, so failover waits for these timeouts.
func TestLiveClusterOfTabs(t *testing.T) {
	Require(t)
	node := StartNode(t)
	// In the loopback-only namespace Chromium gathers ICE candidates only
	// once the page may use the microphone: a fake one, granted without UI.
	// Only one tab is in front: the others must not be throttled (Go's
	// wasm scheduler runs on timers).
	b := newLiveBrowser(t, node.URL)
	const topic = "orders"
	url := node.URL + "/live?cluster=e2e&session_timeout_ms=3000&request_timeout_ms=5000"
	tabs := []context.Context{b.Ctx, b.NewTab(t, "tab2"), b.NewTab(t, "tab3")}
	closed := -1
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, ctx := range tabs {
			if i != closed {
				text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body).innerText`))
				t.Logf("tab %d shows:\n%s", i+1, text)
			}
		}
	})
	for _, ctx := range tabs {
		liveOpen(t, ctx, url)
	}

	// Each tab joins; the ids are taken lowest first.
	start := time.Now()
	ids := make([]int, len(tabs))
	for i, ctx := range tabs {
		pageClick(t, ctx, "live-join")
		pageWait(t, ctx, 90*time.Second, fmt.Sprintf("tab %d joined", i+1), func() bool {
			return pageData(t, ctx, "#live-member", "id") != ""
		})
		ids[i], _ = strconv.Atoi(pageData(t, ctx, "#live-member", "id"))
	}
	t.Logf("broker ids of the tabs: %v", ids)
	pageWait(t, tabs[0], 90*time.Second, "tab 1 shows 3 brokers live", func() bool {
		return pageData(t, tabs[0], "#live-member", "live") == "3"
	})
	t.Logf("figure: 3 tabs joined → 3 brokers live in tab 1's metadata in %v", time.Since(start).Round(time.Millisecond))
	for i, ctx := range tabs {
		Screenshot(t, ctx, fmt.Sprintf("formed-tab%d", i+1))
	}

	// A topic with RF=3, from tab 1.
	start = time.Now()
	pageSet(t, tabs[0], "live-topic-name", topic, "input")
	pageSet(t, tabs[0], "live-topic-partitions", "3", "input")
	pageSet(t, tabs[0], "live-topic-rf", "3", "input")
	pageSet(t, tabs[0], "live-topic-minisr", "2", "input")
	pageClick(t, tabs[0], "live-create-topic")
	row := func(p int) string { return fmt.Sprintf("#live-partition-%s-%d", topic, p) }
	pageWait(t, tabs[0], 90*time.Second, "every partition led, ISR 1,2,3", func() bool {
		for p := range 3 {
			if pageData(t, tabs[0], row(p), "isr") != "1,2,3" || pageData(t, tabs[0], row(p), "leader") == "-1" {
				return false
			}
		}
		return true
	})
	t.Logf("figure: topic created, every replica in its ISR, in %v", time.Since(start).Round(time.Millisecond))

	// The victim: tab 2 or 3, whichever leads a partition; the consumer
	// runs in the other one.
	victim, part := -1, -1
	for _, tab := range []int{1, 2} {
		for p := range 3 {
			if l, _ := strconv.Atoi(pageData(t, tabs[0], row(p), "leader")); victim < 0 && l == ids[tab] {
				victim, part = tab, p
			}
		}
	}
	if victim < 0 {
		t.Fatalf("neither tab 2 (broker %d) nor tab 3 (broker %d) leads a partition", ids[1], ids[2])
	}
	reader := 3 - victim // the other of tabs 2 and 3 (indexes 1 and 2)

	const n = 1000
	start = time.Now()
	pageSet(t, tabs[0], "live-produce-topic", topic, "input")
	pageSet(t, tabs[0], "live-produce-n", strconv.Itoa(n), "input")
	pageClick(t, tabs[0], "live-produce")
	waitAcked(t, tabs[0], n)
	t.Logf("figure: %d records acked with acks=all from tab 1 in %v", n, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	pageSet(t, tabs[reader], "live-group", "readers", "input")
	pageSet(t, tabs[reader], "live-consume-topic", topic, "input")
	pageClick(t, tabs[reader], "live-consume")
	waitRead(t, tabs[reader], n)
	t.Logf("figure: the consumer in tab %d read %d records in %v (assignment %s)", reader+1, n,
		time.Since(start).Round(time.Millisecond), pageData(t, tabs[reader], "#live-consumer", "assignment"))
	// Tab 1 sees the whole cluster, not only its own broker: every
	// replica's LEO (the same on all three once the followers caught up)
	// and the consumer running in another tab, as their members share them.
	start = time.Now()
	pageWait(t, tabs[0], 30*time.Second, "tab 1 shows every replica's LEO, and tab "+strconv.Itoa(reader+1)+"'s consumer", func() bool {
		for p := range 3 {
			leos := pageData(t, tabs[0], row(p), "leos")
			parts := strings.Split(leos, ",")
			if len(parts) != 3 || strings.Contains(leos, "?") {
				return false
			}
			for _, e := range parts {
				if !strings.HasSuffix(e, ":"+pageData(t, tabs[0], row(p), "leo")) {
					return false
				}
			}
		}
		sel := fmt.Sprintf("#live-shared-%d", ids[reader])
		return pageData(t, tabs[0], sel, "group") == "readers" && pageData(t, tabs[0], sel, "read") == strconv.Itoa(n)
	})
	t.Logf("figure: tab 1 showed every replica's offsets and tab %d's consumer %v after it read everything", reader+1, time.Since(start).Round(time.Millisecond))
	// And draws every broker's log as the single-tab page does: each
	// replica's row with its LEO, and its newest record as a cell.
	for _, id := range ids {
		for p := range 3 {
			leo := pageData(t, tabs[0], row(p), "leo")
			card := fmt.Sprintf("#live-log-%s-%d", topic, id)
			if got := pageData(t, tabs[0], fmt.Sprintf(`%s .replica[data-partition="%d"]`, card, p), "leo"); got != leo {
				t.Errorf("tab 1 draws broker %d's replica of partition %d with LEO %q, want %s", id, p, got, leo)
			}
			n, _ := strconv.Atoi(leo)
			if c := pageCount(t, tabs[0], fmt.Sprintf(`%s .record[data-partition="%d"][data-offset="%d"]`, card, p, n-1)); n > 0 && c != 1 {
				t.Errorf("tab 1 draws %d cells of broker %d's newest record (offset %d) of partition %d, want 1", c, id, n-1, p)
			}
		}
	}
	Screenshot(t, tabs[0], "produced-tab1")
	Screenshot(t, tabs[reader], "consumed")

	// And the traffic between the two other tabs, which tab 1 only knows
	// from what they share: their followers' fetches to each other.
	pageWait(t, tabs[0], 10*time.Second, fmt.Sprintf("tab 1 shows broker %d and %d fetching from each other", ids[1], ids[2]), func() bool {
		for _, r := range [][2]int{{ids[1], ids[2]}, {ids[2], ids[1]}} {
			if !strings.Contains(pageData(t, tabs[0], fmt.Sprintf("#live-wire-%d-%d", r[0], r[1]), "apis"), "Fetch request") {
				return false
			}
		}
		return true
	})
	// And tab 1's event log tells what the consumer in the reader's tab
	// did, as that tab shared it.
	pageWait(t, tabs[0], 10*time.Second, fmt.Sprintf("tab 1's log telling tab %d's consumer's events", reader+1), func() bool {
		return pageEval[bool](t, tabs[0], fmt.Sprintf(`[...document.querySelectorAll('#live-event-log .event[data-from="%d"] .who')].some(w => w.innerText.startsWith("client"))`, ids[reader]))
	})
	pageScrollTo(t, tabs[0], "live-logs")
	Screenshot(t, tabs[0], "logs-tab1")

	// Close the leader's tab: a crashed broker.
	epoch, _ := strconv.Atoi(pageData(t, tabs[0], row(part), "epoch"))
	t.Logf("closing tab %d (broker %d), leader of %s-%d at epoch %d", victim+1, ids[victim], topic, part, epoch)
	start = time.Now()
	closed = victim
	if err := chromedp.Cancel(tabs[victim]); err != nil {
		t.Fatalf("close tab %d: %v", victim+1, err)
	}
	for _, i := range []int{0, reader} {
		pageWait(t, tabs[i], 90*time.Second, fmt.Sprintf("tab %d shows a new leader of %s-%d", i+1, topic, part), func() bool {
			l, _ := strconv.Atoi(pageData(t, tabs[i], row(part), "leader"))
			e, _ := strconv.Atoi(pageData(t, tabs[i], row(part), "epoch"))
			return l >= 0 && l != ids[victim] && e > epoch
		})
	}
	t.Logf("figure: failover: %s-%d has new leader %s, epoch %s, %v after tab %d closed", topic, part,
		pageData(t, tabs[0], row(part), "leader"), pageData(t, tabs[0], row(part), "epoch"), time.Since(start).Round(time.Millisecond), victim+1)
	pageWait(t, tabs[0], 30*time.Second, fmt.Sprintf("tab 1 draws broker %d as not heard lately", ids[victim]), func() bool {
		return pageData(t, tabs[0], fmt.Sprintf("#live-log-%s-%d", topic, ids[victim]), "heard") == "late"
	})

	start = time.Now()
	pageClick(t, tabs[0], "live-produce")
	waitAcked(t, tabs[0], 2*n)
	t.Logf("figure: %d more records acked after the crash in %v", n, time.Since(start).Round(time.Millisecond))
	waitRead(t, tabs[reader], 2*n)
	t.Logf("figure: the consumer read every acknowledged record (%d) %v after the second produce", 2*n, time.Since(start).Round(time.Millisecond))
	Screenshot(t, tabs[0], "failover-tab1")
	Screenshot(t, tabs[reader], "failover-consumer")
	pageNoExceptions(t, b)
}

// waitAcked waits until the tab's producer has want records acknowledged,
// failing at once if one failed.
func waitAcked(t *testing.T, ctx context.Context, want int) {
	t.Helper()
	waitAckedFor(t, ctx, want, 90*time.Second)
	if a := pageData(t, ctx, "#live-produced", "acked"); a != strconv.Itoa(want) {
		t.Fatalf("acked %s records, produced %d", a, want)
	}
}

// waitAckedFor waits up to timeout until the tab's producer has at least
// want records acknowledged, failing at once if one failed.
func waitAckedFor(t *testing.T, ctx context.Context, want int, timeout time.Duration) {
	t.Helper()
	pageWait(t, ctx, timeout, fmt.Sprintf("%d records acked", want), func() bool {
		if f := pageData(t, ctx, "#live-produced", "failed"); f != "0" {
			t.Fatalf("%s records failed: %s", f, pageEval[string](t, ctx, `document.querySelector(".live-producer").innerText`))
		}
		a, _ := strconv.Atoi(pageData(t, ctx, "#live-produced", "acked"))
		return a >= want
	})
}

// waitRead waits until the tab's consumer has read want distinct records;
// more would be records nobody produced.
func waitRead(t *testing.T, ctx context.Context, want int) {
	t.Helper()
	pageWait(t, ctx, 90*time.Second, fmt.Sprintf("the consumer read %d records", want), func() bool {
		r, _ := strconv.Atoi(pageData(t, ctx, "#live-consumer", "read"))
		return r >= want
	})
	if r := pageData(t, ctx, "#live-consumer", "read"); r != strconv.Itoa(want) {
		t.Fatalf("the consumer read %s distinct records, %d were acknowledged", r, want)
	}
}
