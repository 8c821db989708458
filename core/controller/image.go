package controller

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/streamlab/streamlab/core"
)

// Broker is a registered broker as the metadata log describes it.
type Broker struct {
	ID          int32
	Epoch       int64 // the offset of its RegisterBrokerRecord
	Incarnation [16]byte
	Listeners   []Listener
	Rack        string
	Fenced      bool
}

// Topic is a topic as the metadata log describes it.
type Topic struct {
	Name       string
	ID         [16]byte
	Configs    map[string]string
	Partitions []Partition
}

// Partition is a partition's registration: where its replicas live, who
// leads and who is in sync (Kafka's PartitionRegistration).
type Partition struct {
	Replicas       []int32 // in assignment order; the first is the preferred leader
	ISR            []int32
	Leader         int32 // NoLeader if none
	LeaderEpoch    int32
	PartitionEpoch int32
}

// Image is the state the metadata log describes up to Offset: brokers and
// topics (KRaft's MetadataImage). Every voter applies committed records to
// its Image; brokers will apply the same records, fetched from the log, to
// theirs. Readers get copies.
type Image struct {
	offset  int64
	brokers map[int32]*Broker
	topics  map[string]*Topic
	byID    map[[16]byte]*Topic
}

// NewImage returns the image of an empty log.
func NewImage() *Image {
	return &Image{brokers: map[int32]*Broker{}, topics: map[string]*Topic{}, byID: map[[16]byte]*Topic{}}
}

// Offset is the offset of the last batch applied (0: none).
func (im *Image) Offset() int64 { return im.offset }

// Broker returns a broker's registration.
func (im *Image) Broker(id int32) (Broker, bool) {
	b, ok := im.brokers[id]
	if !ok {
		return Broker{}, false
	}
	c := *b
	c.Listeners = slices.Clone(b.Listeners)
	return c, true
}

// Brokers lists every registered broker, by id.
func (im *Image) Brokers() []Broker {
	out := make([]Broker, 0, len(im.brokers))
	for _, id := range im.brokerIDs() {
		b, _ := im.Broker(id)
		out = append(out, b)
	}
	return out
}

// Topic returns a topic.
func (im *Image) Topic(name string) (Topic, bool) {
	t, ok := im.topics[name]
	if !ok {
		return Topic{}, false
	}
	return t.clone(), true
}

// TopicByID returns the topic with that id.
func (im *Image) TopicByID(id [16]byte) (Topic, bool) {
	t, ok := im.byID[id]
	if !ok {
		return Topic{}, false
	}
	return t.clone(), true
}

