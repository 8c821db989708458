//go:build !wasm

package e2e

import (
	"strconv"
	"testing"
	"time"
)

// TestMatchEventsProducer adds a "live match events" producer through the
// producers form and checks what the page shows: records flow and are
// acknowledged, every match's events sit in one partition on every replica
// and in what the consumer read; removed, the producer stops.
func TestMatchEventsProducer(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx

	pageSet(t, ctx, "np-name", "matches", "input")
	pageSet(t, ctx, "np-generator", "live match events", "change")
	pageSet(t, ctx, "np-rate", "10", "input")
	pageClick(t, ctx, "np-add")
	if e := pageEval[string](t, ctx, `(document.getElementById('np-error') || {}).textContent || ""`); e != "" {
		t.Fatalf("the form refused the producer: %s", e)
	}
	row := `.producer-row[data-name="matches"]`
	counter := func(name string) int {
		n, _ := strconv.Atoi(pageData(t, ctx, row, name))
		return n
	}
	pageWait(t, ctx, 30*time.Second, "30 match events acknowledged", func() bool { return counter("acked") >= 30 })
	if g, f := pageData(t, ctx, row, "generator"), counter("failed"); g != "live match events" || f != 0 {
		t.Errorf("row: generator %q, failed %d; want live match events, 0", g, f)
	}

	// Match id → the partitions its records are shown in, on the replicas
	// and in the consumer's reads.
	partitions := func(sel string) map[string][]string {
		return pageEval[map[string][]string](t, ctx, `(() => { const m = {};
			document.querySelectorAll(`+strconv.Quote(sel)+`).forEach(e => { const k = e.dataset.key;
				if (!/^m[0-9]+$/.test(k)) return; m[k] = m[k] || []; if (!m[k].includes(e.dataset.partition)) m[k].push(e.dataset.partition); });
			return m; })()`)
	}
	pageWait(t, ctx, 20*time.Second, "match events on the replicas and consumed", func() bool {
		return len(partitions(".record")) >= 2 && len(partitions(".consumed-record")) >= 2
	})
	for _, sel := range []string{".record", ".consumed-record"} {
		for match, ps := range partitions(sel) {
			if len(ps) != 1 {
				t.Errorf("%s: match %s in partitions %v, want one", sel, match, ps)
			}
		}
	}
	if acked, present, lost := pageAckLine(t, ctx, "all"); lost != "0" || acked == "" || acked != present {
		t.Errorf("acks=all check: acked %s, present %s, lost %s; want all present, none lost", acked, present, lost)
	}
	pageScrollTo(t, ctx, "producers")
	Screenshot(t, ctx, "producers")

	pageClick(t, ctx, "producer-remove-matches")
	pageWait(t, ctx, 10*time.Second, "the producer gone from the list", func() bool { return pageCount(t, ctx, row) == 0 })
	// The high watermarks settle (what it held is still sent), then stop.
	hws := func() int {
		return pageEval[int](t, ctx, `[...document.querySelectorAll('.partition-table tr[data-hw]')].reduce((s, e) => s + (+e.dataset.hw || 0), 0)`)
	}
	time.Sleep(2 * time.Second)
	before := hws()
	time.Sleep(3 * time.Second)
	if after := hws(); after != before || before < 30 {
		t.Errorf("sum of high watermarks %d, then %d after 3 s: want at least 30 and no more records", before, after)
	}
	pageNoExceptions(t, b)
}
