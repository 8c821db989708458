package client

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

// producedBatch is one batch of a ProduceRequest, header decoded.
type producedBatch struct {
	tp
	h kmsg.RecordBatch
}

// producedBatches lists every batch the producer sent, retries included.
func producedBatches(t *testing.T, h *harness) []producedBatch {
	t.Helper()
	var out []producedBatch
	for _, req := range requests[*kmsg.ProduceRequest](h) {
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				hdr, _, err := record.ParseBatch(rp.Records)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, producedBatch{tp{rt.Topic, rp.Partition}, hdr})
			}
		}
	}
	return out
}

func (b producedBatch) String() string {
	return fmt.Sprintf("%s:pid=%d,epoch=%d,seq=%d,n=%d", b.tp, b.h.ProducerID, b.h.ProducerEpoch, b.h.FirstSequence, b.h.NumRecords)
}

func TestIdempotenceConfig(t *testing.T) {
	boot := []core.NodeID{1}
	for _, c := range []struct {
		cfg     ProducerConfig
		want    Idempotence
		wantErr string
	}{
		{ProducerConfig{}, IdempotenceOn, ""}, // Kafka >= 3.0 (KIP-679)
		{ProducerConfig{Acks: AcksAll}, IdempotenceOn, ""},
		// acks set to 1 or 0 with enable.idempotence unset: silently off.
		{ProducerConfig{Acks: AcksLeader}, IdempotenceOff, ""},
		{ProducerConfig{Acks: AcksNone}, IdempotenceOff, ""},
		{ProducerConfig{EnableIdempotence: IdempotenceOff}, IdempotenceOff, ""},
		{ProducerConfig{EnableIdempotence: IdempotenceOff, MaxInFlight: 10}, IdempotenceOff, ""},
		// Explicitly on with a conflict: ConfigException.
		{ProducerConfig{EnableIdempotence: IdempotenceOn, Acks: AcksLeader}, 0, "must set acks to all"},
		// max.in.flight > 5 is refused even when idempotence is on by default.
		{ProducerConfig{MaxInFlight: 6}, 0, "must be set to at most 5. Current value is 6"},
		// ... even with acks=1, whose check comes first (Kafka 4.0; 3.x warned).
		{ProducerConfig{Acks: AcksLeader, MaxInFlight: 6}, 0, "must be set to at most 5"},
		{ProducerConfig{EnableIdempotence: 3}, 0, "invalid value 3 for configuration enable.idempotence"},
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
		if got := c.cfg.withDefaults().EnableIdempotence; got != c.want {
			t.Errorf("%+v: enable.idempotence %v, want %v", c.cfg, got, c.want)
		}
	}
}

func TestIdempotentProducerInitProducerID(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence() // InitProducerId 0-4
	f.addTopic("t", 1)
	var heldInit []core.Envelope
	p := NewProducer(ProducerConfig{ID: 1000, Bootstrap: []core.NodeID{1}})
	h := &harness{t: t, m: p, f: f, now: t0}
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		if _, ok := env.Request.(*kmsg.InitProducerIDRequest); ok && heldInit == nil {
			heldInit = append(heldInit, env)
			return nil, true
		}
		return nil, false
	}
	h.start()
	// Like the Java client's Sender, the producer asks for its id at once.
	if len(heldInit) != 1 {
		t.Fatalf("sent %d InitProducerId before any record", len(heldInit))
	}
	init := heldInit[0].Request.(*kmsg.InitProducerIDRequest)
	if init.Version != 4 || init.TransactionalID != nil || init.ProducerID != -1 || init.TransactionTimeoutMillis != math.MaxInt32 {
		t.Fatalf("InitProducerId %+v", init)
	}
	if _, _, ok := p.ProducerID(); ok {
		t.Fatal("a producer id before the answer")
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(100)
	if n := len(requests[*kmsg.ProduceRequest](h)); n != 0 {
		t.Fatalf("%d produce requests without a producer id", n)
	}
	h.reply(heldInit[0], f.answer(heldInit[0]))
	h.advance(10)
	var got []string
	for _, s := range h.sent {
		got = append(got, fmt.Sprintf("%s v%d", core.APIName(s.env.Key()), s.env.Request.GetVersion()))
	}
	if want := "ApiVersions v4,InitProducerID v4,Metadata v12,Produce v11"; strings.Join(got, ",") != want {
		t.Fatalf("requests %v, want %s", got, want)
	}
	if ev := eventsOf[core.ProducerIDAssigned](h); len(ev) != 1 || ev[0] != (core.ProducerIDAssigned{ProducerID: 7000, Epoch: 0, Broker: 1, Reason: "new producer"}) {
		t.Fatalf("events %+v", ev)
	}
	if b := producedBatches(t, h); len(b) != 1 || b[0].String() != "t-0:pid=7000,epoch=0,seq=0,n=1" {
		t.Fatalf("batches %v", b)
	}
	if id, epoch, ok := p.ProducerID(); !ok || id != 7000 || epoch != 0 || !p.Idempotent() {
		t.Fatalf("producer id %d epoch %d %v", id, epoch, ok)
	}
	if acks := eventsOf[core.RecordAcked](h); len(acks) != 1 || acks[0].Offset != 0 {
		t.Fatalf("acks %+v", acks)
	}
}

