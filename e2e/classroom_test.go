//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClassroom is the classroom issue's test: the node runs a room
// (-classroom) and is its broker 1; two Chromium instances with separate
// profiles — two devices — join the room by its code and become brokers 2
// and 3. kgo, a real Kafka client, creates a topic with RF=3 through the
// node and produces 10,000 records with acks=all: the partitions led by the
// tabs are reached through the node's proxy ports. A consumer group member
// in device 1 reads them all. Then device 2's browser is closed: its
// partitions fail over, kgo produces more, and the consumer reads every
// acknowledged record.
func TestClassroom(t *testing.T) {
	Require(t)
	node := StartNode(t, "-classroom", "-room-brokers", "3")
	code := roomCode(t, node)
	url := fmt.Sprintf("%s/live?room=%s&session_timeout_ms=3000&request_timeout_ms=5000", node.URL, code)

	start := time.Now()
	d := joinRoomDevices(t, node.URL, url, code, 2)
	tabs, ids := d.Tabs, d.IDs
	if ids[0] == 1 || ids[1] == 1 || ids[0] == ids[1] {
		t.Fatalf("broker ids %v: the node is broker 1, each device another", ids)
	}
	d.waitLive(t, 3, 3)
	if k := pageData(t, tabs[0], "#live-room-member-1", "kind"); k != "node" {
		t.Errorf("room member 1 is a %q, want the node", k)
	}
	t.Logf("figure: 2 devices joined room %s → 3 brokers live (node + 2 tabs) in %v", code, time.Since(start).Round(time.Millisecond))
	for i, ctx := range tabs {
		Screenshot(t, ctx, fmt.Sprintf("classroom-device%d", i+1))
	}

	// kgo through the node: the topic, then 10,000 records with acks=all.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const topic = "lesson"
	// kgo compresses with snappy by default: the consumer in the browser
	// decompresses it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if r, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic); err != nil || r.Err != nil {
		t.Fatalf("create topic: %v %v", err, r.Err)
	}
	leaders := map[int32]int32{}
	pageWait(t, tabs[0], 90*time.Second, "every partition has a leader and ISR of 3", func() bool {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return false
		}
		for _, p := range md.Topics[topic].Partitions {
			if p.Leader < 0 || len(p.ISR) != 3 {
				return false
			}
			leaders[p.Partition] = p.Leader
		}
		return len(leaders) == 3
	})
	t.Logf("leaders: %v", leaders)
	produce := func(from, n int) {
		t.Helper()
		start := time.Now()
		results := make(chan error, n)
		for i := from; i < from+n; i++ {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 10)), Value: []byte(fmt.Sprintf("r-%d", i))},
				func(_ *kgo.Record, err error) { results <- err })
		}
		for range n {
			if err := <-results; err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
		d := time.Since(start)
		t.Logf("figure: kgo produced %d records with acks=all through the node in %v (%.0f records/s)", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	}
	const n = 10000
	produce(0, n)

	start = time.Now()
	pageSet(t, tabs[0], "live-group", "class", "input")
	pageSet(t, tabs[0], "live-consume-topic", topic, "input")
	pageClick(t, tabs[0], "live-consume")
	waitRead(t, tabs[0], n)
	t.Logf("figure: the consumer group member in device 1 read %d records in %v", n, time.Since(start).Round(time.Millisecond))
	Screenshot(t, tabs[0], "classroom-consumed")

	// Close device 2's browser: a crashed broker.
	victim := int32(ids[1])
	part := int32(-1)
	for p, l := range leaders {
		if l == victim {
			part = p
		}
	}
	if part < 0 {
		// The controller spreads 3 leaders over the 3 brokers: device
		// 2's broker must lead one, or closing it tests no failover.
		t.Fatalf("broker %d (device 2) leads no partition: leaders %v", victim, leaders)
	}
	start = time.Now()
	d.Closed[1] = true
	d.Browsers[1].Close()
	pageWait(t, tabs[0], 90*time.Second, fmt.Sprintf("a new leader of %s-%d", topic, part), func() bool {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return false
		}
		for _, p := range md.Topics[topic].Partitions {
			if p.Partition == part {
				return p.Leader >= 0 && p.Leader != victim
			}
		}
		return false
	})
	t.Logf("figure: %s-%d failed over from broker %d %v after device 2 closed", topic, part, victim, time.Since(start).Round(time.Millisecond))
	produce(n, 1000)
	waitRead(t, tabs[0], n+1000)
	t.Logf("figure: the consumer read every acknowledged record (%d) %v after device 2 closed", n+1000, time.Since(start).Round(time.Millisecond))
	Screenshot(t, tabs[0], "classroom-failover")
	pageNoExceptions(t, d.Browsers[0])
}

var roomLine = regexp.MustCompile(`Streamlab classroom room ([A-Z0-9]+):`)

// roomCode waits for the node to print its room's code.
func roomCode(t *testing.T, node *Node) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := roomLine.FindStringSubmatch(node.Output()); m != nil {
			return m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the node printed no room code:\n%s", node.Output())
	return ""
}
