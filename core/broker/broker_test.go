package broker

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

func TestApiVersions(t *testing.T) {
	h := newHarness(t, nil)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 3, "streamlab-test", "1.0"
	resp := h.do(req).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || resp.Version != 3 {
		t.Fatalf("v3: error %s version %d", errName(resp.ErrorCode), resp.Version)
	}
	got := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	if got[0] != [2]int16{3, 11} || got[1] != [2]int16{4, 12} || got[18] != [2]int16{0, 4} {
		t.Fatalf("advertised %v", got)
	}

	// A version from the future: v0 response, UNSUPPORTED_VERSION, ranges included (KIP-511).
	req.Version = 5
	resp = h.do(req).(*kmsg.ApiVersionsResponse)
	if resp.Version != 0 || resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Fatalf("future version: v%d %s %d keys", resp.Version, errName(resp.ErrorCode), len(resp.ApiKeys))
	}

	req.Version, req.ClientSoftwareName = 3, "bad name!"
	if resp = h.do(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("invalid software name: %s", errName(resp.ErrorCode))
	}
}

func TestUnsupportedVersionIsDropped(t *testing.T) {
	h := newHarness(t, nil)
	req := kmsg.NewPtrProduceRequest()
	req.Version = 2 // old message formats: Kafka 4 removed them (KIP-896)
	if resp := h.do(req); resp != nil {
		t.Fatalf("got a response to an unsupported version: %v", resp)
	}
	if len(h.events) == 0 {
		t.Fatal("no RequestFailed event")
	}
}

func TestCreateTopicsErrors(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("orders", 3, nil)
	long := strings.Repeat("x", 250)
	for _, tc := range []struct {
		name    string
		parts   int32
		rf      int16
		configs map[string]string
		want    *kerr.Error
	}{
		{"orders", 1, -1, nil, kerr.TopicAlreadyExists},
		{"bad/name", 1, -1, nil, kerr.InvalidTopicException},
		{"", 1, -1, nil, kerr.InvalidTopicException},
		{"..", 1, -1, nil, kerr.InvalidTopicException},
		{long, 1, -1, nil, kerr.InvalidTopicException},
		{"zero", 0, -1, nil, kerr.InvalidPartitions},
		{"rf3", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"rf0", 1, 0, nil, kerr.InvalidReplicationFactor},
		{"cfg", 1, -1, map[string]string{"no.such.config": "1"}, kerr.InvalidConfig},
		{"cfg", 1, -1, map[string]string{"retention.ms": "-2"}, kerr.InvalidConfig},
		{"cfg", 1, -1, map[string]string{"segment.bytes": "abc"}, kerr.InvalidConfig},
		{"cfg", 1, -1, map[string]string{"cleanup.policy": "compact,expire"}, kerr.InvalidConfig},
		{"ok", -1, -1, map[string]string{"retention.ms": "1000", "compression.type": "producer"}, nil},
	} {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = 7
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tc.name, tc.parts, tc.rf
		for k, v := range tc.configs {
			rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(v)})
		}
		req.Topics = []kmsg.CreateTopicsRequestTopic{rt}
		st := h.do(req).(*kmsg.CreateTopicsResponse).Topics[0]
		if got := kerr.ErrorForCode(st.ErrorCode); got != error(tc.want) && !(tc.want == nil && got == nil) {
			t.Errorf("%q parts=%d rf=%d %v: got %v, want %v", tc.name, tc.parts, tc.rf, tc.configs, got, tc.want)
		}
		if tc.want != nil && (st.ErrorMessage == nil || *st.ErrorMessage == "") {
			t.Errorf("%q: no error message", tc.name)
		}
		if tc.want == nil {
			if st.NumPartitions != 1 || st.ReplicationFactor != 1 {
				t.Errorf("defaults: %d partitions, rf %d", st.NumPartitions, st.ReplicationFactor)
			}
			cfg := map[string]string{}
			for _, c := range st.Configs {
				cfg[c.Name] = *c.Value
			}
			if cfg["retention.ms"] != "1000" || cfg["retention.bytes"] != "-1" || cfg["compression.type"] != "producer" {
				t.Errorf("configs %v", cfg)
			}
		}
	}
	// '.' and '_' collide (Topic.hasCollision).
	h.createTopic("a.b", 1, nil)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "a_b", NumPartitions: 1, ReplicationFactor: 1}}
	if st := h.do(req).(*kmsg.CreateTopicsResponse).Topics[0]; st.ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("collision: %s", errName(st.ErrorCode))
	}
}

