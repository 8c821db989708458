package client

import (
	"fmt"
	"slices"
	"testing"

	"github.com/streamlab/streamlab/core"
)

// strategyRun sends records through a producer with partitioner.class set
// and returns each record's partition and the partitioner's name, or the
// failures.
func strategyRun(t *testing.T, s Partitioner, recs []Record) ([]int32, []string, []core.ProduceFailed) {
	f := newFakeCluster(1)
	f.addTopic("t", 4)
	p := NewProducer(ProducerConfig{ID: 1000, Bootstrap: []core.NodeID{1}, Seed: 1, Partitioner: s})
	h := newHarness(t, p, f)
	for _, r := range recs {
		r.Topic = "t"
		p.Send(r)
	}
	h.advance(500)
	var parts []int32
	var reasons []string
	for _, e := range eventsOf[core.RecordPartitioned](h) {
		parts = append(parts, e.Partition)
		reasons = append(reasons, e.Reason)
	}
	return parts, reasons, eventsOf[core.ProduceFailed](h)
}

func TestRoundRobinPartitioner(t *testing.T) {
	var recs []Record
	for i := range 6 {
		recs = append(recs, Record{Partition: AnyPartition, Key: []byte("same key"), Value: []byte(fmt.Sprint(i))})
	}
	recs = append(recs, Record{Partition: 3, Value: []byte("explicit")})
	parts, reasons, _ := strategyRun(t, RoundRobinPartitioner(), recs)
	if want := []int32{0, 1, 2, 3, 0, 1, 3}; !slices.Equal(parts, want) {
		t.Fatalf("partitions %v, want %v (keys ignored, explicit kept)", parts, want)
	}
	if reasons[0] != "round-robin" || reasons[6] != "explicit" {
		t.Fatalf("reasons %v", reasons)
	}
}

func TestValueFieldPartitioner(t *testing.T) {
	recs := []Record{
		{Partition: AnyPartition, Value: []byte(`{"match":"m1","goal":1}`)},
		{Partition: AnyPartition, Value: []byte(`{"match":"m2","goal":1}`)},
		{Partition: AnyPartition, Value: []byte(`{"goal":2,"match":"m1"}`)},
		{Partition: AnyPartition, Key: []byte("k"), Value: []byte(`not json`)},
	}
	parts, reasons, _ := strategyRun(t, ValueFieldPartitioner("match"), recs)
	if len(parts) != 4 || parts[0] != KeyPartition([]byte("m1"), 4) || parts[2] != parts[0] || parts[1] != KeyPartition([]byte("m2"), 4) {
		t.Fatalf("partitions %v", parts)
	}
	if reasons[0] != "by value field match" || reasons[3] != "murmur2" || parts[3] != KeyPartition([]byte("k"), 4) {
		t.Fatalf("a value without the field goes to the built-in choice: %v %v", reasons, parts)
	}
}

// A partitioner that answers a partition the topic does not have fails the
// record, as KafkaProducer.partition throws.
func TestPartitionerOutOfRange(t *testing.T) {
	bad := PartitionerFunc("bad", func(string, []byte, []byte, int32) int32 { return 9 })
	_, _, failed := strategyRun(t, bad, []Record{{Partition: AnyPartition, Value: []byte("v")}})
	if len(failed) != 1 || failed[0].Error != `partitioner "bad" chose partition 9 of a topic with 4 partitions` {
		t.Fatalf("failures %+v", failed)
	}
}
