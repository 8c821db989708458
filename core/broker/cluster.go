package broker

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// In a cluster the broker does not decide who holds a partition: the
// controller's metadata log does, and every broker applies it (KRaft's
// BrokerMetadataPublisher / ReplicaManager.applyDelta). These methods are
// that seam: what the metadata says about brokers, topics and partitions.
// Until the controller is wired in, tests call them directly, and ISR
// changes a leader asks for are applied at once (see alterISR).

// BrokerAddr is where a broker listens (a RegisterBrokerRecord's listener).
type BrokerAddr struct {
	ID   int32
	Host string
	Port int32
	Rack string
	// Fenced brokers are left out of Metadata responses, as Kafka lists
	// only the brokers that are alive.
	Fenced bool
}

// PartitionState is a partition's registration in the metadata log.
type PartitionState struct {
	Leader         int32 // -1: no leader
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32 // assignment order; the first is the preferred leader
	ISR            []int32
}

// ApplyBroker records where a broker listens, for Metadata responses.
func (n *Node) ApplyBroker(b BrokerAddr) {
	if n.brokers == nil {
		n.brokers = map[int32]BrokerAddr{}
	}
	n.brokers[b.ID] = b
}

// ApplyTopic creates a topic whose partitions the metadata will place; each
// starts with no leader until ApplyPartition. A topic of that name with
// another id was deleted and created again while this broker was away: its
// old log goes.
func (n *Node) ApplyTopic(name string, id [16]byte, partitions int32, configs map[string]string) error {
	if t := n.topics[name]; t != nil {
		if t.meta.ID == id {
			return nil
		}
		n.ApplyRemoveTopic(name)
	}
	tc, err := parseTopicConfig(configs, n.cfg)
	if err != nil {
		return err
	}
	t := n.createTopic(name, id, partitions, configs, tc)
	for _, p := range t.parts {
		p.leader, p.replicas, p.isr = -1, nil, nil
	}
	return nil
}

// ApplyRemoveTopic deletes a topic the metadata no longer has.
func (n *Node) ApplyRemoveTopic(name string) {
	if n.topics[name] == nil {
		return
	}
	n.deleteTopic(name)
	n.completeProduces()
	n.serveParked()
}

// TopicID returns the id of a topic this broker holds.
func (n *Node) TopicID(name string) ([16]byte, bool) {
	if t := n.topics[name]; t != nil {
		return t.meta.ID, true
	}
	return [16]byte{}, false
}

// TopicNames lists the topics this broker holds, sorted.
func (n *Node) TopicNames() []string { return n.topicNames() }

// SetController tells a KRaft broker which voter is the active controller
// (-1: none known) and its own broker epoch, for the requests it sends
// there.
func (n *Node) SetController(id int32, brokerEpoch int64) {
	n.controller, n.brokerEpoch = id, brokerEpoch
}

// ApplyPartition makes this broker the partition's leader or a follower as
// the state says (Partition.makeLeader / makeFollower).
func (n *Node) ApplyPartition(topic string, index int32, st PartitionState) {
	p := n.partition(topic, index)
	if p == nil || st.LeaderEpoch < p.leaderEpoch ||
		st.LeaderEpoch == p.leaderEpoch && st.Leader == p.leader && st.PartitionEpoch < p.partitionEpoch {
		return // unknown topic, or stale metadata (the leader may know its ISR change first)
	}
	if st.PartitionEpoch != p.partitionEpoch {
		// The change we asked for, or another, is decided.
		p.alterSent, p.pendingISR = 0, nil
	}
	self := int32(n.cfg.ID)
	wasLeader := n.isLeader(p)
	newEpoch := st.LeaderEpoch != p.leaderEpoch || st.Leader != p.leader
	p.leader, p.leaderEpoch, p.partitionEpoch = st.Leader, st.LeaderEpoch, st.PartitionEpoch
	p.replicas, p.isr = slices.Clone(st.Replicas), slices.Clone(st.ISR)
	if n.isLeader(p) {
		p.log.AssignEpoch(st.LeaderEpoch)
		if !wasLeader || newEpoch {
			// A new leader knows nothing of its followers yet; it starts
			// their clocks now so that they get replica.lag.time.max.ms
			// to catch up (Partition.makeLeader resets replica state).
			p.followers = map[int32]*followerState{}
			for _, r := range p.replicas {
				if r != self {
					p.followers[r] = &followerState{leo: -1, lastCaughtUp: n.now}
				}
			}
			n.events = append(n.events, core.ReplicaRoleChanged{Topic: topic, Partition: index, Role: "leader", Leader: st.Leader, LeaderEpoch: st.LeaderEpoch})
		}
		n.maybeAdvanceHW(p)
		if !wasLeader || newEpoch {
			n.groupsPartitionChanged(p)
		}
		return
	}
	p.followers = nil
	if wasLeader || newEpoch {
		n.groupsPartitionChanged(p)
	}
	if wasLeader {
		n.completeProduces() // answers NOT_LEADER_OR_FOLLOWER to waiting acks=all produces
	}
	if newEpoch && slices.Contains(p.replicas, self) {
		n.events = append(n.events, core.ReplicaRoleChanged{Topic: topic, Partition: index, Role: "follower", Leader: st.Leader, LeaderEpoch: st.LeaderEpoch})
	}
	if slices.Contains(p.replicas, self) && p.leader >= 0 {
		n.fetch0(p.leader)
	}
}

func (n *Node) brokerList() []kmsg.MetadataResponseBroker {
	self := BrokerAddr{ID: int32(n.cfg.ID), Host: n.cfg.Host, Port: n.cfg.Port, Rack: n.cfg.Rack}
	all := map[int32]BrokerAddr{self.ID: self}
	for id, b := range n.brokers {
		switch {
		case !b.Fenced:
			all[id] = b
		case id == self.ID && n.cfg.KRaft:
			delete(all, id) // fenced: not alive, not listed (even by itself)
		}
	}
	var out []kmsg.MetadataResponseBroker
	for _, b := range all {
		mb := kmsg.MetadataResponseBroker{NodeID: b.ID, Host: b.Host, Port: b.Port}
		if b.Rack != "" {
			mb.Rack = kmsg.StringPtr(b.Rack)
		}
		out = append(out, mb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

// Replica describes one replica of a partition, for the UI and checkers.
type Replica struct {
	Broker       int32
	InSync       bool
	LogEndOffset int64 // as the leader last saw it (-1: not yet)
}

// Replicas lists a partition's replicas as this broker, its leader, sees
// them; nil on a follower.
func (n *Node) Replicas(topic string, index int32) []Replica {
	p := n.partition(topic, index)
	if p == nil || !n.isLeader(p) {
		return nil
	}
	var out []Replica
	for _, r := range p.replicas {
		leo := p.log.LogEndOffset()
		if f := p.followers[r]; f != nil {
			leo = f.leo
		}
		out = append(out, Replica{Broker: r, InSync: slices.Contains(p.isr, r), LogEndOffset: leo})
	}
	return out
}