func TestCreateTopicsValidateOnly(t *testing.T) {
	h := newHarness(t, nil)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.ValidateOnly = 7, true
	req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "dry", NumPartitions: 2, ReplicationFactor: 1}}
	if st := h.do(req).(*kmsg.CreateTopicsResponse).Topics[0]; st.ErrorCode != 0 {
		t.Fatal(errName(st.ErrorCode))
	}
	if h.n.topics["dry"] != nil {
		t.Fatal("validate_only created the topic")
	}
}

func TestMetadataAutoCreate(t *testing.T) {
	h := newHarness(t, nil)
	meta := func(allow bool, names ...string) *kmsg.MetadataResponse {
		req := kmsg.NewPtrMetadataRequest()
		req.Version, req.AllowAutoTopicCreation = 12, allow
		for _, n := range names {
			req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr(n)})
		}
		return h.do(req).(*kmsg.MetadataResponse)
	}
	if r := meta(false, "events"); r.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("no auto-create: %s", errName(r.Topics[0].ErrorCode))
	}
	if r := meta(true, "events"); r.Topics[0].ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Fatalf("auto-create: %s", errName(r.Topics[0].ErrorCode))
	}
	r := meta(true, "events")
	if r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].Leader != 1 {
		t.Fatalf("after auto-create: %+v", r.Topics[0])
	}
	if r.Brokers[0].NodeID != 1 || r.ControllerID != 1 || *r.ClusterID != "streamlab" {
		t.Fatalf("cluster: %+v", r)
	}
	if r := meta(true, "bad name"); r.Topics[0].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("invalid name: %s", errName(r.Topics[0].ErrorCode))
	}
	h.cfg.AutoCreateTopics = false
	h.n.cfg.AutoCreateTopics = false
	if r := meta(true, "other"); r.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("auto.create.topics.enable=false: %s", errName(r.Topics[0].ErrorCode))
	}
	// nil topics: all of them.
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	if r := h.do(req).(*kmsg.MetadataResponse); len(r.Topics) != 1 || *r.Topics[0].Topic != "events" {
		t.Fatalf("all topics: %+v", r.Topics)
	}
}

func TestProduceAssignsOffsets(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 2, nil)
	if sp := h.produce("t", 0, batch(t0, "a", "1", "b", "2")); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("first: %s base %d", errName(sp.ErrorCode), sp.BaseOffset)
	}
	if sp := h.produce("t", 0, batch(t0, "c", "3")); sp.BaseOffset != 2 || sp.LogStartOffset != 0 {
		t.Fatalf("second: base %d", sp.BaseOffset)
	}
	if sp := h.produce("t", 1, batch(t0, "d", "4")); sp.BaseOffset != 0 {
		t.Fatalf("other partition: base %d", sp.BaseOffset)
	}
	// acks=0: appended, but no response at all.
	if resp := h.do(produceReq(0, "t", 0, batch(t0, "e", "5"))); resp != nil {
		t.Fatalf("acks=0 answered: %v", resp)
	}
	// acks=all with one replica.
	resp := h.do(produceReq(-1, "t", 0, batch(t0, "f", "6"))).(*kmsg.ProduceResponse)
	if sp := resp.Topics[0].Partitions[0]; sp.BaseOffset != 4 {
		t.Fatalf("acks=all: base %d", sp.BaseOffset)
	}
	sp := h.fetch("t", 0, 0, 1<<20)
	offsets, kvs := fetchedRecords(t, sp.RecordBatches)
	if fmt.Sprint(offsets) != "[0 1 2 3 4]" || fmt.Sprint(kvs) != "[a=1 b=2 c=3 e=5 f=6]" || sp.HighWatermark != 5 {
		t.Fatalf("log: %v %v hw %d", offsets, kvs, sp.HighWatermark)
	}
}

