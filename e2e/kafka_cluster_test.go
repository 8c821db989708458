//go:build !wasm

package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testKafkaCluster: `-brokers 3` runs a KRaft cluster in one process. kadm
// sees three brokers and an active controller, creates a 6-partition topic
// with replication factor 3 whose leaders spread over the brokers, kgo
// produces 10,000 records with acks=all to the partition leaders and reads
// them back, and every partition's ISR holds its three replicas.
func testKafkaCluster(t *testing.T, bin string) {
	node := StartKafkaNode(t, bin, t.TempDir(), "-brokers", "3")
	const topic, partitions, n = "replicated", 6, 10000
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The brokers register with the controller and get unfenced within
	// a few seconds; creating the topic before then fails with
	// INVALID_REPLICATION_FACTOR, as on Kafka.
	var meta kadm.Metadata
	for {
		if meta, err = adm.BrokerMetadata(ctx); err == nil && len(meta.Brokers) == 3 && meta.Controller >= 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the cluster did not come up: %v, metadata %+v", err, meta)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A broker may still be fenced a moment after the metadata lists it
	// (INVALID_REPLICATION_FACTOR): retry, as an operator would.
	for {
		resp, err := adm.CreateTopic(ctx, partitions, 3, nil, topic)
		if err == nil && resp.Err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create topic: %v %v", err, resp.Err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	recs := records("cluster", n)
	produceKgo(t, []kgo.Opt{kgo.SeedBrokers(node.Addr), kgo.DefaultProduceTopic(topic)}, recs)
	checkLog(t, partitions, recs, consumeKgo(t, node.Addr, topic, partitions, n))

	leaders := map[int32]bool{}
	var details kadm.TopicDetails
	for {
		if details, err = adm.ListTopics(ctx, topic); err != nil {
			t.Fatal(err)
		}
		full := true
		for _, p := range details[topic].Partitions {
			full = full && len(p.ISR) == 3
		}
		if full || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range details[topic].Partitions.Sorted() {
		leaders[p.Leader] = true
		if len(p.Replicas) != 3 || len(p.ISR) != 3 || !slices.Contains(p.Replicas, p.Leader) {
			t.Errorf("partition %d: leader %d replicas %v isr %v", p.Partition, p.Leader, p.Replicas, p.ISR)
		}
	}
	if len(leaders) != 3 {
		t.Errorf("leaders on brokers %v: want all three (placement round-robins)", leaders)
	}
}
