// Package lab is the single-tab world of the first page: a KRaft cluster of
// three servers (each a broker and a controller voter, Kafka's combined
// mode), a replicated topic, a producer and a consumer, all real core
// machines exchanging real Kafka requests and raft messages inside a sim.
// The UI drives its clock, reads its state and breaks it (faults.go); tests
// drive it headless exactly the same way. Everything the lab reports is read
// from the machines or from their events: nothing is modelled here.
package lab

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// Ids of the clients in the lab; brokers are 1..Config.Brokers.
const (
	AdminID    = core.ClientIDBase
	ProducerID = core.ClientIDBase + 1 // acks=all, the default producer
	ConsumerID = core.ClientIDBase + 2
	// The producers made when the learner picks another acks setting.
	ProducerAcks1ID = core.ClientIDBase + 3
	ProducerAcks0ID = core.ClientIDBase + 4
)

// Config sets up a lab. Zero values take the defaults in brackets.
type Config struct {
	Seed              uint64
	Brokers           int    // servers, all controller voters (3)
	Topic             string // ("events")
	Partitions        int32  // (6)
	ReplicationFactor int16  // (3, at most Brokers)
	MinInsyncReplicas int    // the topic's min.insync.replicas (2, at most the replication factor)
	// Network latency, so a learner can watch requests travel (1..3 ms:
	// the sim's default).
	MinLatencyMs, MaxLatencyMs int64
	// KeepEvents bounds the history of notable events (500); KeepWire
	// the history of messages and metadata entries (300).
	KeepEvents, KeepWire int
	// ClientRequestTimeoutMs is request.timeout.ms of the producer and
	// the consumer (Kafka's default, 30000). A crashed broker's TCP
	// connections would reset at once; in the sim its requests are just
	// lost, so clients wait this long before they try elsewhere.
	ClientRequestTimeoutMs int64
	// NoWarmup leaves the cluster unstarted: New then returns at once,
	// before the quorum elected a controller and the topic exists.
	NoWarmup bool
	// UncleanLeaderElection sets the topic's unclean.leader.election.enable
	// (Kafka's default, false): with it the controller may elect a replica
	// out of the ISR when no ISR member is left, trading acknowledged
	// records for availability. Kafka can change it on a live topic; the
	// lab has no such API, so it is set when the topic is created.
	UncleanLeaderElection bool
}

func (c Config) withDefaults() Config {
	if c.Brokers <= 0 {
		c.Brokers = 3
	}
	if c.Topic == "" {
		c.Topic = "events"
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = 3
	}
	c.ReplicationFactor = min(c.ReplicationFactor, int16(c.Brokers))
	if c.MinInsyncReplicas <= 0 {
		c.MinInsyncReplicas = 2
	}
	c.MinInsyncReplicas = min(c.MinInsyncReplicas, int(c.ReplicationFactor))
	if c.KeepEvents <= 0 {
		c.KeepEvents = 500
	}
	if c.KeepWire <= 0 {
		c.KeepWire = 300
	}
	if c.ClientRequestTimeoutMs <= 0 {
		c.ClientRequestTimeoutMs = 30000
	}
	return c
}

// Lab is a running cluster with its clients.
type Lab struct {
	cfg     Config
	Sim     *sim.Sim
	ids     []core.NodeID
	servers map[core.NodeID]*server.Server
	scfgs   map[core.NodeID]server.Config

	// Broker is broker 1's broker (after a restart, the new process's).
	// With replication factor 3 it holds every partition: callers written
	// for the single-broker lab (core/check's tests) read it.
	Broker *broker.Node

	// Producer is the producer of the current acks setting (SetAcks).
	Producer   *client.Producer
	producers  map[client.Acks]*client.Producer
	strategy   string   // the partitioner strategy (strategy.go)
	chooser    *chooser // every producer's partitioner.class
	Consumer   *client.Consumer
	admin      *client.Admin
	started    bool // the clients are added
	adminAdded bool

	grp      groups // consumer groups (groups.go)
	slow     map[core.NodeID]int64
	checks   map[int32]*partCheck // CheckAcked's state, by partition (check.go)
	ackedBy  [3]int               // len(acked) by acks setting (ackSlot)
	hist     history
	rec      recorder
	acked    []ack  // every acknowledged record, for CheckAcked
	ackBytes []byte // their keys and values (see ack)
	metrics  metrics
	prods    producers // the learner's named producers (producers.go)
}

