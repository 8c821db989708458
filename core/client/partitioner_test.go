package client

import (
	"bytes"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

// The vectors of Kafka's own UtilsTest.testMurmur2
// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
func TestMurmur2KafkaVectors(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want int32
	}{
		{[]byte("21"), -973932308},
		{[]byte("foobar"), -790332482},
		{[]byte("a-little-bit-long-string"), -985981536},
		{[]byte("a-little-bit-longer-string"), -1486304829},
		{[]byte("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971},
		{[]byte{'a', 'b', 'c'}, 479470107},
	} {
		if got := Murmur2(c.in); got != c.want {
			t.Errorf("Murmur2(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestToPositive(t *testing.T) {
	for in, want := range map[int32]int32{0: 0, 5: 5, -1: 0x7fffffff, -2147483648: 0, 2147483647: 2147483647} {
		if got := toPositive(in); got != want {
			t.Errorf("toPositive(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestKeyPartition(t *testing.T) {
	// -973932308 & 0x7fffffff = 1173551340; % 3 = 0, % 10 = 0, % 7 = 3.
	for _, c := range []struct {
		key  string
		n    int32
		want int32
	}{
		{"21", 3, 0}, {"21", 10, 0}, {"21", 7, 3},
		// 479470107 % 4 = 3, % 5 = 2
		{"abc", 4, 3}, {"abc", 5, 2},
	} {
		if got := KeyPartition([]byte(c.key), c.n); got != c.want {
			t.Errorf("KeyPartition(%q, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
	}
	// An empty key is a key, not a null key.
	if got, want := KeyPartition([]byte{}, 1000), toPositive(Murmur2(nil))%1000; got != want {
		t.Errorf("empty key: %d, want %d", got, want)
	}
}

func TestRecordSizeMatchesEncoding(t *testing.T) {
	recs := []Record{
		{Value: []byte("v")},
		{Key: []byte("key"), Value: bytes.Repeat([]byte("x"), 1000)},
		{Key: []byte{}, Value: nil},
		{Value: bytes.Repeat([]byte("y"), 70000), Timestamp: 1 << 40},
	}
	recs[1].Headers = append(recs[1].Headers, hdr("h1", "v1"), hdr("h2", ""))
	b := &batch{size: record.HeaderSize}
	var built []record.Record
	for i := range recs {
		r := &pending{Record: recs[i]}
		b.add(r)
		built = append(built, record.Record{Timestamp: r.Timestamp, Key: r.Key, Value: r.Value, Headers: r.Headers})
	}
	if got := len(record.Build(record.Batch{Records: built})); got != b.size {
		t.Fatalf("accumulated size %d, encoded batch is %d bytes", b.size, got)
	}
}

// stickyRun sends n null-key records of a 1000-byte value to a 1000-partition
// topic and returns the partition each went to. spaced waits out linger.ms
// and the ack between records, so every record is its own batch.
func stickyRun(t *testing.T, n int, spaced bool) []int32 {
	f := newFakeCluster(1)
	f.addTopic("t", 1000)
	p := NewProducer(ProducerConfig{ID: 1000, Bootstrap: []core.NodeID{1}, Seed: 42})
	h := newHarness(t, p, f)
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("x")}) // learn t's metadata
	h.advance(200)
	h.events = nil
	for range n {
		p.Send(Record{Topic: "t", Partition: AnyPartition, Value: bytes.Repeat([]byte("v"), 1000)})
		if spaced {
			h.advance(10)
		}
	}
	h.advance(100)
	var parts []int32
	for _, e := range eventsOf[core.RecordPartitioned](h) {
		if e.Reason != "sticky" {
			t.Fatalf("reason %q for a null key", e.Reason)
		}
		parts = append(parts, e.Partition)
	}
	if acked := len(eventsOf[core.RecordAcked](h)); acked != n {
		t.Fatalf("%d acked, want %d", acked, n)
	}
	return parts
}

// runLengths is how many records in a row went to the same partition.
func runLengths(parts []int32) []int {
	var out []int
	for i, p := range parts {
		if i > 0 && p == parts[i-1] {
			out[len(out)-1]++
			continue
		}
		out = append(out, 1)
	}
	return out
}

// A record with a 1000-byte value and a null key is 1009 bytes in a batch
// (attributes 1, timestampDelta 1, offsetDelta 1, key -1 1, value length 2,
// value 1000, header count 1 = 1007, plus the length varint 2); a batch with
// its 61-byte header holds 16 of them within batch.size 16384.
func TestStickySwitchAfterBatchSizeSpaced(t *testing.T) {
	// Each record is its own batch of 61+1009 = 1070 bytes. After 15 records
	// 16050 < 16384 bytes were produced; the 16th brings 17120 >= 16384 but
	// its batch is still open (enableSwitch is false); at the 17th the queue
	// is empty, so the partition switches before the append.
	parts := stickyRun(t, 40, true)
	runs := runLengths(parts)
	if runs[0] != 16 || runs[1] != 16 {
		t.Fatalf("runs %v, want 16 records per partition", runs)
	}
}

func TestStickySwitchAfterBatchSizeBurst(t *testing.T) {
	// All at once: 16 records fill the first batch (16205 bytes); the 17th
	// closes it, but 16205 < 16384 so the partition stays and a second batch
	// starts; the 33rd closes the second batch with 32410 >= 16384 bytes
	// produced: switch. Kafka switches on batch boundaries
	// (BuiltInPartitioner.updatePartitionInfo with enableSwitch).
	//
	// The full first batch made the broker ready, and a drain takes the
	// first batch of every partition of a ready broker
	// (RecordAccumulator.drainBatchesForOneNode), so the next partition's
	// batch leaves with one record (1070 bytes); its next batch holds 16
	// (17275 bytes in all) and closing it switches: 17 records.
	parts := stickyRun(t, 100, false)
	runs := runLengths(parts)
	if runs[0] != 32 {
		t.Fatalf("runs %v, want 32 records on the first partition", runs)
	}
	for _, r := range runs[1 : len(runs)-1] {
		if r != 17 {
			t.Fatalf("runs %v, want 17 records on the next ones", runs)
		}
	}
}

func TestStickyPicksAmongAvailable(t *testing.T) {
	if got := pickPartition(7, []int32{3, 5}, 10); got != 5 {
		t.Fatalf("got %d, want 5 (7 %% 2 = 1)", got)
	}
	if got := pickPartition(7, nil, 10); got != 7 {
		t.Fatalf("got %d, want 7 when no partition has a leader", got)
	}
}
