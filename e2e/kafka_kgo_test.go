//go:build !wasm

package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// testKafkaKgo: franz-go creates a 3-partition topic with kadm, produces
// 10,000 records with each of acks=0, 1 and all, and reads all 30,000 back
// from the earliest offset with a direct-partition consumer.
func testKafkaKgo(t *testing.T, bin string) {
	node := StartKafkaNode(t, bin, t.TempDir())
	const topic, partitions, n = "kgo", 3, 10000
	createTopic(t, node.Addr, topic, partitions)

	var sent []produced
	for _, tc := range []struct {
		acks string
		opts []kgo.Opt
	}{
		// acks other than all need idempotence off (kgo refuses otherwise).
		{"0", []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}},
		{"1", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
		// kgo's defaults: acks=all, idempotent, snappy.
		{"all", nil},
	} {
		recs := records("acks"+tc.acks, n)
		var logs syncBuffer
		opts := append([]kgo.Opt{kgo.SeedBrokers(node.Addr), kgo.DefaultProduceTopic(topic),
			kgo.WithLogger(kgo.BasicLogger(&logs, kgo.LogLevelInfo, nil))}, tc.opts...)
		produceKgo(t, opts, recs)
		if tc.acks == "all" {
			// The broker implements InitProducerId: kgo produces with a
			// producer id and sequence numbers, no fallback.
			if strings.Contains(logs.String(), "continuing without a producer id") || !strings.Contains(logs.String(), "producer id initialization success") {
				t.Errorf("kgo did not produce idempotently; its log:\n%s", logs.String())
			}
		}
		sent = append(sent, recs...)
	}
	checkLog(t, partitions, sent, consumeKgo(t, node.Addr, topic, partitions, len(sent)))
}

// produceKgo produces recs asynchronously and waits for every promise.
func produceKgo(t *testing.T, opts []kgo.Opt, recs []produced) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var failures []error
	for _, r := range recs {
		cl.Produce(ctx, &kgo.Record{Key: []byte(r.Key), Value: []byte(r.Value)}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("%d of %d records failed, first: %v", len(failures), len(recs), failures[0])
	}
}
