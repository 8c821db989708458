//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Kafka benchmarks measure kgo against the node binary (STREAMLAB_BIN,
// built by `make build`) and, in the same run, against franz-go's in-memory
// kfake cluster (one broker, in this process), with the same client options:
// figures to compare, not pass/fail tests. `make bench` runs them and prints
// the streamlab/kfake ratios:
//
//	STREAMLAB_BIN=$PWD/bin/streamlab go test -run '^$' -bench Kafka -benchtime=20000x ./e2e/
//
// Every run of a sub-benchmark gets a fresh broker (a node, or a kfake
// cluster) and a 3-partition topic, created with kadm: a broker that kept
// the gigabyte the runs before it wrote slowed down on this machine (the
// kernel's page faults and writes grew slower, not the node's own work),
// which made later rows measure the history rather than the row. The
// client options are kgo's defaults (linger 10ms, sticky partitioner for the
// keyless records, 50,000 buffered records) except for compression, which is
// off for both targets (the payload is a fixed byte pattern: the figures
// compare the brokers, not the codecs), and the acks:
//
//	acks=1    kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()
//	acks=all  kgo.RequiredAcks(kgo.AllISRAcks()), idempotent (kgo's default)
//
// Metrics: rec/s and MB/s (b.SetBytes: value bytes only) over the timed part,
// and for produce the latency of each record from its Produce call to its
// promise (p50-ms, p99-ms). Produce hands all b.N records to kgo as fast as it
// takes them, so that latency is the latency under saturating load: mostly
// the time a record waits in kgo's buffer behind the ones before it.
//
// To see where the node spends its time, set STREAMLAB_CPUPROFILE=path: the
// node writes a CPU profile there when it stops. Every start of the node
// (each run of each sub-benchmark) overwrites it, so profile one
// benchmark at a time:
//
//	STREAMLAB_CPUPROFILE=/tmp/node.prof STREAMLAB_BIN=$PWD/bin/streamlab \
//	  go test -run '^$' -bench 'KafkaProduce/target=streamlab/value=1KiB' -benchtime=200000x ./e2e/
//	go tool pprof -top bin/streamlab /tmp/node.prof

// kafkaBenchTargets are the brokers the benchmarks compare, in output order.
var kafkaBenchTargets = []string{"streamlab", "kfake"}

var kafkaBenchSizes = []struct {
	name string
	size int
}{{"100B", 100}, {"1KiB", 1024}}

var kafkaBenchAcks = []struct {
	name string
	opts []kgo.Opt
}{
	{"1", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
	{"all", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}},
}

// kafkaBenchTopicSeq names a fresh topic for every benchmark run (the testing
// package runs each benchmark function with b.N=1 before the real run).
var kafkaBenchTopicSeq atomic.Int64

const kafkaBenchPartitions = 3

// BenchmarkKafkaProduce produces b.N records with kgo and waits for every
// promise.
func BenchmarkKafkaProduce(b *testing.B) {
	for _, target := range kafkaBenchTargets {
		b.Run("target="+target, func(b *testing.B) {
			for _, v := range kafkaBenchSizes {
				for _, a := range kafkaBenchAcks {
					b.Run(fmt.Sprintf("value=%s/acks=%s", v.name, a.name), func(b *testing.B) {
						benchKafkaProduce(b, startKafkaBenchTarget(b, target), v.size, a.opts)
					})
				}
			}
		})
	}
}

// BenchmarkKafkaConsume pre-fills a topic with b.N records (acks=all, not
// timed), then times a new direct-partition kgo consumer reading them all
// from the start of every partition (its connection and metadata included).
func BenchmarkKafkaConsume(b *testing.B) {
	for _, target := range kafkaBenchTargets {
		b.Run("target="+target, func(b *testing.B) {
			for _, v := range kafkaBenchSizes {
				b.Run("value="+v.name, func(b *testing.B) {
					benchKafkaConsume(b, startKafkaBenchTarget(b, target), v.size)
				})
			}
		})
	}
}

