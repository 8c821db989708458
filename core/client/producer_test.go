package client

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

func hdr(k, v string) kmsg.Header { return kmsg.Header{Key: k, Value: []byte(v)} }

func newProducer(t *testing.T, f *fakeCluster, cfg ProducerConfig) (*Producer, *harness) {
	t.Helper()
	if cfg.ID == 0 {
		cfg.ID = 1000
	}
	if cfg.Bootstrap == nil {
		cfg.Bootstrap = f.brokers[:1]
	}
	p := NewProducer(cfg)
	return p, newHarness(t, p, f)
}

// batchesIn decodes the batches of a ProduceRequest by partition.
func batchesIn(t *testing.T, req *kmsg.ProduceRequest) map[tp][]kmsg.Record {
	t.Helper()
	out := map[tp][]kmsg.Record{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			h, n, err := record.ParseBatch(rp.Records)
			if err != nil || n != len(rp.Records) {
				t.Fatalf("bad batch: %v", err)
			}
			recs, err := record.Records(h)
			if err != nil {
				t.Fatal(err)
			}
			out[tp{rt.Topic, rp.Partition}] = recs
		}
	}
	return out
}

func TestProducerHandshakeThenMetadataThenProduce(t *testing.T) {
	f := newFakeCluster(1)
	f.versions[kmsg.ApiVersions.Int16()] = [2]int16{0, 3} // an older broker
	f.addTopic("t", 1)
	// Without idempotence: an idempotent producer asks for its producer id
	// at once (TestIdempotentProducerInitProducerID).
	p, h := newProducer(t, f, ProducerConfig{EnableIdempotence: IdempotenceOff})
	if len(h.sent) != 0 {
		t.Fatalf("sent %v before any record: Kafka's producer fetches metadata on send", h.sent)
	}
	p.Send(Record{Topic: "t", Partition: AnyPartition, Key: []byte("k"), Value: []byte("v")})
	h.advance(10)
	var got []string
	for _, s := range h.sent {
		got = append(got, fmt.Sprintf("%s v%d", core.APIName(s.env.Key()), s.env.Request.GetVersion()))
	}
	// ApiVersions v4 is refused by a broker that knows v0-3, which answers
	// with its range; the client retries with v3. Then the highest common
	// versions: Metadata 12, Produce min(12, 11).
	want := "ApiVersions v4,ApiVersions v3,Metadata v12,Produce v11"
	if strings.Join(got, ",") != want {
		t.Fatalf("requests %v, want %s", got, want)
	}
	if s := h.sent[0].env; s.ClientID != "producer-1000" || s.From != 1000 || s.To != 1 {
		t.Fatalf("envelope %+v", s)
	}
	if md := requests[*kmsg.MetadataRequest](h)[0]; !md.AllowAutoTopicCreation || len(md.Topics) != 1 || *md.Topics[0].Topic != "t" {
		t.Fatalf("metadata request %+v", md)
	}
	if acks := eventsOf[core.RecordAcked](h); len(acks) != 1 || acks[0].Offset != 0 {
		t.Fatalf("acks %+v", acks)
	}
	if p.Pending() != 0 {
		t.Fatalf("pending %d", p.Pending())
	}
}

func TestProducerPartitioning(t *testing.T) {
	for _, c := range []struct {
		name       string
		rec        Record
		wantPart   int32
		wantReason string
	}{
		{"murmur2 key", Record{Partition: AnyPartition, Key: []byte("21")}, 3, "murmur2"},  // toPositive(-973932308) % 7 = 3
		{"another key", Record{Partition: AnyPartition, Key: []byte("abc")}, 4, "murmur2"}, // 479470107 % 7 = 4
		{"explicit wins over key", Record{Partition: 5, Key: []byte("21")}, 5, "explicit"},
		{"explicit zero", Record{Partition: 0}, 0, "explicit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeCluster(1)
			f.addTopic("t", 7)
			p, h := newProducer(t, f, ProducerConfig{})
			c.rec.Topic = "t"
			p.Send(c.rec)
			h.advance(10)
			parts := eventsOf[core.RecordPartitioned](h)
			if len(parts) != 1 || parts[0].Partition != c.wantPart || parts[0].Reason != c.wantReason {
				t.Fatalf("partitioned %+v, want partition %d by %s", parts, c.wantPart, c.wantReason)
			}
			acks := eventsOf[core.RecordAcked](h)
			if len(acks) != 1 || acks[0].Partition != c.wantPart || acks[0].Offset != 0 {
				t.Fatalf("acks %+v", acks)
			}
			if got := f.topics["t"].next[c.wantPart]; got != 1 {
				t.Fatalf("partition %d holds %d records", c.wantPart, got)
			}
		})
	}
}

