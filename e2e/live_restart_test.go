//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core/client"
)

// The live cluster of tabs (/live) after a restart: a reloaded tab's broker
// recovers its logs from IndexedDB, and a whole browser closed and started
// again on the same profile brings the cluster back with its data. As in
// TestLiveClusterOfTabs the URL shortens broker.session.timeout.ms to 3 s
// and request.timeout.ms to 5 s; every bound on liveness here is generous
// (the machine that runs this may have 2 busy cores), none is a figure.

// liveURL is the page of cluster name with the short timeouts.
func liveURL(node *Node, cluster string) string {
	return node.URL + "/live?cluster=" + cluster + "&session_timeout_ms=3000&request_timeout_ms=5000"
}

// liveJoinAll opens url in each tab and joins them one after the other
// (ids are taken lowest first), then waits until the first tab's metadata
// has them all live. It returns the tabs' broker ids.
func liveJoinAll(t *testing.T, tabs []context.Context, url string) []int {
	t.Helper()
	for _, ctx := range tabs {
		liveOpen(t, ctx, url)
	}
	start := time.Now()
	ids := make([]int, len(tabs))
	for i, ctx := range tabs {
		ids[i] = liveJoin(t, ctx, fmt.Sprintf("tab %d", i+1))
	}
	pageWait(t, tabs[0], 90*time.Second, fmt.Sprintf("tab 1 shows %d brokers live", len(tabs)), func() bool {
		return pageData(t, tabs[0], "#live-member", "live") == strconv.Itoa(len(tabs))
	})
	t.Logf("broker ids of the tabs: %v; all live in tab 1's metadata %v after the first join", ids, time.Since(start).Round(time.Millisecond))
	return ids
}

// liveCreateTopic creates topic (RF=3, min.insync.replicas=2) from the tab
// and waits until every partition is led with every broker in its ISR.
func liveCreateTopic(t *testing.T, ctx context.Context, topic string, partitions int, ids []int) {
	t.Helper()
	pageSet(t, ctx, "live-topic-name", topic, "input")
	pageSet(t, ctx, "live-topic-partitions", strconv.Itoa(partitions), "input")
	pageSet(t, ctx, "live-topic-rf", "3", "input")
	pageSet(t, ctx, "live-topic-minisr", "2", "input")
	pageClick(t, ctx, "live-create-topic")
	pageWait(t, ctx, 90*time.Second, fmt.Sprintf("every partition of %s led, every broker in its ISR", topic), func() bool {
		for p := range partitions {
			if r := liveReadPart(t, ctx, topic, p); r.Leader < 0 || !fullISR(r.ISR, ids) {
				return false
			}
		}
		return true
	})
}

// liveProduce produces n records with acks=all from the tab, spread evenly
// over the topic's partitions (a key per partition, chosen by murmur2),
// and waits until all are acknowledged; acked counts from the page's
// first press: total, this press's included.
func liveProduce(t *testing.T, ctx context.Context, topic string, partitions, n, total int) {
	t.Helper()
	pageSet(t, ctx, "live-produce-topic", topic, "input")
	sent := total - n
	for p := range partitions {
		key := ""
		for i := 0; key == ""; i++ {
			if k := fmt.Sprintf("key-%d", i); client.KeyPartition([]byte(k), int32(partitions)) == int32(p) {
				key = k
			}
		}
		m := n / partitions
		if p < n%partitions {
			m++
		}
		sent += m
		pageSet(t, ctx, "live-produce-key", key, "input")
		pageSet(t, ctx, "live-produce-n", strconv.Itoa(m), "input")
		pageClick(t, ctx, "live-produce")
		waitAcked(t, ctx, sent)
	}
}

// liveSettled waits until every tab's replica of every partition has the
// leader's log end offset as its high watermark and log end offset, and
// returns them; they must add up to records.
func liveSettled(t *testing.T, tabs []context.Context, ids []int, topic string, partitions, records int) []int64 {
	t.Helper()
	leo := make([]int64, partitions)
	pageWait(t, tabs[0], 90*time.Second, fmt.Sprintf("every replica of %s has HW = LEO = the leader's LEO", topic), func() bool {
		for p := range partitions {
			lead := slices.Index(ids, liveReadPart(t, tabs[0], topic, p).Leader)
			if lead < 0 {
				return false
			}
			leo[p] = liveReadPart(t, tabs[lead], topic, p).LEO
			for _, ctx := range tabs {
				if r := liveReadPart(t, ctx, topic, p); r.HW != leo[p] || r.LEO != leo[p] {
					return false
				}
			}
		}
		return true
	})
	var sum int64
	for _, v := range leo {
		sum += v
	}
	if sum != int64(records) {
		t.Fatalf("the partitions of %s hold %d records (LEO %v), %d were acknowledged", topic, sum, leo, records)
	}
	return leo
}

