package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/record/recordtest"
	"github.com/streamlab/streamlab/core/storage"
)

// fuzzKeys are the API keys the broker implements; the first fuzz byte picks
// one.
var fuzzKeys = []int16{
	kmsg.Produce.Int16(), kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16(),
	kmsg.Metadata.Int16(), kmsg.ApiVersions.Int16(), kmsg.CreateTopics.Int16(),
	kmsg.DeleteTopics.Int16(), kmsg.OffsetForLeaderEpoch.Int16(), kmsg.InitProducerID.Int16(),
}

const (
	fuzzCorr   = int32(1 << 30) // the fuzzed request's correlation id
	fuzzClient = core.ClientIDBase
	checker    = core.ClientIDBase + 1 // sends the requests that check the broker afterwards
	fuzzDay    = int64(24 * 60 * 60 * 1000)
)

// fuzzRequest decodes a fuzz input: byte 0 picks the API key, byte 1 the
// version (any version kmsg knows, supported or not), the rest is the body.
func fuzzRequest(data []byte) kmsg.Request { return buildRequest(data, decode) }

// buildRequest is fuzzRequest with the body decoder as a parameter: the named
// seeds are known-good encodings and decode directly, so a slow fuzz input
// still being decoded in the background cannot make them look undecodable.
func buildRequest(data []byte, decode func(kmsg.Request, []byte) bool) kmsg.Request {
	if len(data) < 2 {
		return nil
	}
	req := kmsg.RequestForKey(fuzzKeys[int(data[0])%len(fuzzKeys)])
	req.SetVersion(int16(data[1]) % (req.MaxVersion() + 1))
	if !decode(req, data[2:]) {
		return nil
	}
	if ct, ok := req.(*kmsg.CreateTopicsRequest); ok {
		// The broker takes up to 10000 partitions per topic and any
		// number of topics per request: a fuzz input could ask for
		// millions of partition logs and stall the worker. Keep each
		// run small.
		total := 0
		for _, t := range ct.Topics {
			total += max(int(t.NumPartitions), len(t.ReplicaAssignment), 1)
		}
		if total > 1000 {
			return nil
		}
	}
	if pr, ok := req.(*kmsg.ProduceRequest); ok {
		for i := range pr.Topics {
			for j := range pr.Topics[i].Partitions {
				p := &pr.Topics[i].Partitions[j]
				p.Records = recordtest.FixCRCs(append([]byte(nil), p.Records...))
			}
		}
	}
	return req
}

// slowDecodes counts decodes left running in the background by decode.
var slowDecodes atomic.Int32

// decode reads body into req and reports whether it decoded.
//
// kmsg v1.15.0 reads the tagged-field count of flexible versions as a uvarint
// and loops that many times even after the input is exhausted
// (internalReadTags): a body of a few dozen bytes can keep ReadFrom busy for
// seconds (about 5 s natively for a count near 2^32), which the fuzzing
// engine takes for a hung worker. That happens in kmsg, before the broker
// sees anything, so such inputs are skipped. Only a uvarint of four bytes or
// more (a count of 2^21 or more) costs noticeable time, so bodies without
// three consecutive bytes >= 0x80 decode directly; the others decode in a
// goroutine that is abandoned, still running, after 2 s, and while one is
// running they are skipped.
func decode(req kmsg.Request, body []byte) bool {
	run, long := 0, false
	for _, c := range body {
		if c >= 0x80 {
			run++
			long = long || run >= 3
		} else {
			run = 0
		}
	}
	if !req.IsFlexible() || !long {
		return req.ReadFrom(body) == nil
	}
	if slowDecodes.Load() > 0 {
		return false
	}
	done := make(chan error, 1)
	slowDecodes.Add(1)
	go func() {
		defer slowDecodes.Add(-1)
		done <- req.ReadFrom(body)
	}()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(2 * time.Second): // generous: -race on a loaded machine is slow
		return false
	}
}

// seedInput encodes req as a fuzz input.
func seedInput(req kmsg.Request) []byte {
	idx := -1
	for i, k := range fuzzKeys {
		if k == req.Key() {
			idx = i
		}
	}
	return append([]byte{byte(idx), byte(req.GetVersion())}, req.AppendTo(nil)...)
}