// Topics lists the topic names, sorted.
func (im *Image) Topics() []string {
	names := make([]string, 0, len(im.topics))
	for n := range im.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Partition returns one partition of a topic.
func (im *Image) Partition(topic string, p int32) (Partition, bool) {
	t, ok := im.topics[topic]
	if !ok || p < 0 || int(p) >= len(t.Partitions) {
		return Partition{}, false
	}
	return t.Partitions[p].clone(), true
}

func (t *Topic) clone() Topic {
	c := *t
	c.Configs = make(map[string]string, len(t.Configs))
	for k, v := range t.Configs {
		c.Configs[k] = v
	}
	c.Partitions = make([]Partition, len(t.Partitions))
	for i, p := range t.Partitions {
		c.Partitions[i] = p.clone()
	}
	return c
}

// merge is the partition after a change (PartitionRegistration.merge): the
// partition epoch always goes up, the leader epoch when the leader is set.
func (p Partition) merge(r PartitionChangeRecord) Partition {
	p = p.clone()
	p.PartitionEpoch++
	if r.Leader != NoLeaderChange {
		p.Leader = r.Leader
		p.LeaderEpoch++
	}
	if r.ISR != nil {
		p.ISR = slices.Clone(r.ISR)
	}
	return p
}

func (p Partition) clone() Partition {
	p.Replicas = slices.Clone(p.Replicas)
	p.ISR = slices.Clone(p.ISR)
	return p
}

func (im *Image) brokerIDs() []int32 {
	ids := make([]int32, 0, len(im.brokers))
	for id := range im.brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Apply applies one committed batch of records, the metadata log entry at
// offset, and returns what changed as events. Records must be consistent with
// the image (a fence names a registered broker epoch, a partition change an
// existing partition...): an error means the log and the image disagree, and
// the image may then hold part of the batch; stop using it.
func (im *Image) Apply(offset int64, recs ...Record) ([]core.Event, error) {
	var evs []core.Event
	var created []string
	for _, rec := range recs {
		ev, err := im.apply(rec)
		if err != nil {
			return evs, fmt.Errorf("controller: offset %d: %v: %w", offset, rec, err)
		}
		if t, ok := rec.(TopicRecord); ok {
			created = append(created, t.Name)
		}
		evs = append(evs, ev...)
	}
	// A topic is announced once its partitions and configs are in.
	for _, name := range created {
		if t := im.topics[name]; t != nil {
			t := t.clone()
			evs = append(evs, core.TopicCreated{Topic: t.Name, Partitions: int32(len(t.Partitions)), Configs: t.Configs})
		}
	}
	im.offset = offset
	return evs, nil
}

func (im *Image) apply(rec Record) ([]core.Event, error) {
	switch r := rec.(type) {
	case RegisterBrokerRecord:
		im.brokers[r.BrokerID] = &Broker{ID: r.BrokerID, Epoch: r.BrokerEpoch, Incarnation: r.Incarnation,
			Listeners: slices.Clone(r.Listeners), Rack: r.Rack, Fenced: r.Fenced}
		return []core.Event{core.BrokerRegistered{Broker: core.NodeID(r.BrokerID), Epoch: r.BrokerEpoch}}, nil
	case FenceBrokerRecord:
		if err := im.setFenced(r.ID, r.Epoch, true); err != nil {
			return nil, err
		}
		return []core.Event{core.BrokerFenced{Broker: core.NodeID(r.ID), Epoch: r.Epoch, Reason: r.Reason}}, nil
	case UnfenceBrokerRecord:
		if err := im.setFenced(r.ID, r.Epoch, false); err != nil {
			return nil, err
		}
		return []core.Event{core.BrokerUnfenced{Broker: core.NodeID(r.ID), Epoch: r.Epoch}}, nil
	case TopicRecord:
		if im.topics[r.Name] != nil || im.byID[r.TopicID] != nil {
			return nil, fmt.Errorf("topic %s or its id exists", r.Name)
		}
		t := &Topic{Name: r.Name, ID: r.TopicID, Configs: map[string]string{}}
		im.topics[r.Name], im.byID[r.TopicID] = t, t
		return nil, nil
	case PartitionRecord:
		t := im.byID[r.TopicID]
		if t == nil || int(r.Partition) != len(t.Partitions) {
			return nil, fmt.Errorf("no topic, or partition %d out of order", r.Partition)
		}
		t.Partitions = append(t.Partitions, Partition{Replicas: slices.Clone(r.Replicas), ISR: slices.Clone(r.ISR),
			Leader: r.Leader, LeaderEpoch: r.LeaderEpoch, PartitionEpoch: r.PartitionEpoch})
		return nil, nil
	case ConfigRecord:
		t := im.topics[r.Topic]
		if t == nil {
			return nil, fmt.Errorf("no topic %s", r.Topic)
		}
		t.Configs[r.Name] = r.Value
		return nil, nil
	case PartitionChangeRecord:
		t := im.byID[r.TopicID]
		if t == nil || r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
			return nil, fmt.Errorf("no such partition")
		}
		old := t.Partitions[r.Partition]
		p := old.merge(r)
		t.Partitions[r.Partition] = p
		var evs []core.Event
		if r.Leader != NoLeaderChange {
			evs = append(evs, core.PartitionLeaderChanged{Topic: t.Name, Partition: r.Partition, Leader: p.Leader,
				PreviousLeader: old.Leader, LeaderEpoch: p.LeaderEpoch, Unclean: p.Leader != NoLeader && !slices.Contains(old.ISR, p.Leader)})
		}
		if r.ISR != nil {
			evs = append(evs, core.IsrChanged{Topic: t.Name, Partition: r.Partition, ISR: slices.Clone(p.ISR),
				PreviousISR: old.ISR, PartitionEpoch: p.PartitionEpoch})
		}
		return evs, nil
	case RemoveTopicRecord:
		t := im.byID[r.TopicID]
		if t == nil {
			return nil, fmt.Errorf("no topic with that id")
		}
		delete(im.topics, t.Name)
		delete(im.byID, t.ID)
		return []core.Event{core.TopicDeleted{Topic: t.Name, TopicID: t.ID, Partitions: int32(len(t.Partitions))}}, nil
	}
	return nil, fmt.Errorf("unknown record %T", rec)
}

// setFenced fences or unfences the registration with that epoch
// (ClusterControlManager.replay of Fence/UnfenceBrokerRecord).
func (im *Image) setFenced(id int32, epoch int64, fenced bool) error {
	b := im.brokers[id]
	if b == nil || b.Epoch != epoch {
		return fmt.Errorf("no broker %d with epoch %d", id, epoch)
	}
	b.Fenced = fenced
	return nil
}

// Records returns records that rebuild the image from nothing: the content
// of a snapshot (KRaft snapshots are records too).
func (im *Image) Records() []Record {
	var recs []Record
	for _, id := range im.brokerIDs() {
		b := im.brokers[id]
		recs = append(recs, RegisterBrokerRecord{BrokerID: b.ID, Incarnation: b.Incarnation, BrokerEpoch: b.Epoch,
			Listeners: slices.Clone(b.Listeners), Rack: b.Rack, Fenced: b.Fenced})
	}
	for _, name := range im.Topics() {
		t := im.topics[name]
		recs = append(recs, TopicRecord{Name: t.Name, TopicID: t.ID})
		keys := make([]string, 0, len(t.Configs))
		for k := range t.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			recs = append(recs, ConfigRecord{Topic: t.Name, Name: k, Value: t.Configs[k]})
		}
		for i, p := range t.Partitions {
			recs = append(recs, PartitionRecord{TopicID: t.ID, Partition: int32(i), Replicas: slices.Clone(p.Replicas),
				ISR: slices.Clone(p.ISR), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch})
		}
	}
	return recs
}

// String describes the whole image, deterministically: tests compare
// voters' images with it.
func (im *Image) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "offset %d\n", im.offset)
	for _, br := range im.Brokers() {
		fmt.Fprintf(&b, "broker %d epoch=%d fenced=%t\n", br.ID, br.Epoch, br.Fenced)
	}
	for _, name := range im.Topics() {
		t := im.topics[name]
		fmt.Fprintf(&b, "topic %s id=%s configs=%v\n", t.Name, UUIDString(t.ID), t.Configs)
		for i, p := range t.Partitions {
			fmt.Fprintf(&b, "  %d replicas=%v isr=%v leader=%d leaderEpoch=%d partitionEpoch=%d\n",
				i, p.Replicas, p.ISR, p.Leader, p.LeaderEpoch, p.PartitionEpoch)
		}
	}
	return b.String()
}
