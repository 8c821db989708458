package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
)

const t0 = int64(1767225600000) // 2026-01-01

// harness drives one broker directly, as a host would, persisting every
// Ready into a store so that tests can reopen from it.
type harness struct {
	t      *testing.T
	n      *Node
	cfg    Config
	store  storage.Store
	now    int64
	corr   int32
	events []core.Event
}

func newHarness(t *testing.T, store storage.Store) *harness {
	t.Helper()
	if store == nil {
		store = storage.NewMemory()
	}
	h := &harness{t: t, cfg: DefaultConfig(1), store: store, now: t0}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	n, err := Open(h.cfg, h.store)
	if err != nil {
		h.t.Fatal(err)
	}
	h.n = n
	n.Tick(h.now)
	h.drain()
}

// drain handles the broker's Ready and returns its messages.
func (h *harness) drain() []core.Envelope {
	h.t.Helper()
	rd := h.n.Ready()
	if err := storage.Apply(h.store, rd.Writes); err != nil {
		h.t.Fatal(err)
	}
	h.events = append(h.events, rd.Events...)
	h.n.Advance()
	return rd.Messages
}

// do sends req and returns the response, or nil if the broker sent none.
func (h *harness) do(req kmsg.Request) kmsg.Response {
	h.t.Helper()
	h.corr++
	h.n.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: h.corr, Request: req})
	msgs := h.drain()
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		if msgs[0].CorrelationID != h.corr || msgs[0].To != core.ClientIDBase {
			h.t.Fatalf("response %v does not match request corr %d", msgs[0], h.corr)
		}
		return msgs[0].Response
	}
	h.t.Fatalf("%d responses to one request", len(msgs))
	return nil
}

func (h *harness) tick(ms int64) []core.Envelope {
	h.now += ms
	h.n.Tick(h.now)
	return h.drain()
}

func (h *harness) createTopic(name string, parts int32, configs map[string]string) {
	h.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, -1
	for k, v := range configs {
		rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(v)})
	}
	req.Topics = append(req.Topics, rt)
	resp := h.do(req).(*kmsg.CreateTopicsResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		h.t.Fatalf("create %s: %v", name, err)
	}
}

func batch(ts int64, kvs ...string) []byte {
	var recs []record.Record
	for i := 0; i+1 < len(kvs); i += 2 {
		recs = append(recs, record.Record{Timestamp: ts, Key: []byte(kvs[i]), Value: []byte(kvs[i+1])})
	}
	return record.Build(record.Batch{Records: recs})
}

func produceReq(acks int16, topic string, part int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, acks, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: part, Records: records}}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	return req
}

// produce sends one batch with acks=1 and returns the partition response.
func (h *harness) produce(topic string, part int32, records []byte) kmsg.ProduceResponseTopicPartition {
	h.t.Helper()
	resp := h.do(produceReq(1, topic, part, records)).(*kmsg.ProduceResponse)
	return resp.Topics[0].Partitions[0]
}

func fetchReq(topic string, part int32, offset int64, maxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes, req.MinBytes, req.SessionEpoch = 12, -1, 1<<20, 1, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = part, offset, maxBytes, -1
	rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	return req
}

func (h *harness) fetch(topic string, part int32, offset int64, maxBytes int32) kmsg.FetchResponseTopicPartition {
	h.t.Helper()
	resp := h.do(fetchReq(topic, part, offset, maxBytes)).(*kmsg.FetchResponse)
	return resp.Topics[0].Partitions[0]
}

// fetchedRecords decodes a fetch response's batches into offset -> "key=value".
func fetchedRecords(t *testing.T, data []byte) (offsets []int64, kvs []string) {
	t.Helper()
	_, err := record.Iterate(data, func(b kmsg.RecordBatch, _ []byte) bool {
		recs, err := record.StoredRecords(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			offsets = append(offsets, b.FirstOffset+int64(r.OffsetDelta))
			kvs = append(kvs, string(r.Key)+"="+string(r.Value))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return offsets, kvs
}

func (h *harness) listOffset(topic string, part int32, ts int64) (int64, int64, int16) {
	h.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 7, -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = part, ts, -1
	rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
	req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
	sp := h.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	return sp.Offset, sp.Timestamp, sp.ErrorCode
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).(*kerr.Error).Message
}
