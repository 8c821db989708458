package client

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

func newConsumer(t *testing.T, f *fakeCluster, cfg ConsumerConfig) (*Consumer, *harness) {
	t.Helper()
	if cfg.ID == 0 {
		cfg.ID = 2000
	}
	if cfg.Bootstrap == nil {
		cfg.Bootstrap = f.brokers[:1]
	}
	c := NewConsumer(cfg)
	return c, newHarness(t, c, f)
}

// appendBatch stores a batch of values in the fake partition's log.
func (f *fakeCluster) appendBatch(topic string, p int32, values ...string) {
	t := f.topics[topic]
	var recs []record.Record
	for i, v := range values {
		recs = append(recs, record.Record{Timestamp: 5000 + int64(i), Key: []byte("k" + v), Value: []byte(v)})
	}
	raw := record.Build(record.Batch{Records: recs})
	record.SetBaseOffset(raw, t.next[p])
	t.logs[p] = append(t.logs[p], raw)
	t.next[p] += int64(len(values))
}

// consumed lists "partition:offset=value" for every RecordConsumed.
func consumed(h *harness) []string {
	var out []string
	for _, e := range eventsOf[core.RecordConsumed](h) {
		out = append(out, fmt.Sprintf("%d:%d=%s", e.Partition, e.Offset, e.Value))
	}
	return out
}

func TestConsumerResetFetchAndAdvance(t *testing.T) {
	for _, c := range []struct {
		reset     string
		wantTS    int64
		wantStart int64
		want      string
	}{
		{"earliest", -2, 0, "0:0=a 0:1=b 0:2=c 0:3=d"},
		{"", -1, 2, "0:2=c 0:3=d"}, // latest is Kafka's default
		{"latest", -1, 2, "0:2=c 0:3=d"},
	} {
		t.Run(c.reset, func(t *testing.T) {
			f := newFakeCluster(1)
			f.addTopic("t", 1)
			f.appendBatch("t", 0, "a", "b")
			cons, h := newConsumer(t, f, ConsumerConfig{Topics: []string{"t"}, AutoOffsetReset: c.reset})
			h.advance(10)
			lo := requests[*kmsg.ListOffsetsRequest](h)
			if len(lo) != 1 || lo[0].Topics[0].Partitions[0].Timestamp != c.wantTS {
				t.Fatalf("list offsets %+v", lo)
			}
			resets := eventsOf[core.OffsetReset](h)
			if len(resets) != 1 || resets[0].Offset != c.wantStart || !strings.Contains(resets[0].Reason, "auto.offset.reset") {
				t.Fatalf("resets %+v", resets)
			}
			f.appendBatch("t", 0, "c", "d")
			h.advance(10)
			if got := strings.Join(consumed(h), " "); got != c.want {
				t.Fatalf("consumed %q, want %q", got, c.want)
			}
			if pos, ok := cons.Position("t", 0); !ok || pos != 4 {
				t.Fatalf("position %d %v", pos, ok)
			}
			fr := requests[*kmsg.FetchRequest](h)
			last := fr[len(fr)-1]
			if p := last.Topics[0].Partitions[0]; p.FetchOffset != 4 || p.PartitionMaxBytes != 1048576 ||
				last.MaxWaitMillis != 500 || last.MinBytes != 1 || last.MaxBytes != 52428800 || last.Version != 12 {
				t.Fatalf("next fetch %+v", last)
			}
			if lag, ok := cons.Lag("t", 0); !ok || lag != 0 {
				t.Fatalf("lag %d %v", lag, ok)
			}
		})
	}
}

func TestConsumerSkipsRecordsBeforePositionInBatch(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.appendBatch("t", 0, "a", "b", "c", "d", "e")
	cons, h := newConsumer(t, f, ConsumerConfig{Partitions: []TopicPartition{{"t", 0}}, AutoOffsetReset: "none"})
	h.advance(10)
	if err := cons.Seek("t", 0, 3); err != nil {
		t.Fatal(err)
	}
	h.advance(10)
	// The broker answers with the whole batch from offset 0.
	if got := strings.Join(consumed(h), " "); got != "0:3=d 0:4=e" {
		t.Fatalf("consumed %q", got)
	}
	rc := eventsOf[core.RecordConsumed](h)[0]
	if rc.Timestamp != 5003 || string(rc.Key) != "kd" {
		t.Fatalf("record %+v", rc)
	}
}

func TestConsumerNoneNeedsSeek(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.appendBatch("t", 0, "a")
	cons, h := newConsumer(t, f, ConsumerConfig{Topics: []string{"t"}, AutoOffsetReset: "none"})
	h.advance(1000)
	fails := eventsOf[core.ConsumeFailed](h)
	if len(fails) != 1 || !strings.HasPrefix(fails[0].Error, "NoOffsetForPartitionException") {
		t.Fatalf("failures %+v", fails)
	}
	if len(requests[*kmsg.FetchRequest](h))+len(requests[*kmsg.ListOffsetsRequest](h)) != 0 {
		t.Fatal("fetched without a position")
	}
	if _, ok := cons.Position("t", 0); ok {
		t.Fatal("position known")
	}
	if err := cons.Seek("t", 0, 0); err != nil {
		t.Fatal(err)
	}
	h.advance(10)
	if got := strings.Join(consumed(h), " "); got != "0:0=a" {
		t.Fatalf("consumed %q", got)
	}
	if err := cons.Seek("t", 9, 0); err == nil {
		t.Fatal("seek on an unassigned partition")
	}
	if err := cons.Seek("t", 0, -1); err == nil {
		t.Fatal("negative seek")
	}
}

