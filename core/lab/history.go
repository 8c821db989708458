package lab

import (
	"strconv"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/group"
	"github.com/streamlab/streamlab/core/sim"
)

// history sorts the sim's events for people: the notable ones (what a
// learner should read: elections, fencing, leaders, ISR, appends, acks,
// faults) and the wire (every message, metadata entries, lost messages).
//
// A cluster reports some facts several times: every controller voter emits
// the records it applies (a broker fenced, a new leader, an ISR), a leader
// emits the ISR its AlterPartition got back, each broker emits its own role.
// history keeps each fact once, by what identifies it (a partition's leader
// epoch and partition epoch, a broker's fenced state, a controller epoch),
// so the order and the times stay those of the first voter to apply it.
type history struct {
	keep, keepWire int
	notable        []sim.Observed
	wire           []sim.Observed
	consumed       []core.RecordConsumed
	acked          []core.RecordAcked
	// How many events each list got so far (they keep only the newest).
	notableN, wireN uint64
	quietN          uint64 // followers' high watermark advances (see Version)

	topics      map[string]bool
	leaderEpoch map[tpKey]int32
	partEpoch   map[tpKey]int32
	registered  map[[2]int64]bool // broker, epoch
	fenced      map[core.NodeID]fenceState
	controllers map[int64]bool // epochs elected
	resigned    map[[2]int64]bool
	roles       map[roleKey]roleState
	repeats     map[string]int64 // a failure's text -> when it was last kept
}

type tpKey struct {
	topic     string
	partition int32
}

type fenceState struct {
	epoch  int64
	fenced bool
}

type roleKey struct {
	node core.NodeID
	tpKey
}

type roleState struct {
	role  string
	epoch int32
}

// repeatWindowMs: the same failure (same node, API, partition and error)
// is kept once per this much virtual time; a broken cluster retries a lot.
const repeatWindowMs = 5000

func (h *history) init(keep, keepWire int) {
	h.keep, h.keepWire = keep, keepWire
	h.topics = map[string]bool{}
	h.leaderEpoch = map[tpKey]int32{}
	h.partEpoch = map[tpKey]int32{}
	h.registered = map[[2]int64]bool{}
	h.fenced = map[core.NodeID]fenceState{}
	h.controllers = map[int64]bool{}
	h.resigned = map[[2]int64]bool{}
	h.roles = map[roleKey]roleState{}
	h.repeats = map[string]int64{}
}

// ack is an acknowledged record as CheckAcked and the lessons need it. It
// holds no pointers: its key and value are copied into Lab.ackBytes. Go's
// GC marks on the page's main thread, and in wasm it finishes a cycle's
// marking in one task; 100,000 acks holding their own key and value slices
// were 200,000 objects to mark (most of the page's heap under load), where
// pointer-free acks and one byte slice are two.
type ack struct {
	Partition int32
	acks      client.Acks
	Offset    int64
	hash      uint64 // recordHash of the key and value
	at        int    // where the key, then the value, start in Lab.ackBytes
	keyLen    int32  // -1: a null key
	valueLen  int32  // -1: a null value
}

// addAck keeps a record the lab's producers saw acknowledged.
func (l *Lab) addAck(ev core.RecordAcked, acks client.Acks) {
	a := ack{Partition: ev.Partition, acks: acks, Offset: ev.Offset, hash: recordHash(ev.Key, ev.Value),
		at: len(l.ackBytes), keyLen: bytesLen(ev.Key), valueLen: bytesLen(ev.Value)}
	l.ackBytes = append(append(l.ackBytes, ev.Key...), ev.Value...)
	l.acked = append(l.acked, a)
	l.noteAcked(len(l.acked) - 1)
}

func bytesLen(b []byte) int32 {
	if b == nil {
		return -1
	}
	return int32(len(b))
}

// ackBytesAt is n bytes of Lab.ackBytes from at (nil if n is -1), capped
// so that an append by the caller copies them.
func (l *Lab) ackBytesAt(at int, n int32) []byte {
	if n < 0 {
		return nil
	}
	return l.ackBytes[at : at+int(n) : at+int(n)]
}

// ackKey is a's key (nil: a null key).
func (l *Lab) ackKey(a ack) []byte { return l.ackBytesAt(a.at, a.keyLen) }

