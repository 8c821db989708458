// Package lab is the single-tab world of the first page: one broker, a topic,
// a producer and a consumer, all real core machines exchanging real Kafka
// requests inside a sim. The UI drives its clock and reads its state; tests
// drive it headless exactly the same way.
package lab

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/sim"
)

// Ids of the machines in the lab.
const (
	BrokerID   core.NodeID = 1
	AdminID                = core.ClientIDBase
	ProducerID             = core.ClientIDBase + 1
	ConsumerID             = core.ClientIDBase + 2
)

// Config sets up a lab.
type Config struct {
	Seed       uint64
	Topic      string // "events"
	Partitions int32  // 3
	// Network latency, so a learner can watch requests travel.
	MinLatencyMs, MaxLatencyMs int64
	// KeepEvents bounds the event history (500).
	KeepEvents int
}

// Lab is a running single-broker world.
type Lab struct {
	cfg      Config
	Sim      *sim.Sim
	Broker   *broker.Node
	Producer *client.Producer
	Consumer *client.Consumer
	admin    *client.Admin
	history  []sim.Observed
	consumed []core.RecordConsumed
	acked    []core.RecordAcked
}

// New starts a lab: the broker, then an admin request creating the topic,
// then the producer (acks=all) and a consumer reading every partition from
// the earliest offset.
func New(cfg Config) *Lab {
	if cfg.Topic == "" {
		cfg.Topic = "events"
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 3
	}
	if cfg.KeepEvents <= 0 {
		cfg.KeepEvents = 500
	}
	s := sim.New(cfg.Seed)
	if cfg.MaxLatencyMs > 0 {
		s.Net = sim.Network{MinLatencyMs: cfg.MinLatencyMs, MaxLatencyMs: cfg.MaxLatencyMs}
	}
	l := &Lab{cfg: cfg, Sim: s}
	s.OnEvent = l.observe

	bcfg := broker.DefaultConfig(BrokerID)
	bcfg.Seed = s.Rand().Uint64()
	l.Broker = broker.New(bcfg)
	s.Add(l.Broker, nil)

	l.admin = client.NewAdmin(AdminID, []core.NodeID{BrokerID}, kmsg.CreateTopicsRequestTopic{
		Topic: cfg.Topic, NumPartitions: cfg.Partitions, ReplicationFactor: 1})
	s.Add(l.admin, nil)

	l.Producer = client.NewProducer(client.ProducerConfig{
		ID: ProducerID, ClientID: "lab-producer", Bootstrap: []core.NodeID{BrokerID}, Seed: s.Rand().Uint64()})
	s.Add(l.Producer, nil)
	l.Consumer = client.NewConsumer(client.ConsumerConfig{
		ID: ConsumerID, ClientID: "lab-consumer", Bootstrap: []core.NodeID{BrokerID},
		Topics: []string{cfg.Topic}, AutoOffsetReset: "earliest", Seed: s.Rand().Uint64()})
	s.Add(l.Consumer, nil)
	return l
}

func (l *Lab) observe(o sim.Observed) {
	switch ev := o.Event.(type) {
	case core.RecordConsumed:
		l.consumed = keepLast(append(l.consumed, ev), l.cfg.KeepEvents)
	case core.RecordAcked:
		l.acked = keepLast(append(l.acked, ev), l.cfg.KeepEvents)
	}
	l.history = keepLast(append(l.history, o), l.cfg.KeepEvents)
}

func keepLast[T any](s []T, n int) []T {
	if len(s) > n {
		return append(s[:0:0], s[len(s)-n:]...)
	}
	return s
}

// Topic is the lab's topic name.
func (l *Lab) Topic() string { return l.cfg.Topic }

// TopicReady reports whether the broker has created the topic.
func (l *Lab) TopicReady() bool {
	_, ok := l.Broker.Partition(l.cfg.Topic, 0)
	return ok
}

// Produce hands a record to the producer; a nil key uses the sticky
// partitioner.
func (l *Lab) Produce(key, value []byte) {
	l.Producer.Send(client.Record{Topic: l.cfg.Topic, Partition: client.AnyPartition, Key: key, Value: value})
}

// PartitionFor is where the producer will put a key: Kafka's murmur2
// partitioner, computed on the client side.
func (l *Lab) PartitionFor(key []byte) int32 { return client.KeyPartition(key, l.cfg.Partitions) }

// Partitions describes every partition of the topic.
func (l *Lab) Partitions() []broker.PartitionInfo {
	var out []broker.PartitionInfo
	for p := int32(0); p < l.cfg.Partitions; p++ {
		if info, ok := l.Broker.Partition(l.cfg.Topic, p); ok {
			out = append(out, info)
		}
	}
	return out
}

// Records returns the newest records of a partition, at most max.
func (l *Lab) Records(partition int32, max int) []broker.StoredRecord {
	info, ok := l.Broker.Partition(l.cfg.Topic, partition)
	if !ok {
		return nil
	}
	return l.Broker.Records(l.cfg.Topic, partition, max64(info.LogStartOffset, info.LogEndOffset-int64(max)), max)
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// Advance runs the world for ms virtual milliseconds.
func (l *Lab) Advance(ms int64) { l.Sim.RunFor(ms) }

// Skip jumps the clock ahead (to watch retention), ticking machines once.
func (l *Lab) Skip(ms int64) { l.Sim.Jump(ms) }

// Now is the virtual time in Unix ms.
func (l *Lab) Now() int64 { return l.Sim.Now() }

// History is the most recent events, oldest first.
func (l *Lab) History() []sim.Observed { return l.history }

// Consumed is the most recent records the consumer read, oldest first.
func (l *Lab) Consumed() []core.RecordConsumed { return l.consumed }

// Acked is the most recent records the broker acknowledged, oldest first.
func (l *Lab) Acked() []core.RecordAcked { return l.acked }

// AdminError is the error of the topic creation, if it failed.
func (l *Lab) AdminError() error { return l.admin.Err() }