func TestProducerLingerAndBatching(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 2)
	p, h := newProducer(t, f, ProducerConfig{LingerMs: 20})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("warm")})
	h.advance(30) // metadata known, first record gone
	base := len(requests[*kmsg.ProduceRequest](h))
	start := h.now
	for i := range 5 {
		p.Send(Record{Topic: "t", Partition: int32(i % 2), Value: []byte{byte(i)}, Headers: []kmsg.Header{hdr("i", fmt.Sprint(i))}})
	}
	h.advance(19)
	if n := len(requests[*kmsg.ProduceRequest](h)); n != base {
		t.Fatalf("%d produce requests before linger.ms ran out", n-base)
	}
	h.advance(1)
	reqs := requests[*kmsg.ProduceRequest](h)[base:]
	if len(reqs) != 1 {
		t.Fatalf("%d requests after linger.ms, want 1 with both partitions", len(reqs))
	}
	if at := sentAt[*kmsg.ProduceRequest](h); at[len(at)-1] != start+20 {
		t.Fatalf("sent at +%d, want +20", at[len(at)-1]-start)
	}
	got := batchesIn(t, reqs[0])
	if len(got[tp{"t", 0}]) != 3 || len(got[tp{"t", 1}]) != 2 {
		t.Fatalf("batches %v, want 3 records for partition 0 and 2 for 1", got)
	}
	if r := got[tp{"t", 1}][1]; r.Value[0] != 3 || string(r.Headers[0].Value) != "3" {
		t.Fatalf("record %+v", r)
	}
	// Offsets: partition 0 had the warm-up record at 0.
	want := map[tp][]int64{{"t", 0}: {0, 1, 2, 3}, {"t", 1}: {0, 1}}
	gotOff := map[tp][]int64{}
	for _, a := range eventsOf[core.RecordAcked](h) {
		gotOff[tp{a.Topic, a.Partition}] = append(gotOff[tp{a.Topic, a.Partition}], a.Offset)
	}
	if fmt.Sprint(gotOff) != fmt.Sprint(want) {
		t.Fatalf("ack offsets %v, want %v", gotOff, want)
	}
}

func TestProducerFullBatchGoesWithoutLinger(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{LingerMs: 1000, BatchSize: 1000})
	p.Send(Record{Topic: "t", Partition: 0})
	h.advance(1001) // metadata, then the lone record after linger
	base := len(requests[*kmsg.ProduceRequest](h))
	for range 12 { // 100-byte values, 109-byte records: 8 fit in 1000 bytes
		p.Send(Record{Topic: "t", Partition: 0, Value: make([]byte, 100)})
	}
	h.pump()
	reqs := requests[*kmsg.ProduceRequest](h)[base:]
	if len(reqs) != 1 {
		t.Fatalf("%d requests right after the batch filled, want 1", len(reqs))
	}
	if n := len(batchesIn(t, reqs[0])[tp{"t", 0}]); n != 8 {
		t.Fatalf("first batch has %d records, want 8", n)
	}
	if bs := p.Batches(); len(bs) != 1 || bs[0].Records != 4 || bs[0].InFlight {
		t.Fatalf("accumulator %+v, want one open batch of 4", bs)
	}
	if s := p.Stats(); s.Buffered != 4 || s.Acked != 9 {
		t.Fatalf("stats %+v", s)
	}
}