// New starts a lab: three servers, then an admin request creating the
// topic (replication factor 3, min.insync.replicas=2), then the producer
// (acks=all) and a consumer reading every partition from the earliest
// offset. Unless cfg.NoWarmup, it runs the sim until the quorum has a
// controller, the brokers are unfenced and every partition has a leader
// (a few simulated seconds), so a page lands on a working cluster; the
// history tells how it formed.
func New(cfg Config) *Lab {
	cfg = cfg.withDefaults()
	s := sim.New(cfg.Seed)
	if cfg.MaxLatencyMs > 0 {
		s.Net = sim.Network{MinLatencyMs: cfg.MinLatencyMs, MaxLatencyMs: cfg.MaxLatencyMs}
	}
	l := &Lab{cfg: cfg, Sim: s, servers: map[core.NodeID]*server.Server{}, scfgs: map[core.NodeID]server.Config{},
		producers: map[client.Acks]*client.Producer{}, slow: map[core.NodeID]int64{}, strategy: StrategyDefault}
	l.chooser = newChooser(l)
	l.hist.init(cfg.KeepEvents, cfg.KeepWire)
	s.OnEvent = l.onEvent

	for i := 1; i <= cfg.Brokers; i++ {
		l.ids = append(l.ids, core.NodeID(i))
	}
	for _, id := range l.ids {
		scfg := server.Config{Broker: broker.DefaultConfig(id)}
		scfg.Broker.Seed = s.Rand().Uint64()
		scfg.Broker.AutoCreateTopics = false // the consumer must not create the topic first
		scfg.Controller.Voters = l.ids
		scfg.Controller.DefaultReplicationFactor = cfg.ReplicationFactor
		l.scfgs[id] = scfg
		srv, err := server.New(scfg)
		if err != nil {
			panic(err) // New with no store cannot fail
		}
		setGroupConfig(srv)
		l.servers[id] = srv
		s.Add(srv, nil)
	}
	l.Broker = l.servers[l.ids[0]].Broker()

	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = cfg.Topic, cfg.Partitions, cfg.ReplicationFactor
	topic.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr(strconv.Itoa(cfg.MinInsyncReplicas))}}
	if cfg.UncleanLeaderElection {
		topic.Configs = append(topic.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "unclean.leader.election.enable", Value: kmsg.StringPtr("true")})
	}
	l.admin = client.NewAdmin(AdminID, l.ids, topic)

	// The producer and the consumer start once the topic exists: a client
	// asking for metadata earlier would only see errors.
	l.Producer = l.newProducer(ProducerID, client.AcksAll)
	l.Consumer = client.NewConsumer(client.ConsumerConfig{
		ID: ConsumerID, ClientID: "lab-consumer", Bootstrap: l.ids,
		Topics: []string{cfg.Topic}, AutoOffsetReset: "earliest", NoAutoCreateTopics: true,
		RequestTimeoutMs: cfg.ClientRequestTimeoutMs, Seed: s.Rand().Uint64()})
	s.After(0, l.boot)
	if !cfg.NoWarmup {
		s.RunUntil(l.TopicReady, 60000)
	}
	return l
}