func stepSeeds() [][]byte {
	var seeds [][]byte
	add := func(req kmsg.Request) { seeds = append(seeds, seedInput(req)) }

	add(produceReq(1, "t", 0, batch(t0, "k", "v")))
	add(produceReq(0, "t", 0, batch(t0, "k", "v")))
	add(produceReq(-1, "t", 1, batch(t0+1, "a", "1", "b", "2")))
	gz := record.Build(record.Batch{Compression: record.Gzip, Records: []record.Record{{Timestamp: t0, Key: []byte("k"), Value: []byte("v")}}})
	add(produceReq(1, "t", 0, gz))
	notSnappy := batch(t0, "k", "v") // records said to be snappy and not: CORRUPT_MESSAGE
	binary.BigEndian.PutUint16(notSnappy[21:], uint16(record.Snappy))
	add(produceReq(1, "t", 0, recordtest.FixCRCs(notSnappy)))
	for _, c := range []record.Compression{record.Snappy, record.LZ4, record.Zstd} {
		add(produceReq(1, "t", 0, record.Build(record.Batch{Compression: c, Records: []record.Record{{Timestamp: t0, Key: []byte("k"), Value: []byte("v")}}})))
	}
	p := produceReq(1, "t", 0, batch(t0, "k", "v"))
	p.Version = 3
	add(p)
	p = produceReq(1, "t", 0, batch(t0, "k", "v"))
	p.Version = 11
	add(p)
	add(produceReq(1, "nope", 0, batch(t0, "k", "v")))

	add(fetchReq("t", 0, 0, 1<<20))
	add(fetchReq("t", 1, 2, 10))
	f := fetchReq("t", 0, 3, 1<<20)
	f.MaxWaitMillis, f.MinBytes = 500, 1 // parks until the next produce
	add(f)
	f = fetchReq("t", 0, 0, 1<<20)
	f.Version, f.MaxWaitMillis, f.MinBytes = 4, 100000, 1<<20
	add(f)

	for _, ts := range []int64{-1, -2, -3, t0} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = 7, -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch = ts, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		add(req)
	}

	m := kmsg.NewPtrMetadataRequest()
	m.Version, m.AllowAutoTopicCreation = 12, true
	m.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("auto")}, {Topic: kmsg.StringPtr("t")}}
	add(m)
	m = kmsg.NewPtrMetadataRequest()
	m.Version = 10
	m.Topics = []kmsg.MetadataRequestTopic{{TopicID: [16]byte{1}}}
	add(m)
	m = kmsg.NewPtrMetadataRequest()
	m.Version = 0
	add(m)

	for _, v := range []int16{0, 3, 4} {
		a := kmsg.NewPtrApiVersionsRequest()
		a.Version, a.ClientSoftwareName, a.ClientSoftwareVersion = v, "fuzz", "1.0"
		add(a)
	}

	c := kmsg.NewPtrCreateTopicsRequest()
	c.Version = 7
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "new", 2, -1
	ct.Configs = []kmsg.CreateTopicsRequestTopicConfig{
		{Name: "segment.bytes", Value: kmsg.StringPtr("100")},
		{Name: "message.timestamp.type", Value: kmsg.StringPtr("LogAppendTime")},
	}
	c.Topics = append(c.Topics, ct)
	add(c)
	c = kmsg.NewPtrCreateTopicsRequest()
	c.Version = 0
	c.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}
	add(c)
	return seeds
}

// fuzzHarness is a broker with topic "t": partition 0 holds offsets 0..3 in
// three batches, partition 1 offsets 0..1.
func fuzzHarness(t *testing.T) *harness {
	h := newHarness(t, nil)
	h.createTopic("t", 2, nil)
	h.produce("t", 0, batch(t0, "a", "1"))
	h.produce("t", 0, batch(t0+1, "b", "2", "c", "3"))
	h.produce("t", 0, batch(t0+2, "d", "4"))
	h.produce("t", 1, batch(t0, "e", "5", "f", "6"))
	return h
}

// FuzzStep hands the broker one arbitrary request of an API it implements
// and checks that it keeps its promises: no panic, at most one response,
// carrying the request's correlation id and encodable at its version, none
// for an unsupported version or an acks=0 produce; every write it asks for
// can be applied; it keeps serving the existing topic with consecutive
// offsets; and a broker reopened from the store finds exactly the same logs
// without recovering anything.
//
// Run: go test -run=^$ -fuzz=FuzzStep -fuzztime=60s ./core/broker
func FuzzStep(f *testing.F) {
	for _, s := range stepSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := fuzzRequest(data)
		if req == nil {
			return
		}
		h := fuzzHarness(t)
		checkStep(t, h, req)
	})
}

