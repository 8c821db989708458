package lab

import (
	"fmt"
	"testing"
)

// The first page's flow, headless: produce keyed records, watch them land in
// the partition murmur2 picks, at the next offset, and be consumed.
func TestProduceConsume(t *testing.T) {
	l := New(Config{Seed: 42, MinLatencyMs: 40, MaxLatencyMs: 120})
	if !l.Sim.RunUntil(l.TopicReady, 5000) {
		t.Fatal("topic not created")
	}
	keys := []string{"user-1", "user-2", "user-3", "user-1"}
	for i, k := range keys {
		l.Produce([]byte(k), []byte(fmt.Sprint("v", i)))
	}
	consumedAll := func() bool { return len(l.Consumed()) == len(keys) }
	if !l.Sim.RunUntil(consumedAll, 10000) {
		t.Fatalf("consumed %d of %d records", len(l.Consumed()), len(keys))
	}
	next := map[int32]int64{}
	for i, k := range keys {
		want := l.PartitionFor([]byte(k))
		ack := l.Acked()[i]
		if ack.Partition != want || ack.Offset != next[want] || string(ack.Key) != k {
			t.Errorf("record %d (%s): acked at %d/%d, want partition %d offset %d", i, k, ack.Partition, ack.Offset, want, next[want])
		}
		recs := l.Records(want, 100)
		if int64(len(recs)) <= next[want] || string(recs[next[want]].Value) != fmt.Sprint("v", i) {
			t.Errorf("record %d not in the broker's log of partition %d: %+v", i, want, recs)
		}
		next[want]++
	}
	for _, c := range l.Consumed() {
		if c.Partition != l.PartitionFor(c.Key) {
			t.Errorf("consumed %s from partition %d", c.Key, c.Partition)
		}
	}
	if l.AdminError() != nil {
		t.Fatal(l.AdminError())
	}
}

// Skipping past retention.ms deletes old data but offsets keep counting.
func TestSkipWeekAppliesRetention(t *testing.T) {
	l := New(Config{Seed: 1})
	l.Sim.RunUntil(l.TopicReady, 5000)
	l.Produce([]byte("k"), []byte("old"))
	p := l.PartitionFor([]byte("k"))
	l.Sim.RunUntil(func() bool { return len(l.Consumed()) == 1 }, 5000)
	l.Skip(7*24*3600*1000 + 400000)
	l.Advance(1000)
	info := l.Partitions()[p]
	if info.LogStartOffset != 1 || info.LogEndOffset != 1 {
		t.Fatalf("after a week: %+v", info)
	}
	l.Produce([]byte("k"), []byte("new"))
	l.Sim.RunUntil(func() bool { return len(l.Consumed()) == 2 }, 60000)
	if c := l.Consumed(); len(c) != 2 || c[1].Offset != 1 {
		t.Fatalf("after retention: %+v", c)
	}
}