func TestIdempotentSequencesPerPartition(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 2)
	p, h := newProducer(t, f, ProducerConfig{})
	round := func(n0, n1 int) {
		for i := range n0 {
			p.Send(Record{Topic: "t", Partition: 0, Value: []byte{byte(i)}})
		}
		for i := range n1 {
			p.Send(Record{Topic: "t", Partition: 1, Value: []byte{byte(i)}})
		}
		p.Flush()
		h.advance(10)
	}
	round(3, 2)
	round(2, 1)
	round(0, 4)
	round(1, 0)
	// Each partition counts records from 0: the next base sequence is the
	// last one plus the batch's record count.
	want := "t-0:pid=7000,epoch=0,seq=0,n=3 t-0:pid=7000,epoch=0,seq=3,n=2 t-0:pid=7000,epoch=0,seq=5,n=1 " +
		"t-1:pid=7000,epoch=0,seq=0,n=2 t-1:pid=7000,epoch=0,seq=2,n=1 t-1:pid=7000,epoch=0,seq=3,n=4"
	if got := byPartition(producedBatches(t, h)); got != want {
		t.Fatalf("batches\n%s\nwant\n%s", got, want)
	}
	if s := p.Stats(); s.Acked != 13 || s.Retries != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// byPartition lists batches partition by partition, each in sending order.
func byPartition(bs []producedBatch) string {
	var parts []tp
	per := map[tp][]string{}
	for _, b := range bs {
		if per[b.tp] == nil {
			parts = append(parts, b.tp)
		}
		per[b.tp] = append(per[b.tp], b.String())
	}
	slices.SortFunc(parts, tp.compare)
	var out []string
	for _, k := range parts {
		out = append(out, per[k]...)
	}
	return strings.Join(out, " ")
}

