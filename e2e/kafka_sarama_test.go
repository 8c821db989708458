//go:build !wasm

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// testKafkaSarama: sarama (at its default protocol version) creates a
// 3-partition topic, produces 10,000 records with each of acks=0, 1 and all
// through a SyncProducer with its Java-compatible murmur2 partitioner, and
// reads them back with one partition consumer per partition from the oldest
// offset.
func testKafkaSarama(t *testing.T, bin string) {
	node := StartKafkaNode(t, bin, t.TempDir())
	const topic, partitions, n = "sarama", 3, 10000
	addrs := []string{node.Addr}

	cfg := sarama.NewConfig()
	cfg.ClientID = "streamlab-e2e"
	admin, err := sarama.NewClusterAdmin(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	admin.Close()

	var sent []produced
	for _, acks := range []sarama.RequiredAcks{sarama.NoResponse, sarama.WaitForLocal, sarama.WaitForAll} {
		cfg := sarama.NewConfig()
		cfg.ClientID = "streamlab-e2e"
		cfg.Producer.RequiredAcks = acks
		cfg.Producer.Return.Successes = true
		cfg.Producer.Partitioner = sarama.NewMurmur2Partitioner
		cfg.Producer.Timeout = 10 * time.Second
		p, err := sarama.NewSyncProducer(addrs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		recs := records(fmt.Sprint("acks", int(acks)), n)
		const chunk = 1000
		for i := 0; i < n; i += chunk {
			var msgs []*sarama.ProducerMessage
			for _, r := range recs[i : i+chunk] {
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.StringEncoder(r.Value)})
			}
			if err := p.SendMessages(msgs); err != nil {
				t.Fatalf("acks=%d: %v", acks, err)
			}
			if acks != sarama.NoResponse {
				for _, m := range msgs {
					if m.Offset < 0 {
						t.Fatalf("acks=%d: no offset for %s", acks, m.Key)
					}
				}
			}
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, recs...)
	}

	consumer, err := sarama.NewConsumer(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []consumed
	deadline := time.After(30 * time.Second)
	for p := int32(0); p < partitions; p++ {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				got = append(got, consumed{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value)})
				done = m.Offset+1 >= pc.HighWaterMarkOffset()
			case err := <-pc.Errors():
				t.Fatalf("partition %d: %v", p, err)
			case <-deadline:
				t.Fatalf("read %d of %d records", len(got), len(sent))
			}
		}
		pc.Close()
	}
	checkLog(t, partitions, sent, got)
}
