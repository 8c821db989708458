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

// TestKillLeaderThroughThePage produces three records, kills the broker
// leading alice's partition with its Kill button, and checks what the page
// shows: the broker crashed, the controller fenced it and elected another
// leader with a higher leader epoch, the acknowledged records are all still
// in the leaders' logs (alice at the same offset on the new leader), and a
// record produced after the failover is acknowledged too. Restarted with
// its button, the broker rejoins the ISR.
func TestKillLeaderThroughThePage(t *testing.T) {
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
	leader, epoch := pageData(t, ctx, row, "leader"), pageAtoi(pageData(t, ctx, row, "epoch"))
	offset := pageData(t, ctx, fmt.Sprintf(`.record[data-key="alice"][data-broker=%q]`, leader), "offset")
	if leader == "" || leader == "-1" || offset == "" {
		t.Fatalf("partition %d: leader %q, alice at offset %q", p, leader, offset)
	}

	pageSetSpeed(t, ctx, 1000) // 10×: the session timeout (9 s) passes in about a second
	pageClick(t, ctx, "kill-broker-"+leader)
	pageWait(t, ctx, 10*time.Second, "broker "+leader+" shown crashed", func() bool {
		return pageData(t, ctx, "#broker-"+leader, "state") == "crashed"
	})
	pageWait(t, ctx, 60*time.Second, fmt.Sprintf("a new leader of partition %d with an epoch above %d", p, epoch), func() bool {
		l := pageData(t, ctx, row, "leader")
		return l != leader && l != "-1" && l != "" && pageAtoi(pageData(t, ctx, row, "epoch")) > epoch
	})
	newLeader := pageData(t, ctx, row, "leader")
	Screenshot(t, ctx, "failover")
	// Under load the page redraws its panels in turn: the log may show
	// the election a redraw after the partition table.
	pageWait(t, ctx, 10*time.Second, "the event log says the broker was fenced and a leader changed", func() bool {
		return pageCount(t, ctx, `.event[data-event="BrokerFenced"]`) > 0 && pageCount(t, ctx, `.event[data-event="PartitionLeaderChanged"]`) > 0
	})
	if isr := pageData(t, ctx, row, "isr"); strings.Contains(","+isr+",", ","+leader+",") {
		t.Errorf("killed broker %s still in the ISR %s", leader, isr)
	}
	if got := pageData(t, ctx, fmt.Sprintf(`.record[data-key="alice"][data-broker=%q]`, newLeader), "offset"); got != offset {
		t.Errorf("alice on the new leader %s at offset %q, want %s", newLeader, got, offset)
	}
	if acked, present, lost := pageAckLine(t, ctx, "all"); acked != "3" || present != "3" || lost != "0" {
		t.Errorf("after the failover: acked %s, present %s, lost %s; want 3, 3, 0", acked, present, lost)
	}

	pageProduce(t, ctx, "alice", "after")
	pageWait(t, ctx, 60*time.Second, "a record produced after the failover acknowledged", func() bool {
		acked, present, _ := pageAckLine(t, ctx, "all")
		return acked == "4" && present == "4"
	})

	pageClick(t, ctx, "restart-broker-"+leader)
	pageWait(t, ctx, 60*time.Second, "broker "+leader+" live and back in the ISR", func() bool {
		isr := pageData(t, ctx, row, "isr")
		return pageData(t, ctx, "#broker-"+leader, "state") == "live" && strings.Contains(","+isr+",", ","+leader+",")
	})
	if _, _, lost := pageAckLine(t, ctx, "all"); lost != "0" {
		t.Errorf("after the restart: %s acknowledged records lost", lost)
	}
	Screenshot(t, ctx, "rejoined")
	pageNoExceptions(t, b)
}

func pageAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