func TestProducerAcks(t *testing.T) {
	for _, c := range []struct {
		acks        Acks
		wire        int16
		wantOffsets []int64
	}{
		{0, -1, []int64{0, 1, 2}}, // the default is all
		{AcksAll, -1, []int64{0, 1, 2}},
		{AcksLeader, 1, []int64{0, 1, 2}},
		{AcksNone, 0, []int64{-1, -1, -1}},
	} {
		t.Run(c.acks.String(), func(t *testing.T) {
			f := newFakeCluster(1)
			f.addTopic("t", 1)
			p, h := newProducer(t, f, ProducerConfig{Acks: c.acks})
			for i := range 3 {
				p.Send(Record{Topic: "t", Partition: 0, Value: []byte{byte(i)}})
			}
			h.advance(10)
			reqs := requests[*kmsg.ProduceRequest](h)
			if len(reqs) != 1 || reqs[0].Acks != c.wire || reqs[0].TimeoutMillis != 30000 {
				t.Fatalf("requests %+v", reqs)
			}
			var offs []int64
			for _, a := range eventsOf[core.RecordAcked](h) {
				offs = append(offs, a.Offset)
			}
			if fmt.Sprint(offs) != fmt.Sprint(c.wantOffsets) {
				t.Fatalf("acked offsets %v, want %v", offs, c.wantOffsets)
			}
			if f.topics["t"].next[0] != 3 {
				t.Fatalf("broker has %d records", f.topics["t"].next[0])
			}
			if p.Pending() != 0 || p.nc.inflight(1) != 0 {
				t.Fatalf("pending %d, in flight %d", p.Pending(), p.nc.inflight(1))
			}
		})
	}
}

func TestParseAcks(t *testing.T) {
	for in, want := range map[string]Acks{"all": AcksAll, "-1": AcksAll, "1": AcksLeader, "0": AcksNone} {
		if got, err := ParseAcks(in); err != nil || got != want || got.String() != map[string]string{"all": "all", "-1": "all", "1": "1", "0": "0"}[in] {
			t.Errorf("ParseAcks(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseAcks("2"); err == nil {
		t.Error("acks=2 accepted")
	}
	if AcksNone.Wire() != 0 || Acks(0).Wire() != -1 {
		t.Error("wire values")
	}
}

func TestProducerRetriesNotLeaderWithMetadataRefresh(t *testing.T) {
	f := newFakeCluster(1, 2)
	f.addTopic("t", 1, 1)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(10)
	// Leadership moves to broker 2; the producer still believes in 1.
	f.topics["t"].leaders[0] = 2
	f.topics["t"].epoch = 1
	mdBefore := len(requests[*kmsg.MetadataRequest](h))
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("b")})
	h.advance(1000)
	retries := eventsOf[core.ProduceRetried](h)
	if len(retries) != 1 || retries[0].Error != "NOT_LEADER_OR_FOLLOWER" || retries[0].Attempt != 1 {
		t.Fatalf("retries %+v", retries)
	}
	if len(requests[*kmsg.MetadataRequest](h)) <= mdBefore {
		t.Fatal("no metadata refresh after NOT_LEADER_OR_FOLLOWER")
	}
	var to []core.NodeID
	var at []int64
	for _, s := range h.sent {
		if _, ok := s.env.Request.(*kmsg.ProduceRequest); ok {
			to, at = append(to, s.env.To), append(at, s.at)
		}
	}
	if fmt.Sprint(to) != "[1 1 2]" {
		t.Fatalf("produce requests went to %v, want the retry to the new leader 2", to)
	}
	// retry.backoff.ms 100 with 20% jitter.
	if d := at[2] - at[1]; d < 80 || d > 120 {
		t.Fatalf("retried after %d ms, want 100 ms +-20%%", d)
	}
	acks := eventsOf[core.RecordAcked](h)
	if len(acks) != 2 || acks[1].Offset != 1 || string(acks[1].Value) != "b" {
		t.Fatalf("acks %+v", acks)
	}
}