// checkStep steps req into h and verifies the broker's invariants.
func checkStep(t *testing.T, h *harness, req kmsg.Request) {
	t.Helper()
	r, ok := supported[req.Key()]
	v := req.GetVersion()
	unsupported := req.Key() != kmsg.ApiVersions.Int16() && (!ok || v < r[0] || v > r[1])
	acks0 := false
	if pr, ok := req.(*kmsg.ProduceRequest); ok {
		acks0 = pr.Acks == 0
	}
	fr, isFetch := req.(*kmsg.FetchRequest)

	h.n.Step(core.Envelope{From: fuzzClient, To: 1, CorrelationID: fuzzCorr, ClientID: "fuzz", Request: req})
	answers := checkMessages(t, req, h.drain())
	switch {
	case unsupported || acks0:
		if answers != 0 {
			t.Fatalf("%s v%d (acks=0 %v): answered", core.APIName(req.Key()), v, acks0)
		}
	case isFetch:
		// 0 if parked.
	case answers != 1:
		t.Fatalf("%s v%d: %d responses", core.APIName(req.Key()), v, answers)
	}

	// More traffic: a produce (which serves parked fetches) and time
	// short of the retention check. A fuzzed DeleteTopics may have removed
	// "t": then it must be creatable again, from offset 0.
	if h.n.partition("t", 0) == nil {
		h.createTopic("t", 2, nil)
	}
	p := h.n.partition("t", 0)
	end := p.log.LogEndOffset()
	h.n.Step(core.Envelope{From: checker, To: 1, CorrelationID: 1, Request: produceReq(1, "t", 0, batch(h.now, "after", "fuzz"))})
	var produced *kmsg.ProduceResponse
	for _, m := range h.drain() {
		if m.To == checker && m.CorrelationID == 1 {
			produced, _ = m.Response.(*kmsg.ProduceResponse)
			continue
		}
		answers += checkMessages(t, req, []core.Envelope{m})
	}
	if produced == nil {
		t.Fatal("no response to a produce after the fuzzed request")
	}
	if sp := produced.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.BaseOffset != end {
		t.Fatalf("produce after the fuzzed request: %s at %d, want offset %d", errName(sp.ErrorCode), sp.BaseOffset, end)
	}
	answers += checkMessages(t, req, h.tick(299000))
	if answers > 1 {
		t.Fatalf("%d responses to one request", answers)
	}
	if isFetch && !unsupported && answers == 0 && fr.MaxWaitMillis <= 299000 {
		t.Fatalf("fetch with MaxWaitMillis %d not answered after 299 s", fr.MaxWaitMillis)
	}

	for i := range int32(2) {
		checkPartition(t, h, "t", i)
	}
	checkReopen(t, h)
}

// checkMessages checks the broker's messages to the fuzz client and returns
// how many there were.
func checkMessages(t *testing.T, req kmsg.Request, msgs []core.Envelope) int {
	t.Helper()
	n := 0
	for _, m := range msgs {
		if m.To != fuzzClient || m.CorrelationID != fuzzCorr || m.From != 1 {
			t.Fatalf("unexpected message %v", m)
		}
		n++
		resp := m.Response
		if resp == nil || m.Request != nil || resp.Key() != req.Key() {
			t.Fatalf("answer %v to a %s request", m, core.APIName(req.Key()))
		}
		if resp.GetVersion() != req.GetVersion() && req.Key() != kmsg.ApiVersions.Int16() {
			t.Fatalf("v%d response to a v%d request", resp.GetVersion(), req.GetVersion())
		}
		// What a host will put on the wire must decode again.
		wire := resp.AppendTo(nil)
		back := kmsg.ResponseForKey(resp.Key())
		back.SetVersion(resp.GetVersion())
		if err := back.ReadFrom(wire); err != nil {
			t.Fatalf("%s v%d response does not decode: %v", core.APIName(resp.Key()), resp.GetVersion(), err)
		}
	}
	return n
}

