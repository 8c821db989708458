package client

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

// fakeCluster answers a client's requests by hand, with just enough of a
// broker to check what the client does: which requests it sends, when, and
// what it makes of the answers. Tests change its state or intercept requests
// to inject errors and silence.
type fakeCluster struct {
	brokers  []core.NodeID
	versions map[int16][2]int16
	topics   map[string]*fakeTopic
	// produceErrs are error codes to answer, in turn, to produces to a
	// partition before accepting them.
	produceErrs map[tp][]int16
	// Idempotence, once supportIdempotence is called: producer ids handed
	// out, and per producer and partition the batches written.
	nextPID   int64
	producers map[pidPart]*fakeProducer
}

type pidPart struct {
	pid int64
	tp
}

// fakeProducer is a broker's ProducerStateEntry, reduced: the epoch and the
// last 5 batches (first sequence, last sequence, base offset).
type fakeProducer struct {
	epoch   int16
	batches [][3]int64
}

// supportIdempotence makes the brokers serve InitProducerId and check
// sequences as Kafka's ProducerAppendInfo does: a higher epoch starts at
// sequence 0, a lower one is refused.
func (f *fakeCluster) supportIdempotence() {
	f.versions[kmsg.InitProducerID.Int16()] = [2]int16{0, 4}
	f.nextPID = 7000
	f.producers = map[pidPart]*fakeProducer{}
}

// checkSequence answers an idempotent batch: a duplicate of one of the last
// 5 batches gets its base offset (dup), a gap an error.
func (f *fakeCluster) checkSequence(k tp, h kmsg.RecordBatch) (dupOffset int64, code int16) {
	if h.ProducerID < 0 || f.producers == nil {
		return -1, 0
	}
	e := f.producers[pidPart{h.ProducerID, k}]
	last := int64(h.FirstSequence) + int64(h.NumRecords) - 1
	switch {
	case e == nil && h.FirstSequence != 0:
		return -1, kerr.UnknownProducerID.Code
	case e == nil:
		return -1, 0
	case h.ProducerEpoch < e.epoch:
		return -1, kerr.InvalidProducerEpoch.Code
	case h.ProducerEpoch > e.epoch && h.FirstSequence != 0:
		return -1, kerr.OutOfOrderSequenceNumber.Code // a new epoch starts at 0
	case h.ProducerEpoch > e.epoch:
		return -1, 0
	}
	for _, b := range e.batches {
		if b[0] == int64(h.FirstSequence) && b[1] == last {
			return b[2], 0
		}
	}
	if want := e.batches[len(e.batches)-1][1] + 1; int64(h.FirstSequence) != want {
		return -1, kerr.OutOfOrderSequenceNumber.Code
	}
	return -1, 0
}

func (f *fakeCluster) noteSequence(k tp, h kmsg.RecordBatch, base int64) {
	if h.ProducerID < 0 || f.producers == nil {
		return
	}
	key := pidPart{h.ProducerID, k}
	e := f.producers[key]
	if e == nil || h.ProducerEpoch > e.epoch {
		e = &fakeProducer{epoch: h.ProducerEpoch}
		f.producers[key] = e
	}
	e.batches = append(e.batches, [3]int64{int64(h.FirstSequence), int64(h.FirstSequence) + int64(h.NumRecords) - 1, base})
	if len(e.batches) > 5 {
		e.batches = e.batches[1:]
	}
}

type fakeTopic struct {
	id      [16]byte
	err     int16 // Metadata topic error
	leaders []core.NodeID
	epoch   int32
	logs    [][][]byte // per partition, stored batches
	next    []int64
	start   []int64 // log start offsets
}

func newFakeCluster(brokers ...core.NodeID) *fakeCluster {
	return &fakeCluster{
		brokers: brokers,
		versions: map[int16][2]int16{
			kmsg.ApiVersions.Int16(): {0, 4},
			kmsg.Metadata.Int16():    {0, 12},
			kmsg.Produce.Int16():     {3, 11},
			kmsg.Fetch.Int16():       {4, 12},
			kmsg.ListOffsets.Int16(): {1, 7},
		},
		topics:      map[string]*fakeTopic{},
		produceErrs: map[tp][]int16{},
	}
}

// addTopic creates a topic whose partition i is led by leaders[i % len].
func (f *fakeCluster) addTopic(name string, partitions int, leaders ...core.NodeID) *fakeTopic {
	if len(leaders) == 0 {
		leaders = f.brokers[:1]
	}
	t := &fakeTopic{id: [16]byte{byte(len(f.topics) + 1), 0xab}}
	for i := 0; i < partitions; i++ {
		t.leaders = append(t.leaders, leaders[i%len(leaders)])
	}
	t.logs = make([][][]byte, partitions)
	t.next = make([]int64, partitions)
	t.start = make([]int64, partitions)
	f.topics[name] = t
	return t
}

