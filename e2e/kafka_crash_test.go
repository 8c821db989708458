//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testKafkaCrash: kgo produces with acks=all in a loop while the node is
// killed with SIGKILL; restarted on the same data directory, the node still
// has every record it acknowledged, at the offset it acknowledged it at.
func testKafkaCrash(t *testing.T, bin string) {
	dir := t.TempDir()
	node := StartKafkaNode(t, bin, dir)
	const topic, partitions = "crash", 3
	createTopic(t, node.Addr, topic, partitions)

	cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(2), kgo.RequestRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		p int32
		o int64
	}
	var mu sync.Mutex
	acked := map[key]string{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	producing := make(chan struct{})
	go func() {
		defer close(producing)
		for i := 0; ctx.Err() == nil; i++ {
			r := &kgo.Record{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprintf("crash value %d", i))}
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[key{r.Partition, r.Offset}] = string(r.Value)
					mu.Unlock()
				}
			})
		}
	}()
	// Kill once a good number of records are acknowledged.
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	node.Kill(t)
	cancel()
	<-producing
	cl.Close() // fails what is still buffered: not acknowledged
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}

	node = StartKafkaNode(t, bin, dir)
	total := 0
	for _, end := range logEnds(t, node.Addr, topic, partitions) {
		total += int(end)
	}
	got := consumeKgo(t, node.Addr, topic, partitions, total)
	stored := map[key]string{}
	for _, c := range got {
		stored[key{c.Partition, c.Offset}] = c.Value
	}
	lost := 0
	for k, v := range acked {
		if stored[k] != v {
			if lost < 5 {
				t.Errorf("acknowledged %s-%d@%d %q, after the restart: %q", topic, k.p, k.o, v, stored[k])
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost", lost, len(acked))
	}
	t.Logf("%d records acknowledged before kill -9, %d in the log after the restart", len(acked), total)
}

// logEnds lists the log end offset of every partition (ListOffsets latest).
func logEnds(t *testing.T, addr, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s-%d: %v", o.Topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	if len(out) != int(partitions) {
		t.Fatalf("end offsets %v", out)
	}
	return out
}