// checkPartition fetches a partition from its log start and checks that the
// batches parse, decode, carry their records' max timestamp and hold every
// offset from the log start to the high watermark, which is the log end.
func checkPartition(t *testing.T, h *harness, topic string, part int32) {
	t.Helper()
	p := h.n.partition(topic, part)
	start, end := p.log.LogStartOffset(), p.log.LogEndOffset()
	h.n.Step(core.Envelope{From: checker, To: 1, CorrelationID: 2, Request: fetchReq(topic, part, start, 1<<30)})
	var sp *kmsg.FetchResponseTopicPartition
	for _, m := range h.drain() {
		if fr, ok := m.Response.(*kmsg.FetchResponse); ok && m.To == checker {
			sp = &fr.Topics[0].Partitions[0]
		}
	}
	if sp == nil {
		t.Fatalf("%s-%d: no fetch response", topic, part)
	}
	if sp.ErrorCode != 0 || sp.HighWatermark != end || sp.LogStartOffset != start {
		t.Fatalf("%s-%d: fetch from %d: %s, hw %d log start %d (log [%d, %d))", topic, part, start, errName(sp.ErrorCode), sp.HighWatermark, sp.LogStartOffset, start, end)
	}
	next := start
	valid, err := record.Iterate(sp.RecordBatches, func(b kmsg.RecordBatch, _ []byte) bool {
		if b.FirstOffset != next || b.LastOffsetDelta < 0 {
			t.Fatalf("%s-%d: batch [%d +%d] where offset %d was expected", topic, part, b.FirstOffset, b.LastOffsetDelta, next)
		}
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		switch c := record.CompressionOf(b.Attributes); c {
		case record.None, record.Gzip:
		case record.Snappy, record.LZ4, record.Zstd:
			return true // a codec Streamlab passes through without reading
		default:
			t.Fatalf("%s-%d: stored batch at %d has compression id %d, which no client can read", topic, part, b.FirstOffset, c)
		}
		recs, err := record.StoredRecords(b)
		if err != nil {
			t.Fatalf("%s-%d: stored batch at %d does not decode: %v", topic, part, b.FirstOffset, err)
		}
		maxTS := int64(-1)
		for _, r := range recs {
			maxTS = max(maxTS, record.RecordTimestamp(b, r))
		}
		if b.Attributes&record.AttrLogAppendTime == 0 && b.MaxTimestamp != maxTS {
			t.Fatalf("%s-%d: stored batch at %d says max timestamp %d, its records' is %d", topic, part, b.FirstOffset, b.MaxTimestamp, maxTS)
		}
		return true
	})
	if err != nil || valid != len(sp.RecordBatches) {
		t.Fatalf("%s-%d: fetched batches do not parse: %v", topic, part, err)
	}
	if next != end {
		t.Fatalf("%s-%d: batches end at %d, log end %d", topic, part, next, end)
	}
}

// checkReopen opens a second broker on the same store and compares.
func checkReopen(t *testing.T, h *harness) {
	t.Helper()
	n, err := Open(h.cfg, h.store)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	for _, ev := range n.Ready().Events {
		if r, ok := ev.(core.LogRecovered); ok {
			t.Fatalf("reopen had to recover: %+v", r)
		}
	}
	if len(n.topics) != len(h.n.topics) {
		t.Fatalf("reopened with %d topics, had %d", len(n.topics), len(h.n.topics))
	}
	for name, tp := range h.n.topics {
		rt := n.topics[name]
		if rt == nil || len(rt.parts) != len(tp.parts) || rt.meta.ID != tp.meta.ID {
			t.Fatalf("topic %s not reopened as it was", name)
		}
		for i, p := range tp.parts {
			q := rt.parts[i]
			if q.log.LogStartOffset() != p.log.LogStartOffset() || q.log.LogEndOffset() != p.log.LogEndOffset() || q.log.Size() != p.log.Size() {
				t.Fatalf("%s-%d reopened as [%d, %d) %d bytes, was [%d, %d) %d bytes", name, i,
					q.log.LogStartOffset(), q.log.LogEndOffset(), q.log.Size(), p.log.LogStartOffset(), p.log.LogEndOffset(), p.log.Size())
			}
		}
	}
}