func TestSequenceArithmetic(t *testing.T) {
	for _, c := range [][3]int32{
		{0, 1, 1}, {5, 3, 8}, {math.MaxInt32, 1, 0}, {math.MaxInt32 - 1, 3, 1}, {-1, 1, 0},
	} {
		if got := incrementSequence(c[0], c[1]); got != c[2] {
			t.Errorf("incrementSequence(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
	if seqDiff(0, math.MaxInt32) != 1 || seqDiff(math.MaxInt32, 0) != -1 || seqDiff(10, 3) != 7 || seqDiff(3, 10) != -7 {
		t.Error("seqDiff does not wrap")
	}
}

// The answer to a written batch is lost; the retry carries the same producer
// id, epoch and sequence, so the broker recognises it and answers with the
// original offset: one copy in the log. TestProducerRequestTimeoutReconnectsAndRetries
// is the same without idempotence, and writes the record twice.
func TestIdempotentRetryAfterLostResponse(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{})
	silent := true
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		if _, ok := env.Request.(*kmsg.ProduceRequest); ok && silent {
			silent = false
			f.answer(env) // written, but the answer is lost
			return nil, true
		}
		return nil, false
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(35000)
	if r := eventsOf[core.ProduceRetried](h); len(r) != 1 || r[0].Error != "REQUEST_TIMED_OUT" {
		t.Fatalf("retries %+v", r)
	}
	b := producedBatches(t, h)
	if len(b) != 2 || b[0].String() != "t-0:pid=7000,epoch=0,seq=0,n=1" || b[1].String() != b[0].String() {
		t.Fatalf("batches %v, want the same one twice", b)
	}
	if acks := eventsOf[core.RecordAcked](h); len(acks) != 1 || acks[0].Offset != 0 {
		t.Fatalf("acks %+v", acks)
	}
	if n := f.topics["t"].next[0]; n != 1 {
		t.Fatalf("broker holds %d records, want 1", n)
	}
	if n := len(requests[*kmsg.InitProducerIDRequest](h)); n != 1 {
		t.Fatalf("%d InitProducerId", n)
	}
}

// A broker without InitProducerId: the producer goes on without a producer
// id, as franz-go does, and says so.
func TestIdempotenceFallbackWithoutInitProducerID(t *testing.T) {
	f := newFakeCluster(1) // advertises no InitProducerId
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(10)
	if ev := eventsOf[core.IdempotenceDisabled](h); len(ev) != 1 || ev[0].Broker != 1 || !strings.Contains(ev[0].Reason, "InitProducerId") {
		t.Fatalf("events %+v", ev)
	}
	if n := len(requests[*kmsg.InitProducerIDRequest](h)); n != 0 {
		t.Fatalf("%d InitProducerId sent to a broker without it", n)
	}
	if b := producedBatches(t, h); len(b) != 1 || b[0].h.ProducerID != -1 || b[0].h.FirstSequence != -1 {
		t.Fatalf("batches %v", b)
	}
	if p.Idempotent() || len(eventsOf[core.RecordAcked](h)) != 1 {
		t.Fatal("not acked without idempotence")
	}
}

// holdProduces makes the harness keep ProduceRequests for the test to answer.
func holdProduces(h *harness) *[]core.Envelope {
	var held []core.Envelope
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		if _, ok := env.Request.(*kmsg.ProduceRequest); ok {
			held = append(held, env)
			return nil, true
		}
		return nil, false
	}
	return &held
}

// Two batches of a partition in flight: the first fails with a retriable
// error, so the second arrives out of order. The second is retried after the
// first, with the sequences they had: no new producer id, order kept.
func TestIdempotentRetriesKeepSequenceOrder(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{BatchSize: 100})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("first")})
	h.advance(10)
	held := holdProduces(h)
	p.Send(Record{Topic: "t", Partition: 0, Value: make([]byte, 60)}) // one batch each
	p.Send(Record{Topic: "t", Partition: 0, Value: make([]byte, 61)})
	h.advance(10)
	if len(*held) != 2 {
		t.Fatalf("%d requests in flight, want 2", len(*held))
	}
	f.produceErrs[tp{"t", 0}] = []int16{kerr.NotEnoughReplicas.Code}
	for _, env := range *held {
		h.reply(env, f.answer(env)) // NOT_ENOUGH_REPLICAS, then OUT_OF_ORDER_SEQUENCE_NUMBER
	}
	h.intercept = nil
	h.advance(1000)
	var errs []string
	for _, r := range eventsOf[core.ProduceRetried](h) {
		errs = append(errs, r.Error)
	}
	if strings.Join(errs, ",") != "NOT_ENOUGH_REPLICAS,OUT_OF_ORDER_SEQUENCE_NUMBER" {
		t.Fatalf("retries %v", errs)
	}
	var got []string
	for _, b := range producedBatches(t, h)[1:] {
		got = append(got, fmt.Sprint(b.h.FirstSequence))
	}
	if strings.Join(got, " ") != "1 2 1 2" {
		t.Fatalf("sequences sent %v, want 1 2 then again 1 2", got)
	}
	acks := eventsOf[core.RecordAcked](h)
	if len(acks) != 3 || len(acks[1].Value) != 60 || acks[1].Offset != 1 || acks[2].Offset != 2 {
		t.Fatalf("acks %+v", acks)
	}
	if n := len(requests[*kmsg.InitProducerIDRequest](h)); n != 1 {
		t.Fatalf("%d InitProducerId, want no new producer id", n)
	}
}