// boot brings the world up as an operator would: once every broker is
// registered and unfenced, the admin creates the topic (with fewer brokers
// the controller refuses replication factor 3); once every broker knows a
// leader for each partition, the producer and the consumer start. It checks
// every 100 virtual ms, on the sim's clock, so runs replay.
func (l *Lab) boot() {
	if l.started {
		return
	}
	if !l.adminAdded && l.allUnfenced() {
		l.adminAdded = true
		l.Sim.Add(l.admin, nil)
	}
	if l.adminAdded && l.TopicReady() {
		return
	}
	l.Sim.After(100, l.boot)
}

func (l *Lab) allUnfenced() bool {
	for _, id := range l.ids {
		if epoch, fenced := l.servers[id].Registered(); epoch < 0 || fenced {
			return false
		}
	}
	return true
}

func (l *Lab) newProducer(id core.NodeID, acks client.Acks) *client.Producer {
	p := client.NewProducer(client.ProducerConfig{
		ID: id, ClientID: "lab-producer-acks-" + acks.String(), Bootstrap: l.ids, Acks: acks,
		RequestTimeoutMs: l.cfg.ClientRequestTimeoutMs, Seed: l.Sim.Rand().Uint64(), Partitioner: l.chooser})
	l.producers[acks] = p
	return p
}

// startClients adds the producer and the consumer once the topic exists.
func (l *Lab) startClients() {
	if l.started {
		return
	}
	l.started = true
	for _, a := range []client.Acks{client.AcksAll, client.AcksLeader, client.AcksNone} {
		if p := l.producers[a]; p != nil {
			l.Sim.Add(p, nil)
		}
	}
	l.Sim.Add(l.Consumer, nil)
}

// Config is the lab's effective configuration.
func (l *Lab) Config() Config { return l.cfg }

// Topic is the lab's topic name.
func (l *Lab) Topic() string { return l.cfg.Topic }

// PartitionCount is the topic's number of partitions.
func (l *Lab) PartitionCount() int32 { return l.cfg.Partitions }

// BrokerIDs are the servers' ids, in order.
func (l *Lab) BrokerIDs() []core.NodeID { return append([]core.NodeID(nil), l.ids...) }

// Server is a server, for reading its state; after a crash it is the dead
// process, frozen as it was (RestartBroker opens a new one).
func (l *Lab) Server(id core.NodeID) *server.Server { return l.servers[id] }

// TopicReady reports whether the topic exists and every running broker
// knows a leader for each of its partitions. It adds the clients the first
// time it holds.
func (l *Lab) TopicReady() bool {
	if !l.adminAdded || !l.admin.Done() || l.admin.Err() != nil {
		return false
	}
	for _, id := range l.ids {
		if l.Sim.Machine(id) == nil {
			continue
		}
		for p := int32(0); p < l.cfg.Partitions; p++ {
			if info, ok := l.servers[id].Broker().Partition(l.cfg.Topic, p); !ok || info.Leader < 0 {
				return false
			}
		}
	}
	l.startClients()
	return true
}

// Produce hands a record to the producer of the current acks setting; a nil
// key uses the sticky partitioner.
func (l *Lab) Produce(key, value []byte) {
	l.record(Action{Kind: ActProduce, Key: key, Value: value})
	l.startClients()
	l.Producer.Send(client.Record{Topic: l.cfg.Topic, Partition: client.AnyPartition, Key: key, Value: value})
}

// Acks is the acks setting of the producer Produce uses.
func (l *Lab) Acks() client.Acks { return l.Producer.Config().Acks }

// SetAcks switches Produce to a producer with another acks setting. A
// producer's acks is fixed when it is created (as in Kafka), so each
// setting has its own producer machine, made the first time it is chosen;
// records already sent finish with the producer that took them.
func (l *Lab) SetAcks(acks client.Acks) {
	l.record(Action{Kind: ActSetAcks, N: int64(acks)})
	if p := l.producers[acks]; p != nil {
		l.Producer = p
		return
	}
	id := ProducerAcks1ID
	switch acks {
	case client.AcksAll:
		id = ProducerID
	case client.AcksNone:
		id = ProducerAcks0ID
	}
	l.Producer = l.newProducer(id, acks)
	if l.started {
		l.Sim.Add(l.Producer, nil)
	}
}