// TestProduceOwnedRecords: the broker copies a request's records unless
// the envelope says they are its own (core.Envelope.Owned); either way the
// log holds what was sent, at its offsets.
func TestProduceOwnedRecords(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	h.produce("t", 0, batch(t0, "a", "1")) // the next batch goes at offset 1
	for _, owned := range []bool{false, true} {
		records := batch(t0, "b", "2")
		sent := bytes.Clone(records)
		h.corr++
		h.n.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: h.corr, Request: produceReq(1, "t", 0, records), Owned: owned})
		h.drain()
		if kept := !bytes.Equal(records, sent); kept != owned {
			t.Fatalf("owned=%v: the broker changed the request's records: %v", owned, kept)
		}
		offsets, kvs := fetchedRecords(t, h.fetch("t", 0, 0, 1<<20).RecordBatches)
		if last := len(offsets) - 1; offsets[last] != int64(last) || kvs[last] != "b=2" {
			t.Fatalf("owned=%v: log %v %v", owned, offsets, kvs)
		}
	}
}

func TestProduceErrors(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, map[string]string{"max.message.bytes": "200"})
	good := batch(t0, "k", "v")
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	two := append(append([]byte(nil), good...), good...)
	torn := good[:len(good)-3]
	for _, tc := range []struct {
		name    string
		acks    int16
		topic   string
		part    int32
		records []byte
		want    *kerr.Error
	}{
		{"unknown topic", 1, "nope", 0, good, kerr.UnknownTopicOrPartition},
		{"unknown partition", 1, "t", 7, good, kerr.UnknownTopicOrPartition},
		{"bad acks", 2, "t", 0, good, kerr.InvalidRequiredAcks},
		{"bad crc", 1, "t", 0, corrupt, kerr.CorruptMessage},
		{"torn", 1, "t", 0, torn, kerr.InvalidRecord}, // ProduceRequest.validateRecords
		{"two batches", 1, "t", 0, two, kerr.InvalidRecord},
		{"empty", 1, "t", 0, nil, kerr.InvalidRecord},
		{"too large", 1, "t", 0, batch(t0, "k", strings.Repeat("v", 300)), kerr.MessageTooLarge},
		{"future timestamp", 1, "t", 0, batch(t0+2*3600000, "k", "v"), kerr.InvalidTimestamp},
		{"unknown producer mid-sequence", 1, "t", 0, record.Build(record.Batch{Producer: &record.Producer{ID: 7, BaseSequence: 5}, Records: []record.Record{{Timestamp: t0}}}), kerr.UnknownProducerID},
	} {
		resp := h.do(produceReq(tc.acks, tc.topic, tc.part, tc.records)).(*kmsg.ProduceResponse)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != tc.want.Code {
			t.Errorf("%s: got %s, want %s", tc.name, errName(sp.ErrorCode), tc.want.Message)
		}
		if sp.BaseOffset != -1 {
			t.Errorf("%s: base offset %d on error", tc.name, sp.BaseOffset)
		}
	}
	// Nothing was appended: the next good batch gets offset 0.
	if sp := h.produce("t", 0, good); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("after errors: %s base %d", errName(sp.ErrorCode), sp.BaseOffset)
	}
}

func TestLogAppendTime(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	sp := h.produce("t", 0, batch(5, "k", "v"))
	if sp.LogAppendTime != h.now {
		t.Fatalf("LogAppendTime %d, want %d", sp.LogAppendTime, h.now)
	}
	fp := h.fetch("t", 0, 0, 1<<20)
	b, _, err := record.ParseBatch(fp.RecordBatches)
	if err != nil || b.MaxTimestamp != h.now || b.Attributes&0x8 == 0 {
		t.Fatalf("stored batch: %v max ts %d attrs %x", err, b.MaxTimestamp, b.Attributes)
	}
}

func TestFetch(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	for i := 0; i < 5; i++ {
		h.produce("t", 0, batch(t0, fmt.Sprint("k", i), strings.Repeat("v", 100)))
	}
	// From the middle of the log.
	sp := h.fetch("t", 0, 3, 1<<20)
	if offsets, _ := fetchedRecords(t, sp.RecordBatches); fmt.Sprint(offsets) != "[3 4]" {
		t.Fatalf("from 3: %v", offsets)
	}
	// max bytes smaller than one batch: the first batch still comes (KIP-74),
	// and never half a batch.
	sp = h.fetch("t", 0, 0, 10)
	if offsets, _ := fetchedRecords(t, sp.RecordBatches); fmt.Sprint(offsets) != "[0]" {
		t.Fatalf("max bytes 10: %v", offsets)
	}
	sp = h.fetch("t", 0, 0, int32(2*len(sp.RecordBatches)+10))
	if offsets, _ := fetchedRecords(t, sp.RecordBatches); fmt.Sprint(offsets) != "[0 1]" {
		t.Fatalf("max bytes for two: %v", offsets)
	}
	// At the log end: nothing, no error. Past it: OFFSET_OUT_OF_RANGE.
	if sp = h.fetch("t", 0, 5, 1<<20); sp.ErrorCode != 0 || len(sp.RecordBatches) != 0 || sp.HighWatermark != 5 {
		t.Fatalf("at end: %s %d bytes", errName(sp.ErrorCode), len(sp.RecordBatches))
	}
	if sp = h.fetch("t", 0, 6, 1<<20); sp.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("past end: %s", errName(sp.ErrorCode))
	}
	if sp = h.fetch("nope", 0, 0, 1<<20); sp.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown: %s", errName(sp.ErrorCode))
	}
}

