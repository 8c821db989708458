//go:build !wasm

package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/streamlab/streamlab/core/client"
)

// TestProduceLandsWhereMurmur2Says types three keyed records into the page,
// presses Produce for each, and checks that the broker running in the page
// appended each to the partition Kafka's Java partitioner would choose (as
// computed here, natively), at consecutive offsets, and that the consumer
// read them.
func TestProduceLandsWhereMurmur2Says(t *testing.T) {
	Require(t)
	node := StartNode(t)
	b := NewBrowser(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 1600)); err != nil {
		t.Fatal(err)
	}
	OpenApp(t, b.Ctx, node.URL+"/")

	keys := []string{"alice", "bob", "carol"}
	for i, k := range keys {
		js := fmt.Sprintf(`(() => {
			const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); };
			set('key', %q); set('value', %q);
			document.getElementById('produce').click();
			return true; })()`, k, fmt.Sprint("hello ", i))
		if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatalf("produce %s: %v", k, err)
		}
		// Let go-app handle the input and click events before the next record.
		time.Sleep(300 * time.Millisecond)
	}

	type landed struct{ Partition, Offset string }
	find := func(sel, key string) (landed, error) {
		return chromedp.Run(b.Ctx, chromedp.Evaluate[landed](fmt.Sprintf(`(() => {
			const e = document.querySelector('%s[data-key=%q]');
			return e ? {Partition: e.dataset.partition, Offset: e.dataset.offset} : {Partition: "", Offset: ""}; })()`, sel, key)))
	}
	deadline := time.Now().Add(30 * time.Second)
	got := map[string]landed{}
	for len(got) < len(keys) && time.Now().Before(deadline) {
		for _, key := range keys {
			l, err := find(".record", key)
			if err != nil {
				t.Fatal(err)
			}
			c, err := find(".consumed-record", key)
			if err != nil {
				t.Fatal(err)
			}
			if l.Partition != "" && c.Partition != "" {
				got[key] = l
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	Screenshot(t, b.Ctx, "produced")
	if len(got) < len(keys) {
		t.Fatalf("only %d of %d records appeared in a partition and in the consumer: %v", len(got), len(keys), got)
	}
	next := map[int32]int64{}
	for _, key := range keys {
		want := client.KeyPartition([]byte(key), 3)
		p, _ := strconv.Atoi(got[key].Partition)
		off, _ := strconv.ParseInt(got[key].Offset, 10, 64)
		if int32(p) != want || off != next[want] {
			t.Errorf("%s landed in partition %d at offset %d, want partition %d offset %d (murmur2)", key, p, off, want, next[want])
		}
		next[want]++
	}
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page:\n%v", ex)
	}
}