// answer is what broker env.To says to env; nil for no answer.
func (f *fakeCluster) answer(env core.Envelope) kmsg.Response {
	node := env.To
	switch req := env.Request.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = req.Version
		if r := f.versions[req.Key()]; req.Version > r[1] {
			resp.Version, resp.ErrorCode = 0, kerr.UnsupportedVersion.Code
		}
		for _, k := range []int16{0, 1, 2, 3, 18, 22} {
			if r, ok := f.versions[k]; ok {
				resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: r[0], MaxVersion: r[1]})
			}
		}
		return resp
	case *kmsg.MetadataRequest:
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.Version = req.Version
		for _, b := range f.brokers {
			resp.Brokers = append(resp.Brokers, kmsg.MetadataResponseBroker{NodeID: int32(b)})
		}
		for _, rt := range req.Topics {
			out := kmsg.NewMetadataResponseTopic()
			out.Topic = rt.Topic
			t := f.topics[*rt.Topic]
			switch {
			case t == nil:
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case t.err != 0:
				out.ErrorCode = t.err
			default:
				out.TopicID = t.id
				for i, l := range t.leaders {
					p := kmsg.NewMetadataResponseTopicPartition()
					p.Partition, p.Leader, p.LeaderEpoch = int32(i), int32(l), t.epoch
					out.Partitions = append(out.Partitions, p)
				}
			}
			resp.Topics = append(resp.Topics, out)
		}
		return resp
	case *kmsg.ProduceRequest:
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = req.Version
		for _, rt := range req.Topics {
			ot := kmsg.ProduceResponseTopic{Topic: rt.Topic}
			for _, rp := range rt.Partitions {
				op := kmsg.NewProduceResponseTopicPartition()
				op.Partition = rp.Partition
				k := tp{rt.Topic, rp.Partition}
				t := f.topics[rt.Topic]
				switch {
				case t == nil || int(rp.Partition) >= len(t.leaders):
					op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case t.leaders[rp.Partition] != node:
					op.ErrorCode = kerr.NotLeaderForPartition.Code
				case len(f.produceErrs[k]) > 0:
					op.ErrorCode = f.produceErrs[k][0]
					f.produceErrs[k] = f.produceErrs[k][1:]
				default:
					h, _, err := record.ParseBatch(rp.Records)
					if err != nil {
						op.ErrorCode = kerr.CorruptMessage.Code
						break
					}
					if dup, code := f.checkSequence(k, h); code != 0 || dup >= 0 {
						op.ErrorCode, op.BaseOffset = code, dup
						break
					}
					raw := append([]byte(nil), rp.Records...)
					record.SetBaseOffset(raw, t.next[rp.Partition])
					op.BaseOffset = t.next[rp.Partition]
					f.noteSequence(k, h, op.BaseOffset)
					t.logs[rp.Partition] = append(t.logs[rp.Partition], raw)
					t.next[rp.Partition] += int64(h.NumRecords)
				}
				ot.Partitions = append(ot.Partitions, op)
			}
			resp.Topics = append(resp.Topics, ot)
		}
		if req.Acks == 0 {
			return nil
		}
		return resp
	case *kmsg.InitProducerIDRequest:
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.Version = req.Version
		resp.ProducerID, resp.ProducerEpoch = f.nextPID, 0
		f.nextPID++
		return resp
	case *kmsg.ListOffsetsRequest:
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		resp.Version = req.Version
		for _, rt := range req.Topics {
			ot := kmsg.ListOffsetsResponseTopic{Topic: rt.Topic}
			for _, rp := range rt.Partitions {
				op := kmsg.NewListOffsetsResponseTopicPartition()
				op.Partition = rp.Partition
				t := f.topics[rt.Topic]
				switch {
				case t == nil:
					op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case t.leaders[rp.Partition] != node:
					op.ErrorCode = kerr.NotLeaderForPartition.Code
				case rp.Timestamp == earliestTimestamp:
					op.Offset = t.start[rp.Partition]
				default:
					op.Offset = t.next[rp.Partition]
				}
				ot.Partitions = append(ot.Partitions, op)
			}
			resp.Topics = append(resp.Topics, ot)
		}
		return resp
	case *kmsg.FetchRequest:
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.Version = req.Version
		for _, rt := range req.Topics {
			name := rt.Topic
			if req.Version >= 13 {
				for n, t := range f.topics {
					if t.id == rt.TopicID {
						name = n
					}
				}
			}
			ot := kmsg.FetchResponseTopic{Topic: rt.Topic, TopicID: rt.TopicID}
			for _, rp := range rt.Partitions {
				op := kmsg.NewFetchResponseTopicPartition()
				op.Partition = rp.Partition
				t := f.topics[name]
				switch {
				case t == nil:
					op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case t.leaders[rp.Partition] != node:
					op.ErrorCode = kerr.NotLeaderForPartition.Code
				case rp.FetchOffset > t.next[rp.Partition] || rp.FetchOffset < t.start[rp.Partition]:
					op.ErrorCode = kerr.OffsetOutOfRange.Code
				default:
					op.HighWatermark = t.next[rp.Partition]
					op.LogStartOffset = t.start[rp.Partition]
					for _, raw := range t.logs[rp.Partition] {
						h, _, _ := record.ParseBatch(raw)
						if h.FirstOffset+int64(h.LastOffsetDelta) >= rp.FetchOffset {
							op.RecordBatches = append(op.RecordBatches, raw...)
						}
					}
				}
				ot.Partitions = append(ot.Partitions, op)
			}
			resp.Topics = append(resp.Topics, ot)
		}
		return resp
	}
	return nil
}

