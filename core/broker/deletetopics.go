package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// deleteTopics deletes topics named in v0-v5, or named or given by topic id
// in v6, with the checks and errors of Kafka's controller
// (ControllerApis.deleteTopics): a name and an id in one entry, neither of
// them, a duplicate name or id, and a name whose topic an id of the same
// request already names are INVALID_REQUEST; an unknown name is
// UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID. Kafka shuffles
// the results (so that their positions reveal nothing); Streamlab keeps the
// order in which it decides them, so that runs replay.
//
// delete.topic.enable (true) is not configurable yet, and nothing is
// internal: every topic may be deleted.
func (n *Node) deleteTopics(req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	add := func(name *string, id [16]byte, err *kerr.Error, msg string) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = name, id
		if err != nil {
			topic := ""
			if name != nil {
				topic = *name
			}
			st.ErrorCode = n.fail("DeleteTopics", topic, -1, err)
			if msg == "" {
				msg = err.Description // new ApiError(error) carries error.message()
			}
			st.ErrorMessage = kmsg.StringPtr(msg) // sent from v5 on
		}
		resp.Topics = append(resp.Topics, st)
	}
	var zero [16]byte

	names := newOrdered[string]()
	dupNames := newOrdered[string]()
	addName := func(name string) {
		if dupNames.has(name) || names.has(name) {
			dupNames.add(name)
			names.remove(name)
			return
		}
		names.add(name)
	}
	ids := newOrdered[[16]byte]()
	dupIDs := newOrdered[[16]byte]()
	for _, name := range req.TopicNames { // v0-v5
		addName(name)
	}
	for _, t := range req.Topics { // v6
		switch {
		case t.Topic == nil && t.TopicID == zero:
			add(nil, zero, kerr.InvalidRequest, "Neither topic name nor id were specified.")
		case t.Topic == nil:
			if dupIDs.has(t.TopicID) || ids.has(t.TopicID) {
				dupIDs.add(t.TopicID)
				ids.remove(t.TopicID)
			} else {
				ids.add(t.TopicID)
			}
		case t.TopicID == zero:
			addName(*t.Topic)
		default:
			add(t.Topic, t.TopicID, kerr.InvalidRequest, "You may not specify both topic name and topic id.")
		}
	}
	for _, name := range dupNames.list() {
		add(kmsg.StringPtr(name), zero, kerr.InvalidRequest, "Duplicate topic name.")
	}
	for _, id := range dupIDs.list() {
		add(nil, id, kerr.InvalidRequest, "Duplicate topic id.")
	}

	// Resolve ids to names, then names to ids; what is left is deleted.
	idToName := map[[16]byte]string{}
	toDelete := newOrdered[[16]byte]()
	for _, id := range ids.list() {
		name, ok := n.topicByID(id)
		if !ok {
			add(nil, id, kerr.UnknownTopicID, "")
			continue
		}
		idToName[id] = name
		toDelete.add(id)
	}
	for _, name := range names.list() {
		t := n.topics[name]
		if t == nil {
			add(kmsg.StringPtr(name), zero, kerr.UnknownTopicOrPartition, "")
			continue
		}
		id := t.meta.ID
		if dupIDs.has(id) || toDelete.has(id) {
			// A name for a topic that an id of this request names too.
			// Kafka then answers for neither the id nor the name but
			// this one entry.
			dupIDs.add(id)
			toDelete.remove(id)
			add(kmsg.StringPtr(name), id, kerr.InvalidRequest, "The provided topic name maps to an ID that was already supplied.")
			continue
		}
		idToName[id] = name
		toDelete.add(id)
	}
	for _, id := range toDelete.list() {
		name := idToName[id]
		n.deleteTopic(name)
		add(kmsg.StringPtr(name), id, nil, "")
	}
	// Fetches parked on a deleted partition now get
	// UNKNOWN_TOPIC_OR_PARTITION instead of waiting.
	n.serveParked()
	return resp
}

// deleteTopic forgets a topic and removes what it stored: every segment of
// its partitions, oldest first as retention would, and then its metadata.
// Kafka makes the metadata record the point of no return and deletes the
// logs asynchronously afterwards, cleaning up stray logs at startup
// (LogManager); Open here has no such cleanup, and partlog.New appends to a
// segment object that still exists, so the logs go first: a crash in between
// leaves a topic whose logs are partly gone (the client, which got no
// answer, deletes it again), never stray segments that a topic created
// later under the same name would take for its own.
func (n *Node) deleteTopic(name string) {
	t := n.topics[name]
	n.collectWrites(t)
	for _, p := range t.parts {
		dir := logDir(name, p.index)
		for _, s := range p.log.Segments() {
			// partlog's object name: "<dir>/<base offset, 20 digits>.log".
			n.writes = append(n.writes, storage.Write{Op: storage.OpRemove, Name: fmt.Sprintf("%s/%020d.log", dir, s.Base)})
		}
	}
	n.writes = append(n.writes, storage.Write{Op: storage.OpRemove, Name: "meta/topics/" + name})
	delete(n.topics, name)
	n.events = append(n.events, core.TopicDeleted{Topic: name, TopicID: t.meta.ID, Partitions: t.meta.Partitions})
}

func (n *Node) topicByID(id [16]byte) (string, bool) {
	for _, name := range n.topicNames() {
		if n.topics[name].meta.ID == id {
			return name, true
		}
	}
	return "", false
}

// ordered is a set that remembers insertion order, so that responses come
// out in the same order on every run.
type ordered[K comparable] struct {
	keys []K
	seen map[K]bool // every key ever added, so that keys holds each once
	in   map[K]bool
}

func newOrdered[K comparable]() *ordered[K] {
	return &ordered[K]{seen: map[K]bool{}, in: map[K]bool{}}
}

func (o *ordered[K]) has(k K) bool { return o.in[k] }

func (o *ordered[K]) add(k K) {
	o.in[k] = true
	if !o.seen[k] {
		o.seen[k] = true
		o.keys = append(o.keys, k)
	}
}

func (o *ordered[K]) remove(k K) { delete(o.in, k) }

// list returns the keys still in the set, in the order they were first added.
func (o *ordered[K]) list() []K {
	var out []K
	for _, k := range o.keys {
		if o.in[k] {
			out = append(out, k)
		}
	}
	return out
}