// AcksOf is the acks setting of a lab producer, ok false for other ids.
func (l *Lab) AcksOf(id core.NodeID) (client.Acks, bool) {
	for a, p := range l.producers {
		if p.ID() == id {
			return a, true
		}
	}
	return l.namedAcks(id)
}

// PartitionFor is where the producer will put a key: Kafka's murmur2
// partitioner, computed on the client side.
func (l *Lab) PartitionFor(key []byte) int32 { return client.KeyPartition(key, l.cfg.Partitions) }

// Partitions describes every partition of the topic as its leader holds it
// (see Leader); a partition without a reachable leader is left out.
func (l *Lab) Partitions() []broker.PartitionInfo {
	var out []broker.PartitionInfo
	for p := int32(0); p < l.cfg.Partitions; p++ {
		if id := l.leaderNode(p); id >= 0 {
			if info, ok := l.servers[id].Broker().Partition(l.cfg.Topic, p); ok {
				out = append(out, info)
			}
		}
	}
	return out
}

// Records returns the newest records of a partition on its leader, at most
// max.
func (l *Lab) Records(partition int32, max int) []broker.StoredRecord {
	id := l.leaderNode(partition)
	if id < 0 {
		return nil
	}
	return l.ReplicaRecords(id, partition, max)
}

// ReplicaRecords returns the newest records of a partition as broker id
// holds them, at most max (a crashed broker: as it held them).
func (l *Lab) ReplicaRecords(id core.NodeID, partition int32, max int) []broker.StoredRecord {
	srv := l.servers[id]
	if srv == nil {
		return nil
	}
	info, ok := srv.Broker().Partition(l.cfg.Topic, partition)
	if !ok {
		return nil
	}
	return srv.Broker().Records(l.cfg.Topic, partition, max64(info.LogStartOffset, info.LogEndOffset-int64(max)), max)
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// Advance runs the world for ms virtual milliseconds.
func (l *Lab) Advance(ms int64) {
	end := l.Sim.Now() + ms
	if !l.started {
		l.Sim.RunUntil(l.TopicReady, ms)
	}
	if rest := end - l.Sim.Now(); rest > 0 {
		l.Sim.RunFor(rest)
	}
	l.Sim.ForgetEvents() // observe has seen them: the sim's own list would only grow
}

// Skip jumps the clock ahead (to watch retention), ticking machines once.
// Every clock jumps together, so the controller sees no heartbeat for the
// whole jump and fences the brokers until they heartbeat again, as it
// would after the cluster froze for that long.
func (l *Lab) Skip(ms int64) {
	l.record(Action{Kind: ActSkip, N: ms})
	l.Sim.Jump(ms)
}

// Now is the virtual time in Unix ms.
func (l *Lab) Now() int64 { return l.Sim.Now() }

// Consumed is the most recent records the consumer read, oldest first.
func (l *Lab) Consumed() []core.RecordConsumed { return last(l.hist.consumed, l.hist.keep) }

// Acked is the most recent records a producer saw acknowledged, oldest
// first (offset -1 with acks=0).
func (l *Lab) Acked() []core.RecordAcked { return last(l.hist.acked, l.hist.keep) }

// AdminError is the error of the topic creation, if it failed.
func (l *Lab) AdminError() error { return l.admin.Err() }

// open opens server id on store (a restart), with the configuration it
// first had.
func (l *Lab) open(id core.NodeID, store storage.Store) core.Machine {
	srv, err := server.Open(l.scfgs[id], store)
	if err != nil {
		return nil // the sim records a StorageFailed and the broker stays down
	}
	setGroupConfig(srv)
	l.servers[id] = srv
	if id == l.ids[0] {
		l.Broker = srv.Broker()
	}
	return srv
}