// TestFuzzStepSeeds runs the fuzz checks on every seed with a description, so
// that a failure names the request.
func TestFuzzStepSeeds(t *testing.T) {
	direct := func(req kmsg.Request, body []byte) bool { return req.ReadFrom(body) == nil }
	for i, s := range stepSeeds() {
		req := buildRequest(s, direct)
		if req == nil {
			t.Fatalf("seed %d does not decode", i)
		}
		t.Run(fmt.Sprintf("%d-%s-v%d", i, core.APIName(req.Key()), req.GetVersion()), func(t *testing.T) {
			checkStep(t, fuzzHarness(t), req)
		})
	}
}

// Kafka accepts topic names up to 249 characters (Topic.MAX_NAME_LENGTH) and
// the broker does too, but its store names are "meta/topics/<name>" and
// "logs/<name>-<partition>/...", and storage.ValidName limits each segment of
// a name to storage.MaxSegmentLen (200) bytes. CreateTopics (or Metadata
// auto-creation) of a name over ~195 characters therefore answers success
// while asking the host for writes that every store rejects; the host then
// stops the broker (core.StorageFailed). The broker must either refuse the
// name (INVALID_TOPIC_EXCEPTION) or persist it.
func TestLongTopicNameIsPersistable(t *testing.T) {
	for _, length := range []int{199, 249} {
		for _, api := range []string{"CreateTopics", "Metadata"} {
			t.Run(fmt.Sprint(api, length), func(t *testing.T) {
				name := strings.Repeat("x", length)
				n := New(DefaultConfig(1))
				n.Tick(t0)
				var req kmsg.Request
				if api == "CreateTopics" {
					c := kmsg.NewPtrCreateTopicsRequest()
					c.Version = 7
					c.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: name, NumPartitions: 1, ReplicationFactor: 1}}
					req = c
				} else {
					m := kmsg.NewPtrMetadataRequest()
					m.Version, m.AllowAutoTopicCreation = 12, true
					m.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(name)}}
					req = m
				}
				n.Step(core.Envelope{From: fuzzClient, To: 1, CorrelationID: 1, Request: req})
				rd := n.Ready()
				store := storage.NewMemory()
				if err := storage.Apply(store, rd.Writes); err != nil {
					code := int16(-1)
					switch resp := rd.Messages[0].Response.(type) {
					case *kmsg.CreateTopicsResponse:
						code = resp.Topics[0].ErrorCode
					case *kmsg.MetadataResponse:
						code = resp.Topics[0].ErrorCode
					}
					t.Fatalf("%s of a %d-character topic answered %s, but its writes fail (invalid object name: %v)", api, length, errName(code), errors.Is(err, storage.ErrInvalidName))
				}
			})
		}
	}
}

// setMaxTimestamp patches the maxTimestamp header field of the batch at the
// start of raw and fixes its CRC, as a misbehaving client could send it.
func setMaxTimestamp(raw []byte, ts int64) []byte {
	binary.BigEndian.PutUint64(raw[35:], uint64(ts))
	return recordtest.FixCRCs(raw)
}

// Kafka does not trust the maxTimestamp a producer writes in a batch header:
// LogValidator recomputes it from the records (CreateTime) and rewrites it
// before appending (assignOffsetsNonCompressed and the in-place compressed
// path: batch.setMaxTimestamp(timestampType, maxBatchTimestamp)). Streamlab
// validates each record's timestamp but stores the header as sent, and that
// header drives retention.ms, segment.ms and ListOffsets: a batch of fresh
// records whose header claims a month-old timestamp is deleted at the next
// retention check, and one claiming the far future is never deleted.
func TestProduceRewritesMaxTimestamp(t *testing.T) {
	t.Run("stale header", func(t *testing.T) {
		h := newHarness(t, nil)
		h.createTopic("t", 1, nil)
		sp := h.produce("t", 0, setMaxTimestamp(batch(h.now, "k", "v"), h.now-30*fuzzDay))
		if sp.ErrorCode != 0 {
			t.Fatalf("produce: %s", errName(sp.ErrorCode))
		}
		if off, ts, _ := h.listOffset("t", 0, -3); off != 0 || ts != t0 {
			t.Errorf("ListOffsets MAX_TIMESTAMP: offset %d timestamp %d, want 0 %d (the record's)", off, ts, t0)
		}
		h.tick(300000) // the first retention check; retention.ms is 7 days
		if start, end := h.logOffsets("t"); start != 0 || end != 1 {
			t.Errorf("a record produced 5 minutes ago was deleted by retention.ms=7d: log [%d, %d)", start, end)
		}
	})
	t.Run("future header", func(t *testing.T) {
		h := newHarness(t, nil)
		h.createTopic("t", 1, nil)
		h.produce("t", 0, setMaxTimestamp(batch(h.now, "k", "v"), h.now+3650*fuzzDay))
		fp := h.fetch("t", 0, 0, 1<<20)
		b, _, err := record.ParseBatch(fp.RecordBatches)
		if err != nil || b.MaxTimestamp != t0 {
			t.Errorf("stored batch max timestamp %d, want the record's %d (%v)", b.MaxTimestamp, t0, err)
		}
	})
}

