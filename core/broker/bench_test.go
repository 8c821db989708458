package broker

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
)

// Benchmarks of one broker driven as a host drives it: Step, Ready, persist
// the writes into a memory store, Advance. They print figures; they are not
// pass/fail tests. Native and under wasm:
//
//	go test -run=^$ -bench=. ./core/broker
//	PATH=$(go env GOROOT)/lib/wasm:$PATH GOOS=js GOARCH=wasm go test -run=^$ -bench=. ./core/broker

// benchNode is a broker with a memory store and topic "t" (one partition).
type benchNode struct {
	n     *Node
	store *storage.Memory
	corr  int32
}

func newBenchNode(b *testing.B) *benchNode {
	b.Helper()
	bn := &benchNode{n: New(DefaultConfig(1)), store: storage.NewMemory()}
	bn.n.Tick(t0)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}
	resp := bn.step(b, req).(*kmsg.CreateTopicsResponse)
	if resp.Topics[0].ErrorCode != 0 {
		b.Fatalf("create topic: %s", errName(resp.Topics[0].ErrorCode))
	}
	return bn
}

// step handles one request as a host does and returns the response.
func (bn *benchNode) step(b *testing.B, req kmsg.Request) kmsg.Response {
	bn.corr++
	bn.n.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: bn.corr, Request: req})
	rd := bn.n.Ready()
	if err := storage.Apply(bn.store, rd.Writes); err != nil {
		b.Fatal(err)
	}
	bn.n.Advance()
	if len(rd.Messages) != 1 {
		b.Fatalf("%d responses", len(rd.Messages))
	}
	return rd.Messages[0].Response
}

// benchBatch is one producer batch of n records with values of size bytes.
func benchBatch(n, size int) []byte {
	recs := make([]record.Record, n)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		recs[i] = record.Record{Timestamp: t0, Key: []byte(fmt.Sprintf("key-%06d", i)), Value: v}
	}
	return record.Build(record.Batch{Records: recs})
}

var benchShapes = []struct {
	records, value int
}{
	{1, 100}, {100, 100}, {1, 1024}, {100, 1024},
}

func shapeName(records, value int) string {
	v := fmt.Sprint(value, "B")
	if value == 1024 {
		v = "1KiB"
	}
	return fmt.Sprintf("value=%s/records=%d", v, records)
}

// reportRecords adds records/s; b.SetBytes gives MB/s (10^6 bytes of
// record batches per second, headers and keys included).
func reportRecords(b *testing.B, records int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(records)/s, "records/s")
	}
}

// BenchmarkProduce appends one batch per Produce request (acks=1) and
// persists it into a memory store. The broker is replaced, off the clock,
// every 32 MiB so that memory stays bounded under wasm.
func BenchmarkProduce(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(shapeName(s.records, s.value), func(b *testing.B) {
			raw := benchBatch(s.records, s.value)
			req := produceReq(1, "t", 0, raw)
			bn := newBenchNode(b)
			var stored int
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if stored >= 32<<20 {
					b.StopTimer()
					bn, stored = newBenchNode(b), 0
					b.StartTimer()
				}
				sp := bn.step(b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
				if sp.ErrorCode != 0 {
					b.Fatalf("produce: %s", errName(sp.ErrorCode))
				}
				stored += len(raw)
			}
			b.StopTimer()
			reportRecords(b, b.N*s.records)
		})
	}
}

// BenchmarkFetch reads a log pre-filled with 16 MiB of 100-record batches,
// one Fetch of up to 1 MiB (max.partition.fetch.bytes) at a time, from the
// start again when it reaches the end.
func BenchmarkFetch(b *testing.B) {
	for _, value := range []int{100, 1024} {
		b.Run(shapeName(100, value), func(b *testing.B) {
			bn := newBenchNode(b)
			raw := benchBatch(100, value)
			for size := 0; size < 16<<20; size += len(raw) {
				bn.step(b, produceReq(1, "t", 0, raw))
			}
			end := bn.n.partition("t", 0).log.LogEndOffset()
			var offset, records, bytes int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := fetchReq("t", 0, offset, 1<<20)
				sp := bn.step(b, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
				if sp.ErrorCode != 0 || len(sp.RecordBatches) == 0 {
					b.Fatalf("fetch at %d: %s, %d bytes", offset, errName(sp.ErrorCode), len(sp.RecordBatches))
				}
				next := nextOffset(sp.RecordBatches)
				records += next - offset
				bytes += int64(len(sp.RecordBatches))
				if offset = next; offset >= end {
					offset = 0
				}
			}
			b.StopTimer()
			// MB/s from the bytes actually fetched per request on average.
			b.SetBytes(bytes / int64(b.N))
			reportRecords(b, int(records))
		})
	}
}

// nextOffset walks batch headers (without checking CRCs) and returns the
// offset after the last batch.
func nextOffset(batches []byte) int64 {
	var next int64
	for len(batches) >= record.HeaderSize {
		n := 12 + int(int32(binary.BigEndian.Uint32(batches[8:])))
		base := int64(binary.BigEndian.Uint64(batches))
		next = base + int64(int32(binary.BigEndian.Uint32(batches[23:]))) + 1
		batches = batches[n:]
	}
	return next
}

// BenchmarkOpen reopens a broker whose store holds one topic with many
// single-segment partitions and reports the time per partition. Open lists
// the store once per partition and storage.Memory.List scans every object,
// so the time per partition grows with the number of partitions.
func BenchmarkOpen(b *testing.B) {
	for _, parts := range []int32{250, 1000, 2000} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			bn := newBenchNode(b)
			req := kmsg.NewPtrCreateTopicsRequest()
			req.Version = 7
			req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "many", NumPartitions: parts, ReplicationFactor: 1}}
			bn.step(b, req)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Open(DefaultConfig(1), bn.store); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(parts+1), "ns/partition")
		})
	}
}

// countingStore counts List calls.
type countingStore struct {
	storage.Store
	lists int
}

func (c *countingStore) List(prefix string) ([]string, error) {
	c.lists++
	return c.Store.List(prefix)
}

// Open calls store.List once per partition (partlog.Open lists its
// directory), and a List costs a scan of the whole store in the memory
// backend and a cursor over a key range in IndexedDB, so reopening grows with
// partitions x objects: BenchmarkOpen shows the time per partition growing
// with the partition count (measured: 6 us per partition at 250 partitions
// and 39 us at 2000 natively; 40 us and 316 us under wasm, where 2000
// partitions take 0.63 s on the page's main thread; one topic of 10000
// partitions, which CreateTopics allows, took 5.4 s natively). The store
// should be listed once (or once per topic) and the names handed to each
// partition's log.
func TestOpenListsStoreOncePerTopic(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("a", 50, nil)
	h.createTopic("b", 50, nil)
	cs := &countingStore{Store: h.store}
	if _, err := Open(h.cfg, cs); err != nil {
		t.Fatal(err)
	}
	if max := 1 + 2; cs.lists > max {
		t.Fatalf("Open listed the store %d times for 2 topics of 50 partitions, want at most %d", cs.lists, max)
	}
}
