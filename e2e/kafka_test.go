//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlab/streamlab/core/client"
)

// TestKafka runs real Kafka clients against the node binary, built once for
// all of them: franz-go (kgo, kadm), sarama, kcat, and a kill -9 in the
// middle of a produce. The subtests run in parallel, each with its own node
// and data directory.
func TestKafka(t *testing.T) {
	bin := kafkaBinary(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"kgo", testKafkaKgo},
		{"sarama", testKafkaSarama},
		{"kcat", testKafkaKcat},
		{"crash", testKafkaCrash},
		{"cluster", testKafkaCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			tc.fn(t, bin)
			t.Logf("%s took %v", tc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// produced is one record as a client sent it.
type produced struct {
	Key, Value string
}

// consumed is one record as read back.
type consumed struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
}

// checkLog verifies what was read back against what was produced, in the
// order it was produced: every record exactly once, in the partition the
// Java partitioner (murmur2) gives its key, at consecutive offsets from 0,
// and in production order within each partition.
func checkLog(t *testing.T, partitions int32, sent []produced, got []consumed) {
	t.Helper()
	byPart := map[int32][]consumed{}
	for _, c := range got {
		byPart[c.Partition] = append(byPart[c.Partition], c)
	}
	want := map[int32][]produced{}
	for _, s := range sent {
		p := client.KeyPartition([]byte(s.Key), partitions)
		want[p] = append(want[p], s)
	}
	for p := int32(0); p < partitions; p++ {
		g, w := byPart[p], want[p]
		sort.Slice(g, func(i, j int) bool { return g[i].Offset < g[j].Offset })
		if len(g) != len(w) {
			t.Errorf("partition %d: %d records read back, %d produced to it", p, len(g), len(w))
		}
		for i := 0; i < min(len(g), len(w)); i++ {
			if g[i].Offset != int64(i) || g[i].Key != w[i].Key || g[i].Value != w[i].Value {
				t.Errorf("partition %d, record %d: got offset %d %s=%q, want offset %d %s=%q",
					p, i, g[i].Offset, g[i].Key, g[i].Value, i, w[i].Key, w[i].Value)
				break
			}
		}
	}
	if len(byPart) > int(partitions) {
		t.Errorf("records in partitions %v of a %d-partition topic", keys(byPart), partitions)
	}
}

func keys[V any](m map[int32]V) []int32 {
	var out []int32
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// records makes n keyed records whose values name their batch.
func records(batch string, n int) []produced {
	out := make([]produced, n)
	for i := range out {
		out[i] = produced{Key: fmt.Sprintf("%s-key-%d", batch, i), Value: fmt.Sprintf("%s value %05d %s", batch, i, strings.Repeat("x", i%50))}
	}
	return out
}

// createTopic creates a topic with kadm and fails the test on any error.
func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}

// consumeKgo reads n records of topic from the start of every partition with
// a direct (groupless) kgo consumer.
func consumeKgo(t *testing.T, addr, topic string, partitions int32, n int) []consumed {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []consumed
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(out), n, topic, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, consumed{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
		})
	}
	return out
}