func TestFetchLongPoll(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	req := fetchReq("t", 0, 0, 1<<20)
	req.MaxWaitMillis = 500
	h.corr++
	h.n.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: h.corr, Request: req})
	if msgs := h.drain(); len(msgs) != 0 {
		t.Fatal("an empty fetch was answered before MaxWaitMillis")
	}
	// A produce arrives: the parked fetch is answered with it.
	h.n.Step(core.Envelope{From: core.ClientIDBase + 1, To: 1, CorrelationID: 1, Request: produceReq(1, "t", 0, batch(t0, "k", "v"))})
	var fetched *kmsg.FetchResponse
	for _, m := range h.drain() {
		if fr, ok := m.Response.(*kmsg.FetchResponse); ok && m.CorrelationID == h.corr {
			fetched = fr
		}
	}
	if fetched == nil || len(fetched.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatal("parked fetch not answered with the new batch")
	}
	// Another poll at the end times out after MaxWaitMillis, empty.
	req = fetchReq("t", 0, 1, 1<<20)
	req.MaxWaitMillis = 500
	h.n.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: 99, Request: req})
	if len(h.drain()) != 0 || len(h.tick(499)) != 0 {
		t.Fatal("answered early")
	}
	if msgs := h.tick(1); len(msgs) != 1 || msgs[0].CorrelationID != 99 {
		t.Fatalf("not answered at the deadline: %v", msgs)
	}
}

func TestListOffsets(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	if off, _, code := h.listOffset("t", 0, -1); code != 0 || off != 0 {
		t.Fatalf("empty latest: %d %s", off, errName(code))
	}
	h.produce("t", 0, batch(t0+100, "a", "1", "b", "2"))
	h.produce("t", 0, batch(t0+300, "c", "3"))
	h.produce("t", 0, batch(t0+200, "d", "4"))
	for _, tc := range []struct {
		ts, wantOff, wantTs int64
	}{
		{-2, 0, -1},
		{-1, 4, -1},
		{-3, 2, t0 + 300},
		{t0, 0, t0 + 100},
		{t0 + 150, 2, t0 + 300},
		{t0 + 300, 2, t0 + 300},
		{t0 + 301, -1, -1},
	} {
		off, ts, code := h.listOffset("t", 0, tc.ts)
		if code != 0 || off != tc.wantOff || ts != tc.wantTs {
			t.Errorf("timestamp %d: offset %d ts %d %s, want %d %d", tc.ts, off, ts, errName(code), tc.wantOff, tc.wantTs)
		}
	}
	if _, _, code := h.listOffset("t", 3, -1); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown partition: %s", errName(code))
	}
}

// A consumer fetching between the high watermark and the log end gets an
// empty answer, not OFFSET_OUT_OF_RANGE (only past the log end is out of
// range: LocalLog.read); a new leader's high watermark lags its log.
func TestFetchAboveHighWatermarkIsEmpty(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	h.produce("t", 0, batch(1, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"))
	h.n.topics["t"].parts[0].hw = 2 // as on a leader whose followers lag
	if sp := h.fetch("t", 0, 3, 1<<20); sp.ErrorCode != 0 || len(sp.RecordBatches) != 0 || sp.HighWatermark != 2 {
		t.Errorf("fetch at 3 (hw 2, end 5): %s, %d bytes, hw %d", errName(sp.ErrorCode), len(sp.RecordBatches), sp.HighWatermark)
	}
	if sp := h.fetch("t", 0, 6, 1<<20); sp.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch past the log end: %s", errName(sp.ErrorCode))
	}
}
