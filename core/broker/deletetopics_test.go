package broker

import (
	"fmt"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

func deleteByName(version int16, names ...string) *kmsg.DeleteTopicsRequest {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = version
	for _, name := range names {
		if version >= 6 {
			req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(name)})
		} else {
			req.TopicNames = append(req.TopicNames, name)
		}
	}
	return req
}

func (h *harness) topicID(name string) [16]byte {
	h.t.Helper()
	t := h.n.topics[name]
	if t == nil {
		h.t.Fatalf("no topic %s", name)
	}
	return t.meta.ID
}

// result is a DeleteTopics result in a comparable form.
type result struct {
	Topic string // "<nil>" for a null name
	ID    [16]byte
	Error string
	Msg   string
}

func results(resp *kmsg.DeleteTopicsResponse) []result {
	var out []result
	for _, st := range resp.Topics {
		r := result{Topic: "<nil>", ID: st.TopicID, Error: errName(st.ErrorCode)}
		if st.Topic != nil {
			r.Topic = *st.Topic
		}
		if st.ErrorMessage != nil {
			r.Msg = *st.ErrorMessage
		}
		out = append(out, r)
	}
	return out
}

func TestDeleteTopicsByNameEveryVersion(t *testing.T) {
	for v := int16(0); v <= 6; v++ {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			h := newHarness(t, nil)
			h.createTopic("orders", 3, map[string]string{"segment.bytes": "100"})
			h.createTopic("keep", 1, nil)
			for i := 0; i < 6; i++ {
				h.produce("orders", int32(i%3), batch(t0, fmt.Sprint("k", i), "a value long enough to roll segments"))
			}
			h.produce("keep", 0, batch(t0, "k", "v"))
			id := h.topicID("orders")
			h.events = nil

			resp := h.do(deleteByName(v, "orders", "missing")).(*kmsg.DeleteTopicsResponse)
			if resp.Version != v || len(resp.Topics) != 2 {
				t.Fatalf("response v%d with %d topics", resp.Version, len(resp.Topics))
			}
			got := map[string]result{}
			for _, r := range results(resp) {
				got[r.Topic] = r
			}
			if r := got["orders"]; r.Error != "NONE" || r.Msg != "" {
				t.Errorf("orders: %+v", r)
			}
			if r := got["missing"]; r.Error != "UNKNOWN_TOPIC_OR_PARTITION" || r.Msg != kerr.UnknownTopicOrPartition.Description {
				t.Errorf("missing: %+v", r)
			}
			if v >= 6 && got["orders"].ID != id {
				t.Errorf("v6 answers with the topic id: got %x, want %x", got["orders"].ID, id)
			}

			var deleted []core.TopicDeleted
			for _, ev := range h.events {
				if d, ok := ev.(core.TopicDeleted); ok {
					deleted = append(deleted, d)
				}
			}
			if len(deleted) != 1 || deleted[0] != (core.TopicDeleted{Topic: "orders", TopicID: id, Partitions: 3}) {
				t.Errorf("events: %v", h.events)
			}

			// Nothing of the topic is left in the store; the other topic is whole.
			for _, prefix := range []string{"logs/orders-", "meta/topics/orders"} {
				if names, err := h.store.List(prefix); err != nil || len(names) != 0 {
					t.Errorf("store still holds %v (%v)", names, err)
				}
			}
			if names, _ := h.store.List("logs/keep-0/"); len(names) != 1 {
				t.Errorf("keep's log: %v", names)
			}

			md := kmsg.NewPtrMetadataRequest()
			md.Version = 12
			md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("orders")}}
			if mt := h.do(md).(*kmsg.MetadataResponse).Topics[0]; mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("metadata after delete: %s", errName(mt.ErrorCode))
			}
			if sp := h.produce("orders", 0, batch(t0, "k", "v")); sp.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("produce after delete: %s", errName(sp.ErrorCode))
			}
		})
	}
}