// OUT_OF_ORDER_SEQUENCE_NUMBER for the next expected batch: the broker's log
// has a gap. The producer bumps its epoch itself (KIP-360), with no request,
// and resends the batch from sequence 0.
func TestIdempotentGapBumpsEpoch(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 2)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("x")})
	h.advance(10)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.OutOfOrderSequenceNumber.Code}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("b")})
	h.advance(10)
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("y")})
	h.advance(1000)
	ev := eventsOf[core.ProducerEpochBumped](h)
	if len(ev) != 1 || ev[0] != (core.ProducerEpochBumped{ProducerID: 7000, Epoch: 1,
		Reason: "OUT_OF_ORDER_SEQUENCE_NUMBER for t-0 at sequence 1: the broker's log has a gap"}) {
		t.Fatalf("events %+v", ev)
	}
	if n := len(requests[*kmsg.InitProducerIDRequest](h)); n != 1 {
		t.Fatalf("%d InitProducerId, want none for the bump", n)
	}
	// Every partition starts again at 0 under the new epoch.
	want := "t-0:pid=7000,epoch=0,seq=0,n=1 t-0:pid=7000,epoch=0,seq=1,n=1 t-0:pid=7000,epoch=1,seq=0,n=1 " +
		"t-1:pid=7000,epoch=0,seq=0,n=1 t-1:pid=7000,epoch=1,seq=0,n=1"
	if got := byPartition(producedBatches(t, h)); got != want {
		t.Fatalf("batches\n%s\nwant\n%s", got, want)
	}
	if s := p.Stats(); s.Acked != 4 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A batch whose answer was lost may be in the log. If the producer has to
// start over with a new epoch meanwhile, resending it could write it twice:
// it fails instead, and the log keeps its one copy.
func TestIdempotentUnsafeBatchFailsAfterEpochBump(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 2)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("x")})
	h.advance(10)
	lost := false
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		req, ok := env.Request.(*kmsg.ProduceRequest)
		if !ok {
			return nil, false
		}
		resp := f.answer(env).(*kmsg.ProduceResponse)
		switch req.Topics[0].Partitions[0].Partition {
		case 0:
			return nil, true // written, the answer is lost
		default:
			if !lost {
				// The broker lost the producer's state for partition 1.
				lost = true
				resp.Topics[0].Partitions[0].ErrorCode = kerr.UnknownProducerID.Code
			}
			return resp, true
		}
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("b")})
	h.advance(10)
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("y")})
	h.advance(40000)
	ev := eventsOf[core.ProducerEpochBumped](h)
	if len(ev) != 1 || ev[0].Epoch != 1 || !strings.HasPrefix(ev[0].Reason, "UNKNOWN_PRODUCER_ID for t-1") {
		t.Fatalf("events %+v", ev)
	}
	fails := eventsOf[core.ProduceFailed](h)
	if len(fails) != 1 || string(fails[0].Value) != "b" ||
		!strings.HasPrefix(fails[0].Error, "REQUEST_TIMED_OUT: the batch was sent as producer id 7000 epoch 0, which the producer left after UNKNOWN_PRODUCER_ID") {
		t.Fatalf("failures %+v", fails)
	}
	if n := f.topics["t"].next[0]; n != 2 {
		t.Fatalf("partition 0 holds %d records, want a and b once", n)
	}
	acks := eventsOf[core.RecordAcked](h)
	if len(acks) != 3 || string(acks[2].Value) != "y" {
		t.Fatalf("acks %+v", acks)
	}
}