func TestProducerRetriableErrorsThenSuccess(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicas.Code, kerr.RequestTimedOut.Code}
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(2000)
	var errs []string
	for _, r := range eventsOf[core.ProduceRetried](h) {
		errs = append(errs, fmt.Sprintf("%s#%d", r.Error, r.Attempt))
	}
	if strings.Join(errs, ",") != "NOT_ENOUGH_REPLICAS#1,NOT_ENOUGH_REPLICAS#2,REQUEST_TIMED_OUT#3" {
		t.Fatalf("retries %v", errs)
	}
	at := sentAt[*kmsg.ProduceRequest](h)
	// Exponential backoff (KIP-580): ~100, ~200, ~400 ms, each +-20%.
	for i, want := range []int64{100, 200, 400} {
		if d := at[i+1] - at[i]; d < want*8/10 || d > want*12/10 {
			t.Errorf("backoff %d was %d ms, want %d +-20%%", i+1, d, want)
		}
	}
	if acks := eventsOf[core.RecordAcked](h); len(acks) != 1 || acks[0].Offset != 0 {
		t.Fatalf("acks %+v", acks)
	}
	if s := p.Stats(); s.Retries != 3 || s.Batches != 4 || s.Acked != 1 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestProducerNonRetriableFails(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.InvalidRecord.Code}
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(1000)
	fails := eventsOf[core.ProduceFailed](h)
	if len(fails) != 1 || fails[0].Error != "INVALID_RECORD" || string(fails[0].Value) != "a" {
		t.Fatalf("failures %+v", fails)
	}
	if len(eventsOf[core.ProduceRetried](h)) != 0 || len(requests[*kmsg.ProduceRequest](h)) != 1 {
		t.Fatal("a non-retriable error was retried")
	}
}

func TestProducerSplitsOnMessageTooLarge(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.MessageTooLarge.Code}
	// retries=0 does not stop the split: it is not a retry
	// (Sender.completeBatch splits before canRetry is asked).
	p, h := newProducer(t, f, ProducerConfig{BatchSize: 300, Retries: -1})
	for i := range 6 {
		p.Send(Record{Topic: "t", Partition: 0, Value: []byte(fmt.Sprint(i))})
	}
	p.Flush()
	h.advance(10)
	// Flush sent the six records as one batch; after MESSAGE_TOO_LARGE it
	// is split into batches of batch.size (as big as it already was here,
	// so one batch) and retried without backoff.
	reqs := requests[*kmsg.ProduceRequest](h)
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	acks := eventsOf[core.RecordAcked](h)
	if len(acks) != 6 || acks[5].Offset != 5 || string(acks[5].Value) != "5" {
		t.Fatalf("acks %+v", acks)
	}
}

func TestProducerRequestTimeoutReconnectsAndRetries(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{EnableIdempotence: IdempotenceOff})
	silent := true
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		_, isProduce := env.Request.(*kmsg.ProduceRequest)
		if isProduce && silent {
			f.answer(env) // written, but the answer is lost
			return nil, true
		}
		return nil, false
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(10)
	first := sentAt[*kmsg.ProduceRequest](h)[0]
	hsBefore := len(requests[*kmsg.ApiVersionsRequest](h))
	h.advance(30000 - (h.now - first))
	if len(eventsOf[core.ProduceRetried](h)) != 0 {
		t.Fatal("retried before request.timeout.ms")
	}
	silent = false
	h.advance(1)
	if r := eventsOf[core.ProduceRetried](h); len(r) != 1 || r[0].Error != "REQUEST_TIMED_OUT" {
		t.Fatalf("retries %+v", r)
	}
	h.advance(2000)
	// The timeout closed the connection: a new one starts with ApiVersions.
	if len(requests[*kmsg.ApiVersionsRequest](h)) != hsBefore+1 {
		t.Fatal("no new handshake after the request timed out")
	}
	// The broker wrote the first attempt too: without idempotence a retry
	// after a lost answer duplicates the record, and the ack names the copy.
	if acks := eventsOf[core.RecordAcked](h); len(acks) != 1 || acks[0].Offset != 1 {
		t.Fatalf("acks %+v", acks)
	}
	if f.topics["t"].next[0] != 2 {
		t.Fatalf("broker holds %d records, want the duplicate", f.topics["t"].next[0])
	}
}

