package server_test

import (
	"fmt"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// BenchmarkClusterProduce produces 100-byte records into a 6-partition topic
// of a simulated 3-broker cluster (1-5 ms links) with the page's producer:
// RF=1, RF=3 with acks=1, and RF=3 with acks=all. It reports wall-clock
// records/s (what the sim can animate) and records per simulated second
// (what the modelled cluster sustains with one producer).
func BenchmarkClusterProduce(b *testing.B) {
	for _, tc := range []struct {
		name string
		rf   int16
		acks client.Acks
	}{
		{"rf1-acks1", 1, client.AcksLeader},
		{"rf3-acks1", 3, client.AcksLeader},
		{"rf3-acksall", 3, client.AcksAll},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newCluster(b, 1)
			c.quiet = true
			c.createTopicWith("bench", 6, tc.rf, nil, nil)
			p := c.producer(core.ClientIDBase, tc.acks)
			value := make([]byte, 100)
			start := c.s.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Send(client.Record{Topic: "bench", Partition: client.AnyPartition, Key: fmt.Appendf(nil, "k%d", i%1000), Value: value})
				if i%1000 == 999 {
					c.s.RunFor(1)
				}
			}
			if !c.s.RunUntil(func() bool { return len(c.acked) == b.N }, 600000) {
				b.Fatalf("%d of %d acknowledged, %d failed", len(c.acked), b.N, len(c.failed))
			}
			b.StopTimer()
			simMs := max(c.s.Now()-start, 1)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N)*1000/float64(simMs), "sim-records/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkLeaderFailover crashes the leader of a partition (RF=3,
// min.insync.replicas=2) while a producer sends acks=all records every 10
// ms, with Kafka's default timeouts, and reports in simulated milliseconds
// how long until the controller elected a new leader and until the first
// record sent after the crash was acknowledged. The crashed broker's
// connection does not close in the sim (a machine that vanished, not a
// killed process), so the producer waits out request.timeout.ms (30 s)
// before it asks for new metadata.
func BenchmarkLeaderFailover(b *testing.B) {
	var elect, ack int64
	for i := 0; i < b.N; i++ {
		c := newCluster(b, uint64(i+1))
		c.quiet = true
		c.createTopic("t", 1, map[string]string{"min.insync.replicas": "2"})
		p := c.producer(core.ClientIDBase, client.AcksAll)
		for j := 0; j < 100; j++ {
			p.Send(client.Record{Topic: "t", Partition: 0, Value: []byte("before")})
			c.s.RunFor(10)
		}
		old := c.leader("t", 0)
		crashed := c.s.Now()
		c.s.Crash(core.NodeID(old))
		var newLeader, first int64
		for j := 0; j < 12000 && (newLeader == 0 || first == 0); j++ {
			p.Send(client.Record{Topic: "t", Partition: 0, Value: []byte("after")})
			c.s.RunFor(10)
			if l := c.leader("t", 0); newLeader == 0 && l >= 0 && l != old {
				newLeader = c.s.Now()
			}
			for _, a := range c.acked {
				if first == 0 && string(a.Value) == "after" {
					first = c.s.Now()
				}
			}
			c.acked = c.acked[:0]
		}
		if newLeader == 0 || first == 0 {
			b.Fatalf("seed %d: no new leader or no acknowledgement within 120 s", i+1)
		}
		elect += newLeader - crashed
		ack += first - crashed
	}
	b.ReportMetric(float64(elect)/float64(b.N), "sim-ms-to-new-leader")
	b.ReportMetric(float64(ack)/float64(b.N), "sim-ms-to-first-ack")
	b.ReportMetric(0, "ns/op")
}