// TestIdempotentNotLeaderAfterAppendFailsAfterEpochBump: a leader that
// appended a batch and lost its leadership while it waited for the ISR
// answers NOT_LEADER_OR_FOLLOWER, yet the batch may be in the log (the new
// leader has it if it had replicated it). Once the producer has a new
// producer id, resending it would write it twice: it fails instead. (The
// failover simulation found it: seed 203 of rf3-acks-all-minisr2 had a
// record twice.)
func TestIdempotentNotLeaderAfterAppendFailsAfterEpochBump(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 2)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("x")})
	h.advance(10)
	var notLeader *kmsg.ProduceResponse
	lost := false
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		req, ok := env.Request.(*kmsg.ProduceRequest)
		if !ok {
			return nil, false
		}
		if req.Topics[0].Partitions[0].Partition == 0 {
			if notLeader == nil { // written once, then every answer says not leader
				notLeader = f.answer(env).(*kmsg.ProduceResponse)
				notLeader.Topics[0].Partitions[0].ErrorCode = kerr.NotLeaderForPartition.Code
			}
			return notLeader, true
		}
		resp := f.answer(env).(*kmsg.ProduceResponse)
		if !lost && notLeader != nil {
			lost = true // the broker lost the producer's state for partition 1
			resp.Topics[0].Partitions[0].ErrorCode = kerr.UnknownProducerID.Code
		}
		return resp, true
	}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("b")})
	h.advance(10)
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("y")})
	h.advance(40000)
	fails := eventsOf[core.ProduceFailed](h)
	if len(fails) != 1 || string(fails[0].Value) != "b" ||
		!strings.HasPrefix(fails[0].Error, "NOT_LEADER_OR_FOLLOWER: the batch was sent as producer id 7000 epoch 0, which the producer left") {
		t.Fatalf("failures %+v", fails)
	}
	if n := f.topics["t"].next[0]; n != 2 {
		t.Fatalf("partition 0 holds %d records, want a and b once", n)
	}
}

// Gaps in two partitions in one answer make one bump, not two.
func TestIdempotentGapsInOneAnswerBumpOnce(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 2)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("x")})
	h.advance(10)
	f.produceErrs[tp{"t", 0}] = []int16{kerr.OutOfOrderSequenceNumber.Code}
	f.produceErrs[tp{"t", 1}] = []int16{kerr.OutOfOrderSequenceNumber.Code}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("b")})
	p.Send(Record{Topic: "t", Partition: 1, Value: []byte("y")})
	h.advance(1000)
	if ev := eventsOf[core.ProducerEpochBumped](h); len(ev) != 1 || ev[0].Epoch != 1 {
		t.Fatalf("bumps %+v, want one to epoch 1", ev)
	}
	if s := p.Stats(); s.Acked != 4 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// At the last epoch (32767) the producer cannot bump: it asks InitProducerId
// for a fresh producer id (resetIdempotentProducerId).
func TestIdempotentLastEpochAsksNewProducerID(t *testing.T) {
	f := newFakeCluster(1)
	f.supportIdempotence()
	f.addTopic("t", 1)
	p, h := newProducer(t, f, ProducerConfig{})
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("a")})
	h.advance(10)
	p.idem.epoch = math.MaxInt16 // as if bumped 32767 times
	f.produceErrs[tp{"t", 0}] = []int16{kerr.OutOfOrderSequenceNumber.Code}
	p.Send(Record{Topic: "t", Partition: 0, Value: []byte("b")})
	h.advance(1000)
	if ev := eventsOf[core.ProducerEpochBumped](h); len(ev) != 0 {
		t.Fatalf("bumps %+v past the last epoch", ev)
	}
	ev := eventsOf[core.ProducerIDAssigned](h)
	if len(ev) != 2 || ev[1].ProducerID != 7001 || ev[1].Epoch != 0 || !strings.HasPrefix(ev[1].Reason, "OUT_OF_ORDER_SEQUENCE_NUMBER for t-0") {
		t.Fatalf("producer ids %+v, want a fresh one", ev)
	}
	if s := p.Stats(); s.Acked != 2 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}
