//go:build !wasm

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core/client"
)

// pagePartitions is the page's topic's partition count.
const pagePartitions = 6

// TestProduceLandsWhereMurmur2Says types three keyed records into the page,
// presses Produce for each, and checks that each landed in the partition
// Kafka's Java partitioner would choose (as computed here, natively), at
// consecutive offsets, on all three replicas, that the page counts them
// acknowledged with acks=all and in the leaders' logs, and that the
// consumer read them.
func TestProduceLandsWhereMurmur2Says(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx

	keys := []string{"alice", "bob", "carol"}
	for i, k := range keys {
		pageProduce(t, ctx, k, fmt.Sprint("hello ", i))
	}
	// The consumer may read a record before its producer hears the ack:
	// both follow the high watermark's advance, over different links.
	pageWait(t, ctx, 30*time.Second, "three records on every replica, consumed and acknowledged", func() bool {
		for _, k := range keys {
			if pageCount(t, ctx, fmt.Sprintf(`.record[data-key=%q]`, k)) != 3 || pageCount(t, ctx, fmt.Sprintf(`.consumed-record[data-key=%q]`, k)) != 1 {
				return false
			}
		}
		acked, _, _ := pageAckLine(t, ctx, "all")
		return acked == "3"
	})
	if acked, present, lost := pageAckLine(t, ctx, "all"); acked != "3" || present != "3" || lost != "0" {
		t.Errorf("acks=all check: acked %s, present %s, lost %s; want 3, 3, 0", acked, present, lost)
	}
	Screenshot(t, ctx, "produced")

	next := map[int32]int64{}
	for _, key := range keys {
		want := client.KeyPartition([]byte(key), pagePartitions)
		for broker := 1; broker <= 3; broker++ {
			sel := fmt.Sprintf(`.record[data-key=%q][data-broker="%d"]`, key, broker)
			p, _ := strconv.Atoi(pageData(t, ctx, sel, "partition"))
			off, _ := strconv.ParseInt(pageData(t, ctx, sel, "offset"), 10, 64)
			if int32(p) != want || off != next[want] {
				t.Errorf("%s on broker %d: partition %d offset %d, want partition %d offset %d (murmur2)", key, broker, p, off, want, next[want])
			}
		}
		cp := pageData(t, ctx, fmt.Sprintf(`.consumed-record[data-key=%q]`, key), "partition")
		if cp != fmt.Sprint(want) {
			t.Errorf("%s consumed from partition %s, want %d", key, cp, want)
		}
		next[want]++
	}
	// The form predicts the partition before a record is sent.
	pageEval[bool](t, ctx, `(() => { const e = document.getElementById('key'); e.value = 'alice'; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	time.Sleep(300 * time.Millisecond)
	hint := pageEval[string](t, ctx, `document.getElementById('partition-hint').textContent`)
	if want := fmt.Sprintf("partition %d", client.KeyPartition([]byte("alice"), pagePartitions)); !strings.Contains(hint, want) {
		t.Errorf("partition hint %q does not say %q", hint, want)
	}
	pageNoExceptions(t, b)
}