func TestConsumerOffsetOutOfRange(t *testing.T) {
	for _, c := range []struct {
		reset     string
		wantReset string // the ListOffsets timestamp after the error, "" for none
	}{
		{"earliest", "-2"},
		{"latest", "-1"},
		{"none", ""},
	} {
		t.Run(c.reset, func(t *testing.T) {
			f := newFakeCluster(1)
			tp := f.addTopic("t", 1)
			f.appendBatch("t", 0, "a", "b", "c")
			cons, h := newConsumer(t, f, ConsumerConfig{Partitions: []TopicPartition{{"t", 0}}, AutoOffsetReset: c.reset})
			cons.Seek("t", 0, 1)
			h.advance(10)
			h.events = nil
			loBefore := len(requests[*kmsg.ListOffsetsRequest](h))
			// Retention removes the start of the log, and the consumer seeks
			// below it.
			tp.start[0] = 2
			cons.Seek("t", 0, 0)
			// The fetch in flight waits out fetch.max.wait.ms at the broker
			// and its answer is discarded: the position moved.
			h.advance(1000)
			lo := requests[*kmsg.ListOffsetsRequest](h)[loBefore:]
			if c.wantReset == "" {
				fails := eventsOf[core.ConsumeFailed](h)
				if len(fails) != 1 || !strings.HasPrefix(fails[0].Error, "OFFSET_OUT_OF_RANGE") || len(lo) != 0 {
					t.Fatalf("failures %+v, list offsets %d", fails, len(lo))
				}
				if _, ok := cons.Position("t", 0); ok {
					t.Fatal("position after OFFSET_OUT_OF_RANGE with none")
				}
				return
			}
			if len(lo) != 1 || fmt.Sprint(lo[0].Topics[0].Partitions[0].Timestamp) != c.wantReset {
				t.Fatalf("list offsets %+v", lo)
			}
			resets := eventsOf[core.OffsetReset](h)
			if len(resets) != 1 || !strings.HasPrefix(resets[0].Reason, "OFFSET_OUT_OF_RANGE") {
				t.Fatalf("resets %+v", resets)
			}
			want := map[string]int64{"earliest": 2, "latest": 3}[c.reset]
			if resets[0].Offset != want {
				t.Fatalf("reset to %d, want %d", resets[0].Offset, want)
			}
			if pos, _ := cons.Position("t", 0); pos != 3 {
				t.Fatalf("position %d", pos)
			}
		})
	}
}