func TestProducerDeliveryTimeout(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{})
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		if _, ok := env.Request.(*kmsg.ProduceRequest); ok {
			resp := f.answer(env).(*kmsg.ProduceResponse)
			resp.Topics[0].Partitions[0].ErrorCode = kerr.NotEnoughReplicas.Code
			return resp, true
		}
		return nil, false
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(119000)
	if len(eventsOf[core.ProduceFailed](h)) != 0 {
		t.Fatal("failed before delivery.timeout.ms")
	}
	h.advance(2000)
	fails := eventsOf[core.ProduceFailed](h)
	if len(fails) != 1 {
		t.Fatalf("failures %+v", fails)
	}
	// Depending on where the batch is when its time is up: answered with
	// the last error, or expired in the queue (Sender "Expiring 1 record(s)").
	if e := fails[0].Error; e != "NOT_ENOUGH_REPLICAS" && !strings.HasPrefix(e, "REQUEST_TIMED_OUT: Expiring 1 record(s) for t-0") {
		t.Fatalf("error %q", e)
	}
	retries := eventsOf[core.ProduceRetried](h)
	// With the default retries (Integer.MAX_VALUE) only delivery.timeout.ms
	// stops them. Backoff grows to retry.backoff.max.ms (1000 +-20%,
	// capped at 1000).
	if n := len(retries); n < 110 || n > 150 {
		t.Fatalf("%d retries in 120 s", n)
	}
	if len(eventsOf[core.RecordAcked](h)) != 0 || p.Pending() != 0 {
		t.Fatal("acked or still pending")
	}
}

func TestProducerMaxBlockForUnknownTopic(t *testing.T) {
	f := newFakeCluster(1)
	p, h := newProducer(t, f, ProducerConfig{MaxBlockMs: 3000})
	p.Send(Record{Topic: "missing", Partition: AnyPartition, Value: []byte("a")})
	h.advance(2999)
	if len(eventsOf[core.ProduceFailed](h)) != 0 || p.Stats().Waiting != 1 {
		t.Fatal("gave up before max.block.ms")
	}
	// The producer kept asking, with a growing backoff.
	if n := len(requests[*kmsg.MetadataRequest](h)); n < 4 {
		t.Fatalf("%d metadata requests", n)
	}
	h.advance(1)
	fails := eventsOf[core.ProduceFailed](h)
	if len(fails) != 1 || fails[0].Error != "REQUEST_TIMED_OUT: Topic missing not present in metadata after 3000 ms." {
		t.Fatalf("failures %+v", fails)
	}
}

func TestProducerTopicAppearsLater(t *testing.T) {
	f := newFakeCluster(1)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "late", Partition: AnyPartition, Key: []byte("k"), Value: []byte("a")})
	h.advance(500)
	f.addTopic("late", 3)
	h.advance(2000)
	acks := eventsOf[core.RecordAcked](h)
	if len(acks) != 1 || acks[0].Partition != KeyPartition([]byte("k"), 3) {
		t.Fatalf("acks %+v", acks)
	}
}

func TestProducerRejectsAtSend(t *testing.T) {
	for _, c := range []struct {
		name string
		rec  Record
		want string
	}{
		{"too large", Record{Topic: "t", Partition: 0, Value: make([]byte, 2000)}, "MESSAGE_TOO_LARGE: The message is 2070 bytes when serialized which is larger than 1000, which is the value of the max.request.size configuration."},
		{"bad partition", Record{Topic: "t", Partition: -5}, "INVALID_REQUEST: Invalid partition given with record: -5"},
		{"no topic", Record{Partition: 0}, "INVALID_TOPIC_EXCEPTION: a record needs a topic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeCluster(1)
			p, h := newProducer(t, f, ProducerConfig{MaxRequestSize: 1000})
			p.Send(c.rec)
			h.advance(1)
			if fails := eventsOf[core.ProduceFailed](h); len(fails) != 1 || fails[0].Error != c.want {
				t.Fatalf("failures %+v, want %q", fails, c.want)
			}
		})
	}
}