// hasData reports whether a fetch would return records or an error now.
func (f *fakeCluster) hasData(req *kmsg.FetchRequest, node core.NodeID) bool {
	resp := f.answer(core.Envelope{To: node, Request: req}).(*kmsg.FetchResponse)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || len(p.RecordBatches) > 0 {
				return true
			}
		}
	}
	return false
}

// harness drives one client machine against a fakeCluster with zero network
// latency and a 1 ms clock.
type harness struct {
	t       *testing.T
	m       core.Machine
	f       *fakeCluster
	now     int64
	events  []core.Event
	sent    []sentReq
	held    []heldFetch
	pending []core.Envelope
	// intercept, if set, sees every request first; handled means the
	// harness must not answer it (resp, if not nil, is delivered instead).
	intercept func(env core.Envelope) (resp kmsg.Response, handled bool)
}

type sentReq struct {
	at  int64
	env core.Envelope
}

type heldFetch struct {
	until int64
	env   core.Envelope
}

const t0 = int64(1_000_000)

func newHarness(t *testing.T, m core.Machine, f *fakeCluster) *harness {
	h := &harness{t: t, m: m, f: f, now: t0}
	h.start()
	return h
}

// start gives the machine its first tick.
func (h *harness) start() {
	h.m.Tick(h.now)
	h.pump()
}

func (h *harness) reply(env core.Envelope, resp kmsg.Response) {
	h.pending = append(h.pending, core.Envelope{From: env.To, To: env.From, CorrelationID: env.CorrelationID, Response: resp})
}

// pump handles the machine's Ready and delivers answers until it is quiet.
func (h *harness) pump() {
	for range 10000 {
		rd := h.m.Ready()
		h.m.Advance()
		h.events = append(h.events, rd.Events...)
		for _, env := range rd.Messages {
			h.sent = append(h.sent, sentReq{h.now, env})
			if h.intercept != nil {
				if resp, handled := h.intercept(env); handled {
					if resp != nil {
						h.reply(env, resp)
					}
					continue
				}
			}
			if fr, ok := env.Request.(*kmsg.FetchRequest); ok && !h.f.hasData(fr, env.To) {
				h.held = append(h.held, heldFetch{h.now + int64(fr.MaxWaitMillis), env})
				continue
			}
			if resp := h.f.answer(env); resp != nil {
				h.reply(env, resp)
			}
		}
		if len(h.pending) == 0 {
			return
		}
		q := h.pending
		h.pending = nil
		for _, e := range q {
			h.m.Step(e)
		}
	}
	h.t.Fatal("the machine never went quiet")
}

// advance moves the clock ms milliseconds, one at a time, answering long-
// polling fetches when data arrives or their wait is over.
func (h *harness) advance(ms int64) {
	for range ms {
		h.now++
		kept := h.held[:0]
		for _, hf := range h.held {
			if h.now >= hf.until || h.f.hasData(hf.env.Request.(*kmsg.FetchRequest), hf.env.To) {
				h.reply(hf.env, h.f.answer(hf.env))
				continue
			}
			kept = append(kept, hf)
		}
		h.held = kept
		q := h.pending
		h.pending = nil
		for _, e := range q {
			h.m.Step(e)
		}
		h.m.Tick(h.now)
		h.pump()
	}
}

// requests returns the requests of one API sent so far.
func requests[T kmsg.Request](h *harness) []T {
	var out []T
	for _, s := range h.sent {
		if r, ok := s.env.Request.(T); ok {
			out = append(out, r)
		}
	}
	return out
}

// sentAt returns the times requests of one API were sent.
func sentAt[T kmsg.Request](h *harness) []int64 {
	var out []int64
	for _, s := range h.sent {
		if _, ok := s.env.Request.(T); ok {
			out = append(out, s.at)
		}
	}
	return out
}

// eventsOf returns the events of one type, and forgets nothing.
func eventsOf[T core.Event](h *harness) []T {
	var out []T
	for _, e := range h.events {
		if x, ok := e.(T); ok {
			out = append(out, x)
		}
	}
	return out
}