func TestConsumerOneFetchPerBroker(t *testing.T) {
	f := newFakeCluster(1, 2)
	f.addTopic("t", 4, 1, 2) // partitions 0, 2 on broker 1; 1, 3 on broker 2
	_, h := newConsumer(t, f, ConsumerConfig{Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	h.advance(10)
	fetches := map[core.NodeID]int{}
	for _, s := range h.sent {
		if fr, ok := s.env.Request.(*kmsg.FetchRequest); ok {
			fetches[s.env.To]++
			var parts []int32
			for _, p := range fr.Topics[0].Partitions {
				parts = append(parts, p.Partition)
			}
			want := map[core.NodeID]string{1: "[0 2]", 2: "[1 3]"}[s.env.To]
			if fmt.Sprint(parts) != want {
				t.Fatalf("fetch to %d for %v, want %s", s.env.To, parts, want)
			}
		}
	}
	// Nothing to read: both fetches wait 500 ms at the brokers; no other
	// fetch goes out meanwhile.
	if fetches[1] != 1 || fetches[2] != 1 {
		t.Fatalf("fetches %v", fetches)
	}
	h.advance(400)
	if n := len(requests[*kmsg.FetchRequest](h)); n != 2 {
		t.Fatalf("%d fetches while two are in flight", n)
	}
	f.appendBatch("t", 1, "x")
	h.advance(1)
	if got := strings.Join(consumed(h), " "); got != "1:0=x" {
		t.Fatalf("consumed %q", got)
	}
	if n := len(requests[*kmsg.FetchRequest](h)); n != 3 {
		t.Fatalf("%d fetches, want a new one to broker 2 only", n)
	}
}

func TestConsumerFollowsLeaderChange(t *testing.T) {
	f := newFakeCluster(1, 2)
	tp := f.addTopic("t", 1, 1)
	f.appendBatch("t", 0, "a")
	_, h := newConsumer(t, f, ConsumerConfig{Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	h.advance(10)
	tp.leaders[0], tp.epoch = 2, 1
	f.appendBatch("t", 0, "b")
	h.advance(1000)
	if got := strings.Join(consumed(h), " "); got != "0:0=a 0:1=b" {
		t.Fatalf("consumed %q", got)
	}
	fr := requests[*kmsg.FetchRequest](h)
	last := fr[len(fr)-1]
	if last.Topics[0].Partitions[0].CurrentLeaderEpoch != 1 {
		t.Fatalf("fetch with leader epoch %d", last.Topics[0].Partitions[0].CurrentLeaderEpoch)
	}
	var to []core.NodeID
	for _, s := range h.sent {
		if _, ok := s.env.Request.(*kmsg.FetchRequest); ok {
			to = append(to, s.env.To)
		}
	}
	if to[len(to)-1] != 2 {
		t.Fatalf("fetches went to %v", to)
	}
}

func TestConsumerFetchByTopicID(t *testing.T) {
	f := newFakeCluster(1)
	f.versions[kmsg.Fetch.Int16()] = [2]int16{4, 17}
	f.addTopic("t", 1)
	f.appendBatch("t", 0, "a", "b")
	_, h := newConsumer(t, f, ConsumerConfig{Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	h.advance(10)
	fr := requests[*kmsg.FetchRequest](h)[0]
	if fr.Version != 17 || fr.Topics[0].TopicID != f.topics["t"].id {
		t.Fatalf("fetch v%d topic id %x", fr.Version, fr.Topics[0].TopicID)
	}
	if got := strings.Join(consumed(h), " "); got != "0:0=a 0:1=b" {
		t.Fatalf("consumed %q", got)
	}
}

func TestConsumerCorruptBatch(t *testing.T) {
	f := newFakeCluster(1)
	tp := f.addTopic("t", 1)
	f.appendBatch("t", 0, "a")
	tp.logs[0][0][len(tp.logs[0][0])-1] ^= 1 // the CRC no longer matches
	cons, h := newConsumer(t, f, ConsumerConfig{Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	h.advance(10)
	fails := eventsOf[core.ConsumeFailed](h)
	if len(fails) == 0 || !strings.HasPrefix(fails[0].Error, "CORRUPT_MESSAGE: Record batch for partition t-0 at offset 0 is invalid") {
		t.Fatalf("failures %+v", fails)
	}
	if pos, _ := cons.Position("t", 0); pos != 0 || len(consumed(h)) != 0 {
		t.Fatalf("position %d after a corrupt batch", pos)
	}
}

func TestConsumerRetriesListOffsets(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	c := NewConsumer(ConsumerConfig{ID: 2000, Bootstrap: []core.NodeID{1}, Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	h := &harness{t: t, m: c, f: f, now: t0}
	fails := 2
	h.intercept = func(env core.Envelope) (kmsg.Response, bool) {
		if _, ok := env.Request.(*kmsg.ListOffsetsRequest); ok && fails > 0 {
			fails--
			resp := f.answer(env).(*kmsg.ListOffsetsResponse)
			resp.Topics[0].Partitions[0].ErrorCode = kerr.OffsetNotAvailable.Code
			return resp, true
		}
		return nil, false
	}
	h.start()
	h.advance(1000)
	at := sentAt[*kmsg.ListOffsetsRequest](h)
	if len(at) != 3 || at[1]-at[0] < 80 || at[2]-at[1] < 160 {
		t.Fatalf("list offsets at %v, want a growing backoff", at)
	}
	if r := eventsOf[core.OffsetReset](h); len(r) != 1 || r[0].Offset != 0 {
		t.Fatalf("resets %+v", r)
	}
}

func TestConsumerPauseResumeAndSeekToEnd(t *testing.T) {
	f := newFakeCluster(1)
	f.addTopic("t", 1)
	f.appendBatch("t", 0, "a")
	cons, h := newConsumer(t, f, ConsumerConfig{Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	h.advance(600)
	cons.Pause("t", 0)
	f.appendBatch("t", 0, "b")
	h.advance(1000)
	if got := strings.Join(consumed(h), " "); got != "0:0=a" {
		t.Fatalf("consumed %q while paused", got)
	}
	cons.SeekToEnd("t", 0)
	cons.Resume("t", 0)
	h.advance(10)
	f.appendBatch("t", 0, "c")
	h.advance(10)
	if got := strings.Join(consumed(h), " "); got != "0:0=a 0:2=c" {
		t.Fatalf("consumed %q", got)
	}
	if r := eventsOf[core.OffsetReset](h); len(r) != 2 || r[1].Reason != "seekToEnd" || r[1].Offset != 2 {
		t.Fatalf("resets %+v", r)
	}
	if s := cons.Stats(); s.Consumed != 2 || s.Resets != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConsumerConfig(t *testing.T) {
	if err := (ConsumerConfig{Bootstrap: []core.NodeID{1}, AutoOffsetReset: "smallest"}).Validate(); err == nil {
		t.Fatal("auto.offset.reset=smallest accepted")
	}
	c := ConsumerConfig{FetchMaxWaitMs: -1, FetchMinBytes: -1}.withDefaults()
	if c.FetchMaxWaitMs != 0 || c.FetchMinBytes != 0 || c.AutoOffsetReset != "latest" || c.FetchMaxBytes != 52428800 {
		t.Fatalf("config %+v", c)
	}
}