func TestProducerMaxInFlightOneMutesPartition(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{MaxInFlight: 1, BatchSize: 100})
	var held []core.Envelope
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		if _, ok := env.Request.(*kmsg.ProduceRequest); ok {
			held = append(held, env)
			return nil, true
		}
		return nil, false
	}
	for range 5 {
		p.Send(Record{Topic: "t", Partition: 0, Value: make([]byte, 60)}) // one record per batch
	}
	h.advance(50)
	if len(held) != 1 {
		t.Fatalf("%d produce requests in flight, want 1", len(held))
	}
	h.intercept = nil
	h.reply(held[0], f.answer(held[0]))
	h.advance(50)
	if acks := eventsOf[core.RecordAcked](h); len(acks) != 5 || acks[4].Offset != 4 {
		t.Fatalf("acks %+v", acks)
	}
}

func TestProducerConfigDefaults(t *testing.T) {
	c := ProducerConfig{Bootstrap: []core.NodeID{1}}.withDefaults()
	if c.Acks != AcksAll || c.LingerMs != 5 || c.BatchSize != 16384 || c.RequestTimeoutMs != 30000 ||
		c.RetryBackoffMs != 100 || c.Retries != math.MaxInt32 || c.DeliveryTimeoutMs != 120000 || c.MaxRequestSize != 1048576 || c.MaxInFlight != 5 {
		t.Fatalf("defaults %+v", c)
	}
	if c := (ProducerConfig{LingerMs: -1, BatchSize: -1}).withDefaults(); c.LingerMs != 0 || c.BatchSize != 0 {
		t.Fatalf("explicit zeros %+v", c)
	}
	if err := (ProducerConfig{Bootstrap: []core.NodeID{1}, DeliveryTimeoutMs: 1000}).Validate(); err == nil {
		t.Fatal("delivery.timeout.ms < linger.ms + request.timeout.ms accepted")
	}
	if err := (ProducerConfig{Bootstrap: []core.NodeID{1}, Acks: 2}).Validate(); err == nil {
		t.Fatal("acks=2 accepted")
	}
}

// retries=0: the first retriable error fails the batch (Sender.canRetry:
// attempts() < retries), and the application hears that error.
func TestProducerRetriesZeroFailsAtOnce(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.NotLeaderForPartition.Code}
	p, h := newProducer(t, f, ProducerConfig{Retries: -1})
	if c := p.Config(); c.Retries != 0 || c.EnableIdempotence != IdempotenceOff {
		t.Fatalf("retries %d, enable.idempotence %v; want 0 and off", c.Retries, c.EnableIdempotence)
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(1000)
	fails := eventsOf[core.ProduceFailed](h)
	if len(fails) != 1 || fails[0].Error != "NOT_LEADER_OR_FOLLOWER" || string(fails[0].Value) != "a" {
		t.Fatalf("failures %+v", fails)
	}
	if r := eventsOf[core.ProduceRetried](h); len(r) != 0 || len(requests[*kmsg.ProduceRequest](h)) != 1 {
		t.Fatalf("retried with retries=0: %+v", r)
	}
	// The producer goes on: the next record is delivered.
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("b")})
	h.advance(1000)
	if s := p.Stats(); s.Retries != 0 || s.Failed != 1 || s.Acked != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// retries=2: two retries, then the third error fails the batch with it.
func TestProducerRetriesLimit(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicas.Code}
	p, h := newProducer(t, f, ProducerConfig{Retries: 2})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(2000)
	var errs []string
	for _, r := range eventsOf[core.ProduceRetried](h) {
		errs = append(errs, fmt.Sprintf("%s#%d", r.Error, r.Attempt))
	}
	if strings.Join(errs, ",") != "NOT_ENOUGH_REPLICAS#1,NOT_ENOUGH_REPLICAS#2" {
		t.Fatalf("retries %v", errs)
	}
	if fails := eventsOf[core.ProduceFailed](h); len(fails) != 1 || fails[0].Error != "NOT_ENOUGH_REPLICAS" {
		t.Fatalf("failures %+v", fails)
	}
	if n := len(requests[*kmsg.ProduceRequest](h)); n != 3 {
		t.Fatalf("%d produce requests, want 3", n)
	}
}