// ackedRecord is a as its producer's RecordAcked event had it.
func (l *Lab) ackedRecord(a ack) core.RecordAcked {
	return core.RecordAcked{Topic: l.cfg.Topic, Partition: a.Partition, Offset: a.Offset,
		Key: l.ackKey(a), Value: l.ackBytesAt(a.at+int(max(a.keyLen, 0)), a.valueLen)}
}

// maxAcked bounds the acknowledged records CheckAcked verifies.
const maxAcked = 100000

// Replicated is a follower's RecordsAppended: it copied records it fetched
// from Leader. (The broker reports both kinds of append alike; the lab tells
// them apart when they happen, by the broker's role then.)
type Replicated struct {
	core.RecordsAppended
	Leader int32
}

func (l *Lab) observe(o sim.Observed) {
	h := &l.hist
	if e, ok := o.Event.(core.RecordsAppended); ok {
		if srv := l.servers[o.Node]; srv != nil {
			if info, ok := srv.Broker().Partition(e.Topic, e.Partition); ok && info.Leader != int32(o.Node) {
				o.Event = Replicated{RecordsAppended: e, Leader: info.Leader}
			}
		}
	}
	o.Event = l.groupEvent(o)
	switch ev := o.Event.(type) {
	case core.RecordConsumed:
		if o.Node == ConsumerID { // group members' reads are in their groups (groups.go)
			h.consumed = keepLast(append(h.consumed, ev), h.keep)
		}
	case core.RecordAcked:
		h.acked = keepLast(append(h.acked, ev), h.keep)
		if a, ok := l.AcksOf(o.Node); ok && ev.Topic == l.cfg.Topic && ev.Offset >= 0 && len(l.acked) < maxAcked {
			l.addAck(ev, a)
		}
	}
	if l.notable(o) {
		h.notable = keepLast(append(h.notable, o), h.keep)
		h.notableN++
	} else {
		h.wire = keepLast(append(h.wire, o), h.keepWire)
		h.wireN++
		if _, ok := o.Event.(core.HighWatermarkAdvanced); ok && !internalReplication(o.Event) {
			h.quietN++ // a follower's high watermark: not news, but drawn
		}
	}
}

// notable reports whether an event is news for a learner, remembering
// what it has seen.
func (l *Lab) notable(o sim.Observed) bool {
	h := &l.hist
	switch o.Event.(type) {
	case core.MessageSent, core.MessageDelivered, core.MessageDropped, core.MessageDuplicated, core.MetadataApplied:
		return false
	case core.AssignmentReceived:
		return false // each member's Rebalanced tells it, with what it revoked
	}
	if internalReplication(o.Event) {
		return false
	}
	switch o.Event.(type) {
	case core.BrokerRegistered, core.BrokerFenced, core.BrokerUnfenced, core.PartitionLeaderChanged:
		// Records of the metadata log, emitted by every voter that
		// applies them, a restarted one replaying its log too: the
		// quorum leader's are the news.
		if !l.quorumLeader(o.Node) {
			return false
		}
	}
	switch e := o.Event.(type) {
	case core.TopicCreated:
		if h.topics[e.Topic] {
			return false
		}
		h.topics[e.Topic] = true
	case core.TopicDeleted:
		if !h.topics[e.Topic] {
			return false
		}
		delete(h.topics, e.Topic)
	case core.PartitionLeaderChanged:
		k := tpKey{e.Topic, e.Partition}
		if last, ok := h.leaderEpoch[k]; ok && e.LeaderEpoch <= last {
			return false
		}
		h.leaderEpoch[k] = e.LeaderEpoch
	case core.IsrChanged:
		k := tpKey{e.Topic, e.Partition}
		if last, ok := h.partEpoch[k]; ok && e.PartitionEpoch <= last {
			return false
		}
		h.partEpoch[k] = e.PartitionEpoch
	case core.BrokerRegistered:
		k := [2]int64{int64(e.Broker), e.Epoch}
		if h.registered[k] {
			return false
		}
		h.registered[k] = true
		h.fenced[e.Broker] = fenceState{e.Epoch, true}
	case core.BrokerFenced:
		st := fenceState{e.Epoch, true}
		if h.fenced[e.Broker] == st {
			return false
		}
		h.fenced[e.Broker] = st
	case core.BrokerUnfenced:
		st := fenceState{e.Epoch, false}
		if h.fenced[e.Broker] == st {
			return false
		}
		h.fenced[e.Broker] = st
	case core.ControllerElected:
		if h.controllers[e.Epoch] {
			return false
		}
		h.controllers[e.Epoch] = true
	case core.ControllerResigned:
		k := [2]int64{int64(e.Controller), e.Epoch}
		if h.resigned[k] {
			return false
		}
		h.resigned[k] = true
	case core.ReplicaRoleChanged:
		k := roleKey{o.Node, tpKey{e.Topic, e.Partition}}
		st := roleState{e.Role, e.LeaderEpoch}
		if h.roles[k] == st {
			return false
		}
		h.roles[k] = st
	case core.HighWatermarkAdvanced:
		// Followers learn the high watermark from the leader: the
		// leader's advance is the news.
		srv := l.servers[o.Node]
		if srv == nil {
			return false
		}
		info, ok := srv.Broker().Partition(e.Topic, e.Partition)
		return ok && info.Leader == int32(o.Node)
	case core.RequestFailed:
		return h.fresh(o, e.API+e.Topic+itoa32(e.Partition)+e.Error)
	case core.ProduceRetried:
		return h.fresh(o, "retry"+e.Topic+itoa32(e.Partition)+e.Error)
	case core.ConsumeFailed:
		return h.fresh(o, "consume"+e.Topic+itoa32(e.Partition)+e.Error)
	}
	return true
}