// Kafka checks every client batch, compressed or not
// (LogValidator.validateBatch): recordsCount > 0 and lastOffsetDelta + 1 ==
// recordsCount ("Inconsistent batch offset range"), both INVALID_RECORD; and
// it decompresses compressed batches to validate and count their records.
// Streamlab runs these checks (record.Records) only for uncompressed batches,
// so a gzip batch claiming lastOffsetDelta -1 is appended without taking an
// offset (the next batch gets the same base offset, and the next Open cuts
// the log there, losing acknowledged records), one claiming 1000 takes 1001
// offsets for one record, and one whose gzip stream is garbage is stored for
// consumers to choke on.
func TestProduceValidatesCompressedBatches(t *testing.T) {
	gz := func() []byte {
		return record.Build(record.Batch{Compression: record.Gzip, Records: []record.Record{{Timestamp: t0, Key: []byte("k"), Value: []byte("v")}}})
	}
	withDelta := func(d int32) []byte {
		b := gz()
		binary.BigEndian.PutUint32(b[23:], uint32(d))
		return recordtest.FixCRCs(b)
	}
	garbage := gz()
	garbage[len(garbage)-12] ^= 0xff // inside the deflate stream / gzip trailer
	garbage = recordtest.FixCRCs(garbage)
	for _, tc := range []struct {
		name string
		raw  []byte
		want *kerr.Error // nil: any error
	}{
		{"lastOffsetDelta -1", withDelta(-1), kerr.InvalidRecord},
		{"lastOffsetDelta 1000 for one record", withDelta(1000), kerr.InvalidRecord},
		{"corrupt gzip stream", garbage, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b backend) {
				h := newHarness(t, b.open(t))
				h.createTopic("t", 1, nil)
				sp := h.produce("t", 0, tc.raw)
				if sp.ErrorCode == 0 || (tc.want != nil && sp.ErrorCode != tc.want.Code) {
					want := "an error"
					if tc.want != nil {
						want = tc.want.Message
					}
					t.Errorf("produce: %s at offset %d, want %s", errName(sp.ErrorCode), sp.BaseOffset, want)
				}
				// Whatever was answered, the log must stay consistent.
				if sp := h.produce("t", 0, batch(t0, "next", "v")); sp.ErrorCode != 0 {
					t.Fatalf("next produce: %s", errName(sp.ErrorCode))
				}
				checkPartition(t, h, "t", 0)
				h.restart(b)
				for _, ev := range h.events {
					if r, ok := ev.(core.LogRecovered); ok {
						t.Fatalf("restart cut acknowledged records: %+v", r)
					}
				}
			})
		})
	}
}

// Kafka knows compression ids 0..4 only (CompressionType.forId throws for
// 5..7, and the broker rejects the batch). Streamlab stores a batch with id
// 5, 6 or 7 as it would a snappy, lz4 or zstd one, and every consumer then
// fails on it. Such a batch must be refused.
func TestProduceRejectsUnknownCompression(t *testing.T) {
	for _, codec := range []int16{5, 6, 7} {
		t.Run(fmt.Sprint("codec=", codec), func(t *testing.T) {
			h := newHarness(t, nil)
			h.createTopic("t", 1, nil)
			raw := batch(t0, "k", "v")
			attrs := binary.BigEndian.Uint16(raw[21:])
			binary.BigEndian.PutUint16(raw[21:], attrs&^uint16(record.AttrCompressionMask)|uint16(codec))
			sp := h.produce("t", 0, recordtest.FixCRCs(raw))
			if sp.ErrorCode == 0 {
				t.Errorf("a batch with compression id %d was accepted at offset %d", codec, sp.BaseOffset)
			}
			if _, end := h.logOffsets("t"); end != 0 {
				t.Errorf("log end %d after a refused batch", end)
			}
		})
	}
}