// A request that times out closes the connection and fails with
// REQUEST_TIMED_OUT: with retries=0 that is the end of the batch, although
// the broker wrote it (at-most-once).
func TestProducerRetriesZeroRequestTimeout(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{Retries: -1})
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		if _, ok := env.Request.(*kmsg.ProduceRequest); ok {
			f.answer(env) // written, but the answer is lost
			return nil, true
		}
		return nil, false
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(32000)
	if fails := eventsOf[core.ProduceFailed](h); len(fails) != 1 || fails[0].Error != "REQUEST_TIMED_OUT" {
		t.Fatalf("failures %+v", fails)
	}
	if len(eventsOf[core.ProduceRetried](h)) != 0 || len(requests[*kmsg.ProduceRequest](h)) != 1 {
		t.Fatal("retried with retries=0")
	}
}

// The idempotent producer's sequence errors count against retries too
// (Sender.canRetry checks attempts before TransactionManager.canRetry).
func TestProducerRetriesLimitSequenceErrors(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 1)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.OutOfOrderSequenceNumber.Code, kerr.OutOfOrderSequenceNumber.Code}
	p, h := newProducer(t, f, ProducerConfig{Retries: 1, EnableIdempotence: IdempotenceOn})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(2000)
	if r := eventsOf[core.ProduceRetried](h); len(r) != 1 || r[0].Error != "OUT_OF_ORDER_SEQUENCE_NUMBER" {
		t.Fatalf("retries %+v", r)
	}
	if fails := eventsOf[core.ProduceFailed](h); len(fails) != 1 || fails[0].Error != "OUT_OF_ORDER_SEQUENCE_NUMBER" {
		t.Fatalf("failures %+v", fails)
	}
}

// Kafka's retries rules for enable.idempotence
// (ProducerConfig.postProcessAndValidateIdempotenceConfigs).
func TestProducerRetriesConfig(t *testing.T) {
	boot := []core.NodeID{1}
	for _, c := range []struct {
		cfg         ProducerConfig
		wantRetries int
		want        Idempotence
		wantErr     string
	}{
		{ProducerConfig{}, math.MaxInt32, IdempotenceOn, ""},
		{ProducerConfig{Retries: 3}, 3, IdempotenceOn, ""},
		// Unset enable.idempotence with retries=0: silently off.
		{ProducerConfig{Retries: -1}, 0, IdempotenceOff, ""},
		{ProducerConfig{Retries: -1, EnableIdempotence: IdempotenceOff}, 0, IdempotenceOff, ""},
		// Explicitly on: ConfigException, checked before acks.
		{ProducerConfig{Retries: -1, EnableIdempotence: IdempotenceOn}, 0, 0, "must set retries to non-zero when using the idempotent producer"},
		{ProducerConfig{Retries: -1, EnableIdempotence: IdempotenceOn, Acks: AcksLeader}, 0, 0, "must set retries to non-zero"},
		// max.in.flight > 5 is still refused: retries=0 turns idempotence
		// off only after the checks.
		{ProducerConfig{Retries: -1, MaxInFlight: 6}, 0, 0, "must be set to at most 5"},
		{ProducerConfig{Retries: math.MaxInt32 + 1}, 0, 0, "invalid value 2147483648 for configuration retries"},
	} {
		c.cfg.Bootstrap = boot
		err := c.cfg.Validate()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%+v: error %v, want %q", c.cfg, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", c.cfg, err)
			continue
		}
		if d := c.cfg.withDefaults(); d.Retries != c.wantRetries || d.EnableIdempotence != c.want {
			t.Errorf("%+v: retries %d, enable.idempotence %v; want %d, %v", c.cfg, d.Retries, d.EnableIdempotence, c.wantRetries, c.want)
		}
	}
}