// TestLiveReloadTabRecovers: three tabs form a cluster, a topic with RF=3
// gets 500 records with acks=all, then the tab of a broker that leads no
// partition of the topic (a follower of every one) is reloaded and joins
// again. It gets the same broker id back (sessionStorage remembers it, the
// Web Lock was released with the old page), its replicas have the log end
// offsets they had before the reload as soon as the page shows them, and its
// broker appends no record: the logs came from IndexedDB, not from the
// leaders. It is back in the ISR of every partition within 90 s.
func TestLiveReloadTabRecovers(t *testing.T) {
	Require(t)
	node := StartNode(t)
	b := startProfileBrowser(t, t.TempDir(), node.URL)
	const topic, partitions, n = "reloaded", 2, 500
	tabs := []context.Context{b.Ctx, b.NewTab(t, "tab2"), b.NewTab(t, "tab3")}
	t.Cleanup(func() {
		if t.Failed() {
			for i, ctx := range tabs {
				t.Logf("tab %d shows:\n%s", i+1, liveTabText(ctx))
			}
		}
	})
	ids := liveJoinAll(t, tabs, liveURL(node, "reload"))
	liveCreateTopic(t, tabs[0], topic, partitions, ids)

	// The victim: a broker that leads no partition of the topic (with two
	// partitions on three brokers there is one), not the active
	// controller if there is a choice.
	leads := map[int]bool{}
	for p := range partitions {
		leads[liveReadPart(t, tabs[0], topic, p).Leader] = true
	}
	controller, _ := strconv.Atoi(pageData(t, tabs[0], "#live-member", "controller"))
	victim := -1
	for i, id := range ids {
		if !leads[id] && (victim < 0 || ids[victim] == controller) {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("every broker %v leads a partition of %s's %d", ids, topic, partitions)
	}
	producer := 0
	if victim == 0 {
		producer = 1
	}
	vid := ids[victim]
	t.Logf("victim: tab %d (broker %d, follower of every partition; active controller: broker %d); producer: tab %d", victim+1, vid, controller, producer+1)

	liveProduce(t, tabs[producer], topic, partitions, n, n)
	before := liveSettled(t, tabs, ids, topic, partitions, n)
	t.Logf("before the reload: LEO per partition %v", before)
	// As a follower the victim's broker appended the records it fetched:
	// its event log says so, which makes their absence after the reload
	// mean something.
	fetchedBefore := false
	for _, e := range liveEvents(t, tabs[victim]) {
		if e.Kind == "RecordsAppended" && e.Who == fmt.Sprintf("broker %d", vid) {
			fetchedBefore = true
		}
	}
	if !fetchedBefore {
		t.Logf("tab %d's event log shows no RecordsAppended of broker %d before the reload: its absence afterwards tells nothing", victim+1, vid)
	}
	Screenshot(t, tabs[victim], "before-reload")

	start := time.Now()
	liveReload(t, tabs[victim])
	if id := liveJoin(t, tabs[victim], fmt.Sprintf("tab %d after its reload", victim+1)); id != vid {
		t.Fatalf("tab %d was broker %d before its reload, broker %d after", victim+1, vid, id)
	}
	t.Logf("tab %d reloaded and joined again as broker %d in %v", victim+1, vid, time.Since(start).Round(time.Millisecond))

	// Until every partition has the broker back in its ISR (as its own
	// metadata and the producer tab's say): the first offsets the page
	// shows for each replica, and every line of its event log.
	first := make([]int64, partitions)
	for p := range first {
		first[p] = -1
	}
	appended := map[string]bool{}
	others := map[string]bool{}
	pageWait(t, tabs[victim], 90*time.Second, fmt.Sprintf("broker %d back in the ISR of every partition with its records", vid), func() bool {
		for _, e := range liveEvents(t, tabs[victim]) {
			if e.Who != fmt.Sprintf("broker %d", vid) {
				continue
			}
			switch e.Kind {
			case "RecordsAppended":
				appended[e.Text] = true
			case "LogRecovered", "LogTruncated":
				others[e.Kind+": "+e.Text] = true
			}
		}
		done := true
		for p := range partitions {
			r := liveReadPart(t, tabs[victim], topic, p)
			if first[p] < 0 && r.LEO >= 0 {
				first[p] = r.LEO
			}
			seen := liveReadPart(t, tabs[producer], topic, p)
			if r.LEO != before[p] || r.HW != before[p] || !fullISR(r.ISR, ids) || !fullISR(seen.ISR, ids) {
				done = false
			}
		}
		return done
	})
	t.Logf("figure: broker %d back in the ISR of every partition of %s %v after the reload began", vid, topic, time.Since(start).Round(time.Millisecond))
	t.Logf("LEO per partition when the reloaded page first showed the replicas: %v (before the reload: %v)", first, before)
	if !slices.Equal(first, before) {
		t.Errorf("the reloaded broker's replicas first showed LEO %v, not the %v they had: the logs did not come back from IndexedDB whole", first, before)
	}
	if len(appended) > 0 {
		t.Errorf("the reloaded broker %d appended records it already had (fetched them again):\n%s", vid, strings.Join(slices.Sorted(maps.Keys(appended)), "\n"))
	}
	for e := range others {
		t.Errorf("the reloaded broker %d's log was not whole in IndexedDB: %s", vid, e)
	}
	if s := pageData(t, tabs[producer], fmt.Sprintf("#live-broker-%d", vid), "state"); s != "live" {
		t.Errorf("tab %d shows broker %d as %q, want live", producer+1, vid, s)
	}
	Screenshot(t, tabs[victim], "rejoined")
	Screenshot(t, tabs[producer], "rejoined-seen-by-producer")
	pageNoExceptions(t, b.Browser)
}

// TestLiveBrowserRestartKeepsData: three tabs form a cluster, a topic with
// RF=3 gets 600 records with acks=all; then the whole browser is closed
// and a new browser process is started on the same profile (user data
// directory). Three tabs open /live and join the same cluster again: the
// topic is there with every partition's high watermark and log end offset
// as before, on every replica, a new consumer group reads every
// acknowledged record, and the cluster takes more.
func TestLiveBrowserRestartKeepsData(t *testing.T) {
	Require(t)
	node := StartNode(t)
	profile := t.TempDir()
	const cluster, topic, partitions, n, more = "restart", "kept", 3, 600, 100
	url := liveURL(node, cluster)

	b1 := startProfileBrowser(t, profile, node.URL)
	tabs := []context.Context{b1.Ctx, b1.NewTab(t, "tab2"), b1.NewTab(t, "tab3")}
	running := true
	t.Cleanup(func() {
		if t.Failed() && running {
			for i, ctx := range tabs {
				t.Logf("tab %d shows:\n%s", i+1, liveTabText(ctx))
			}
		}
	})
	ids := liveJoinAll(t, tabs, url)
	liveCreateTopic(t, tabs[0], topic, partitions, ids)
	liveProduce(t, tabs[0], topic, partitions, n, n)
	before := liveSettled(t, tabs, ids, topic, partitions, n)
	t.Logf("before the restart: HW = LEO per partition %v, on every replica", before)
	for i, ctx := range tabs {
		Screenshot(t, ctx, fmt.Sprintf("before-restart-tab%d", i+1))
	}
	pageNoExceptions(t, b1.Browser)

	start := time.Now()
	running = false
	b1.Close(t)
	if n := killByUserDataDir(profile); n != 0 {
		t.Fatalf("%d processes of the first browser were still running after it closed", n)
	}
	idb, _ := filepath.Glob(filepath.Join(profile, "Default", "IndexedDB", "*"))
	t.Logf("first browser closed in %v; its profile's IndexedDB: %v", time.Since(start).Round(time.Millisecond), relPaths(profile, idb))
	if len(idb) == 0 {
		t.Logf("no IndexedDB directory under %s/Default: the profile may keep it elsewhere", profile)
	}

	start = time.Now()
	b2 := startProfileBrowser(t, profile, node.URL)
	tabs = []context.Context{b2.Ctx, b2.NewTab(t, "tab2"), b2.NewTab(t, "tab3")}
	running = true
	ids = liveJoinAll(t, tabs, url)
	pageWait(t, tabs[0], 180*time.Second, fmt.Sprintf("%s back: every partition led, full ISR, HW = LEO = %v on every replica", topic, before), func() bool {
		for p := range partitions {
			for i, ctx := range tabs {
				r := liveReadPart(t, ctx, topic, p)
				if r.LEO > before[p] {
					t.Fatalf("after the restart tab %d's replica of %s-%d has LEO %d, more than the %d it had", i+1, topic, p, r.LEO, before[p])
				}
				if r.Leader < 0 || !fullISR(r.ISR, ids) || r.HW != before[p] || r.LEO != before[p] {
					return false
				}
			}
		}
		return true
	})
	t.Logf("figure: the restarted browser's 3 tabs rejoined and show %s whole (HW = LEO = %v) %v after the new browser started", topic, before, time.Since(start).Round(time.Millisecond))
	for i, ctx := range tabs {
		Screenshot(t, ctx, fmt.Sprintf("after-restart-tab%d", i+1))
	}

	// A new group reads from the earliest offset: every record
	// acknowledged before the restart.
	start = time.Now()
	pageSet(t, tabs[1], "live-group", "after-restart", "input")
	pageSet(t, tabs[1], "live-consume-topic", topic, "input")
	pageClick(t, tabs[1], "live-consume")
	waitRead(t, tabs[1], n)
	t.Logf("figure: a new consumer group read the %d records acknowledged before the restart in %v", n, time.Since(start).Round(time.Millisecond))

	// And the cluster takes more.
	liveProduce(t, tabs[0], topic, partitions, more, more)
	waitRead(t, tabs[1], n+more)
	Screenshot(t, tabs[0], "after-restart-produced")
	Screenshot(t, tabs[1], "after-restart-consumed")
	pageNoExceptions(t, b2.Browser)
}

func relPaths(root string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		if r, err := filepath.Rel(root, p); err == nil {
			p = r
		}
		out[i] = p
	}
	return out
}