func TestDeleteTopicsByID(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("a", 1, nil)
	id := h.topicID("a")
	unknown := [16]byte{1, 2, 3}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	req.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: id}, {TopicID: unknown}}
	got := results(h.do(req).(*kmsg.DeleteTopicsResponse))
	want := []result{
		{Topic: "<nil>", ID: unknown, Error: "UNKNOWN_TOPIC_ID", Msg: kerr.UnknownTopicID.Description},
		{Topic: "a", ID: id, Error: "NONE"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if len(h.n.Topics()) != 0 {
		t.Fatalf("topics left: %v", h.n.Topics())
	}
}

// TestDeleteTopicsInvalid mirrors Kafka's ControllerApisTest
// testInvalidDeleteTopicsRequest: every malformed entry is INVALID_REQUEST
// with Kafka's message, and none of the topics named is deleted.
func TestDeleteTopicsInvalid(t *testing.T) {
	h := newHarness(t, nil)
	for _, name := range []string{"foo", "bar", "baz", "quux"} {
		h.createTopic(name, 1, nil)
	}
	foo, bar, baz := h.topicID("foo"), h.topicID("bar"), h.topicID("baz")
	var zero [16]byte
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	add := func(name *string, id [16]byte) {
		req.Topics = append(req.Topics, kmsg.DeleteTopicsRequestTopic{Topic: name, TopicID: id})
	}
	add(nil, zero)
	add(kmsg.StringPtr("foo"), foo)
	add(kmsg.StringPtr("bar"), zero)
	add(nil, bar)
	add(kmsg.StringPtr("quux"), zero)
	add(kmsg.StringPtr("quux"), zero)
	add(kmsg.StringPtr("quux"), zero)
	add(nil, baz)
	add(nil, baz)
	add(nil, baz)
	got := results(h.do(req).(*kmsg.DeleteTopicsResponse))
	want := []result{
		{"<nil>", zero, "INVALID_REQUEST", "Neither topic name nor id were specified."},
		{"foo", foo, "INVALID_REQUEST", "You may not specify both topic name and topic id."},
		{"bar", bar, "INVALID_REQUEST", "The provided topic name maps to an ID that was already supplied."},
		{"quux", zero, "INVALID_REQUEST", "Duplicate topic name."},
		{"<nil>", baz, "INVALID_REQUEST", "Duplicate topic id."},
	}
	key := func(rs []result) []string {
		var s []string
		for _, r := range rs {
			s = append(s, fmt.Sprintf("%+v", r))
		}
		sort.Strings(s) // Kafka shuffles; compare as sets
		return s
	}
	if fmt.Sprint(key(got)) != fmt.Sprint(key(want)) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if len(h.n.Topics()) != 4 {
		t.Fatalf("an invalid request deleted topics: %v", h.n.Topics())
	}
}

func TestDeleteThenRecreateStartsEmpty(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		h.createTopic("t", 2, nil)
		for i := 0; i < 4; i++ {
			h.produce("t", int32(i%2), batch(t0, fmt.Sprint("old", i), "v"))
		}
		if r := results(h.do(deleteByName(6, "t")).(*kmsg.DeleteTopicsResponse)); r[0].Error != "NONE" {
			t.Fatalf("delete: %+v", r)
		}
		h.restart(b)
		if len(h.n.Topics()) != 0 || len(h.events) != 0 {
			t.Fatalf("after restart: topics %v, events %v", h.n.Topics(), h.events)
		}
		h.createTopic("t", 1, nil)
		if sp := h.produce("t", 0, batch(t0, "new", "v")); sp.BaseOffset != 0 {
			t.Fatalf("first offset of the new topic: %d", sp.BaseOffset)
		}
		h.restart(b)
		offsets, kvs := fetchedRecords(t, h.fetch("t", 0, 0, 1<<20).RecordBatches)
		if fmt.Sprint(offsets, kvs) != "[0] [new=v]" {
			t.Fatalf("recreated topic holds %v %v", offsets, kvs)
		}
	})
}

func TestDeleteAnswersParkedFetch(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	req := fetchReq("t", 0, 0, 1<<20)
	req.MaxWaitMillis = 30000
	h.n.Step(core.Envelope{From: core.ClientIDBase + 1, To: 1, CorrelationID: 7, Request: req})
	if msgs := h.drain(); len(msgs) != 0 {
		t.Fatal("empty fetch answered at once")
	}
	h.n.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: 8, Request: deleteByName(6, "t")})
	msgs := h.drain()
	var fetched *kmsg.FetchResponse
	for _, m := range msgs {
		if fr, ok := m.Response.(*kmsg.FetchResponse); ok && m.CorrelationID == 7 {
			fetched = fr
		}
	}
	if len(msgs) != 2 || fetched == nil {
		t.Fatalf("messages after delete: %v", msgs)
	}
	if code := fetched.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("parked fetch answered with %s", errName(code))
	}
}