// quorumLeader reports whether node runs the voter that leads the quorum,
// as it believes.
func (l *Lab) quorumLeader(node core.NodeID) bool {
	srv := l.servers[node]
	if srv == nil || srv.Controller() == nil {
		return false
	}
	return srv.Controller().Leader() == node
}

// fresh reports whether a failure is not a repeat of one kept less than
// repeatWindowMs ago.
func (h *history) fresh(o sim.Observed, what string) bool {
	k := itoa32(int32(o.Node)) + "/" + what
	if last, ok := h.repeats[k]; ok && o.Time-last < repeatWindowMs {
		return false
	}
	h.repeats[k] = o.Time
	return true
}

// internalReplication reports whether an event is the replication of
// __consumer_offsets (its leaders, ISRs, appends, high watermarks): the
// group events (a commit, a state change) tell what those records mean.
func internalReplication(ev core.Event) bool {
	var topic string
	switch e := ev.(type) {
	case core.RecordsAppended:
		topic = e.Topic
	case Replicated:
		topic = e.Topic
	case core.HighWatermarkAdvanced:
		topic = e.Topic
	case core.ReplicaRoleChanged:
		topic = e.Topic
	case core.PartitionLeaderChanged:
		topic = e.Topic
	case core.IsrChanged:
		topic = e.Topic
	case core.SegmentRolled:
		topic = e.Topic
	}
	return topic == group.OffsetsTopic
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }

// keepLast bounds a history: past 2n entries it keeps the newest n (last
// reads the newest n), so that appending stays cheap.
func keepLast[T any](s []T, n int) []T {
	if len(s) > 2*n {
		// A new array, since callers may still hold slices of the old one,
		// with room to grow back to 2n: appends then never reallocate
		// (Go grows a large slice by 1.25×, which allocated about 6n
		// elements per round instead of 2n).
		out := make([]T, n, 2*n+1)
		copy(out, s[len(s)-n:])
		return out
	}
	return s
}

func last[T any](s []T, n int) []T { return s[max(0, len(s)-n):] }

// History is the most recent notable events, oldest first: each fact of
// the cluster once (see history), without the messages.
func (l *Lab) History() []sim.Observed { return last(l.hist.notable, l.hist.keep) }

// Version counts the changes a view draws: the notable events, and the
// followers' high watermarks (not news, but each replica row shows its
// own), so a view can redraw only when it moves. WireVersion counts the
// events that are not notable (messages, metadata entries, those high
// watermarks).
func (l *Lab) Version() uint64 { return l.hist.notableN + l.hist.quietN }

// WireVersion counts the events that are not notable (see Version).
func (l *Lab) WireVersion() uint64 { return l.hist.wireN }

// Wire is the most recent messages sent, delivered, lost or duplicated,
// and metadata log entries applied, oldest first.
func (l *Lab) Wire() []sim.Observed { return last(l.hist.wire, l.hist.keepWire) }