// startKafkaBenchTarget starts the node binary or a one-broker kfake cluster,
// both on 127.0.0.1 and stopped when b ends, and returns the Kafka address.
func startKafkaBenchTarget(b *testing.B, target string) string {
	b.Helper()
	switch target {
	case "streamlab":
		// go test does not print a benchmark's skip message without -v,
		// so it goes to stderr too.
		skip := func(msg string) {
			fmt.Fprintf(os.Stderr, "%s: skipped: %s\n", b.Name(), msg)
			b.Skip(msg)
		}
		bin := os.Getenv("STREAMLAB_BIN")
		if bin == "" {
			skip("STREAMLAB_BIN is not set: build the node with `make build` and run `make bench`, " +
				"or set STREAMLAB_BIN=$PWD/bin/streamlab")
		}
		abs, err := filepath.Abs(bin)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			skip(fmt.Sprintf("STREAMLAB_BIN: %v (build the node with `make build`)", err))
		}
		return StartKafkaNode(b, abs, b.TempDir()).Addr
	case "kfake":
		c, err := kfake.NewCluster(kfake.NumBrokers(1)) // listens on 127.0.0.1, a free port
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		return c.ListenAddrs()[0]
	}
	b.Fatalf("unknown target %q", target)
	return ""
}

// newKafkaBenchClient is a kgo client with the options both targets share.
func newKafkaBenchClient(b *testing.B, addr string, opts ...kgo.Opt) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

// newKafkaBenchTopic creates a fresh 3-partition topic with kadm through cl.
func newKafkaBenchTopic(ctx context.Context, b *testing.B, cl *kgo.Client, kind string) string {
	b.Helper()
	topic := fmt.Sprintf("bench-%s-%d", kind, kafkaBenchTopicSeq.Add(1))
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, kafkaBenchPartitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		b.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
	return topic
}

func benchKafkaProduce(b *testing.B, addr string, size int, opts []kgo.Opt) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newKafkaBenchClient(b, addr, opts...)
	topic := newKafkaBenchTopic(ctx, b, cl, "produce")
	value := kafkaBenchValue(size)
	// One record first, untimed, so that the producer has its connection,
	// the topic's metadata and (acks=all) its producer ID.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
		b.Fatalf("produce the first record: %v", err)
	}

	lat := make([]time.Duration, b.N)
	var perr atomic.Pointer[error]
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(_ *kgo.Record, err error) {
			lat[i] = time.Since(sent)
			if err != nil {
				perr.CompareAndSwap(nil, &err)
			}
		})
	}
	// Flush returns once every promise has run.
	if err := cl.Flush(ctx); err != nil {
		b.Fatalf("flush: %v", err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := perr.Load(); err != nil {
		b.Fatalf("produce: %v", *err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rec/s")
	slices.Sort(lat)
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
}

func benchKafkaConsume(b *testing.B, addr string, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Pre-fill, untimed, with a producer client that is closed before the
	// consumer starts.
	prod := newKafkaBenchClient(b, addr, kgo.RequiredAcks(kgo.AllISRAcks()))
	topic := newKafkaBenchTopic(ctx, b, prod, "consume")
	value := kafkaBenchValue(size)
	var perr atomic.Pointer[error]
	for range b.N {
		prod.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				perr.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatalf("pre-fill flush: %v", err)
	}
	if err := perr.Load(); err != nil {
		b.Fatalf("pre-fill: %v", *err)
	}
	prod.Close()

	offsets := map[int32]kgo.Offset{}
	for p := range int32(kafkaBenchPartitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	cl := newKafkaBenchClient(b, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	n, bytes := 0, 0
	for n < b.N {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("read %d of %d records: %v", n, b.N, ctx.Err())
		}
		fs.EachError(func(t string, p int32, err error) { b.Fatalf("fetch %s-%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			n++
			bytes += len(r.Value)
		})
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cl.Close()
	if n != b.N || bytes != b.N*size {
		b.Fatalf("read %d records of %d bytes, want %d of %d", n, bytes, b.N, b.N*size)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rec/s")
}

// kafkaBenchValue is a record value of size bytes.
func kafkaBenchValue(size int) []byte {
	v := make([]byte, size)
	for i := range v {
		v[i] = 'a' + byte(i%26)
	}
	return v
}

// percentile is the nearest-rank q-quantile of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
