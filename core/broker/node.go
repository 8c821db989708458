// Package broker is one Kafka broker as a deterministic state machine. It
// answers real Kafka requests (kmsg) with Kafka's semantics and error codes;
// one file per API, in the manner of franz-go's kfake.
package broker

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/topicname"
)

// Config is the broker's static configuration; DefaultConfig gives Kafka's
// defaults (server.properties names in comments).
type Config struct {
	ID        core.NodeID
	ClusterID string
	Host      string // advertised host and port, as in advertised.listeners
	Port      int32
	Rack      string
	// Seed feeds the broker's random source (topic ids).
	Seed uint64

	AutoCreateTopics         bool  // auto.create.topics.enable (true)
	NumPartitions            int32 // num.partitions (1)
	DefaultReplicationFactor int16 // default.replication.factor (1)
	MessageMaxBytes          int32 // message.max.bytes (1048588)
	RetentionCheckIntervalMs int64 // log.retention.check.interval.ms (300000)
	Log                      partlog.Config

	// KRaft makes the broker one of a cluster whose controller quorum owns
	// the metadata: topics, leaders and ISRs arrive through ApplyBroker,
	// ApplyTopic and ApplyPartition, and the broker sends topic creation,
	// deletion and ISR changes to the controller (forward.go) instead of
	// deciding them itself. Without it the broker is a cluster of one.
	KRaft bool
}

// DefaultConfig returns Kafka's broker defaults for node id.
func DefaultConfig(id core.NodeID) Config {
	return Config{
		ID:                       id,
		ClusterID:                "streamlab",
		Host:                     fmt.Sprintf("broker-%d", id),
		Port:                     9092,
		Seed:                     uint64(id),
		AutoCreateTopics:         true,
		NumPartitions:            1,
		DefaultReplicationFactor: 1,
		MessageMaxBytes:          1048588,
		RetentionCheckIntervalMs: 300000,
		Log:                      partlog.DefaultConfig(),
	}
}

// Node is a broker. Create it with New (empty store) or Open (recovery).
type Node struct {
	cfg    Config
	rnd    *rand.Rand
	now    int64
	topics map[string]*topic

	nextRetention int64
	parked        []*parkedFetch

	// Producer ids below producerIDLimit are reserved in the store.
	nextProducerID, producerIDLimit int64

	// The cluster as the metadata tells it (cluster.go, replication.go).
	brokers  map[int32]BrokerAddr
	fetchers map[int32]*fetcher // by leader: this broker's replica fetches
	produces []*parkedProduce   // acks=all produces waiting for the ISR
	corr     int32              // correlation ids of this broker's own requests
	groups   *coordinator       // the group coordinator (groups.go)

	// KRaft: the active controller (-1: unknown), this broker's epoch in
	// its registration, and requests waiting for the controller's answer.
	controller  int32
	brokerEpoch int64
	forwards    map[int32]forward

	writes []storage.Write
	out    []core.Envelope
	events []core.Event
}

type topic struct {
	meta  topicMeta
	cfg   topicConfig
	parts []*partition
}

// topicMeta is what is persisted for a topic, as JSON in meta/topics/<name>.
type topicMeta struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs"`
}

type partition struct {
	topic       string
	index       int32
	log         *partlog.Log
	hw          int64
	leaderEpoch int32
	producers   map[int64]*producerEntry // idempotent producers, see producerstate.go

	// Replication (see cluster.go): who holds the partition, who leads and
	// who is in sync, and, on the leader, what each follower has fetched.
	leader         int32
	replicas, isr  []int32
	partitionEpoch int32
	followers      map[int32]*followerState
	alterSent      int64 // KRaft: when the pending AlterPartition left (0: none)
	alterRetryAt   int64 // KRaft: no AlterPartition before this, after a refusal
	// pendingISR is the ISR this leader asked the controller for whose
	// outcome it does not know yet (KRaft; nil: none). The controller may
	// already count those replicas in, and may elect one of them, so the
	// high watermark waits for them too (Kafka's maximal ISR,
	// PendingExpandIsr / PendingShrinkIsr).
	pendingISR []int32
}

// leaderError is the error for a request that must reach p's leader in the
// client's current leader epoch (current < 0: the client did not say):
// UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH
// (the client is behind) or UNKNOWN_LEADER_EPOCH (this broker is behind)
// (KIP-320; Partition.getLocalLog / validateLeaderEpoch).
func (n *Node) leaderError(p *partition, current int32) *kerr.Error {
	switch {
	case p == nil:
		return kerr.UnknownTopicOrPartition
	case !n.isLeader(p):
		return kerr.NotLeaderForPartition
	case current >= 0 && current < p.leaderEpoch:
		return kerr.FencedLeaderEpoch
	case current > p.leaderEpoch:
		return kerr.UnknownLeaderEpoch
	}
	return nil
}

// sinceVersion is v if the request's version has the field, else -1.
func sinceVersion(version, since int16, v int32) int32 {
	if version < since {
		return -1
	}
	return v
}

// isLeader reports whether this broker leads p.
func (n *Node) isLeader(p *partition) bool { return p.leader == int32(n.cfg.ID) }

// New returns a broker with no topics; store must be empty.
func New(cfg Config) *Node {
	return &Node{
		cfg:        cfg,
		rnd:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9747b28c)),
		topics:     map[string]*topic{},
		controller: -1,
		forwards:   map[int32]forward{},
	}
}

// Open rebuilds a broker from what an earlier broker left in store: topic
// metadata and partition logs, cutting torn tails (reported as LogRecovered
// events in the first Ready). It returns an error, and changes nothing, if
// the metadata cannot be read.
func Open(cfg Config, store storage.Store) (*Node, error) {
	n := New(cfg)
	names, err := store.List("meta/topics/")
	if err != nil {
		return nil, fmt.Errorf("broker: listing topics: %w", err)
	}
	logNames, err := store.List("logs/")
	if err != nil {
		return nil, fmt.Errorf("broker: listing logs: %w", err)
	}
	byDir := map[string][]string{}
	for _, name := range logNames {
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			byDir[name[:i]] = append(byDir[name[:i]], name)
		}
	}
	for _, name := range names {
		data, err := store.Read(name)
		if err != nil {
			return nil, fmt.Errorf("broker: reading %s: %w", name, err)
		}
		var m topicMeta
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("broker: corrupt topic metadata %s: %w", name, err)
		}
		tc, err := parseTopicConfig(m.Configs, cfg)
		if err != nil || topicname.Validate(m.Name) != nil || m.Partitions < 1 {
			return nil, fmt.Errorf("broker: invalid topic metadata %s", name)
		}
		t := &topic{meta: m, cfg: tc}
		for i := int32(0); i < m.Partitions; i++ {
			dir := logDir(m.Name, i)
			l, recs, err := partlog.OpenNames(store, dir, byDir[dir], tc.log)
			if err != nil {
				return nil, fmt.Errorf("broker: opening %s-%d: %w", m.Name, i, err)
			}
			for _, r := range recs {
				n.events = append(n.events, core.LogRecovered{Topic: m.Name, Partition: i,
					Segment: r.Segment, TruncatedBytes: r.TruncatedBytes, NextOffset: r.NextOffset, Reason: r.Reason})
			}
			// With a single replica every stored record is committed. In
			// a cluster the partition waits for the metadata to say who
			// leads it.
			p := n.newPartition(m.Name, i, l)
			p.hw = l.LogEndOffset()
			if cfg.KRaft {
				// In a cluster what this replica holds may never have
				// been committed: its high watermark starts at the log
				// start and follows the leader's (Kafka restores a
				// checkpointed one, which lags the same way).
				p.leader, p.replicas, p.isr = -1, nil, nil
				p.hw = l.LogStartOffset()
			}
			p.rebuildProducers()
			t.parts = append(t.parts, p)
		}
		n.topics[m.Name] = t
		n.collectWrites(t)
	}
	if err := n.openProducerIDs(store); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	// Reseed from the stored ids too: the same seed must not hand out the
	// ids it gave before the restart (Kafka's topic ids are never reused),
	// while a run from the same store and seed still replays.
	h := fnv.New64a()
	for _, name := range n.topicNames() {
		id := n.topics[name].meta.ID
		h.Write(id[:])
	}
	n.rnd = rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))
	return n, nil
}

func logDir(topic string, p int32) string { return fmt.Sprintf("logs/%s-%d", topic, p) }

func (n *Node) ID() core.NodeID { return n.cfg.ID }

// Tick moves the clock, answers long-polling fetches whose wait is over and
// applies retention every log.retention.check.interval.ms.
func (n *Node) Tick(now int64) {
	if now > n.now {
		n.now = now
	}
	if n.nextRetention == 0 {
		n.nextRetention = n.now + n.cfg.RetentionCheckIntervalMs
	}
	if n.now >= n.nextRetention {
		n.nextRetention = n.now + n.cfg.RetentionCheckIntervalMs
		n.applyRetention()
	}
	for _, name := range n.topicNames() {
		for _, p := range n.topics[name].parts {
			n.shrinkISR(p)
		}
	}
	n.completeProduces()
	n.fetchAll()
	n.serveParked()
	n.expireForwards()
	n.tickGroups()
}

// Ready returns what the host must do; see core.Machine.
func (n *Node) Ready() core.Ready {
	return core.Ready{Writes: n.writes, Messages: n.out, Events: n.events}
}

// Advance forgets the last Ready.
func (n *Node) Advance() { n.writes, n.out, n.events = nil, nil, nil }

// supported lists the API versions this broker implements, by key. ApiVersions
// advertises exactly these.
var supported = map[int16][2]int16{
	kmsg.Produce.Int16():      {3, 11},
	kmsg.Fetch.Int16():        {4, 12},
	kmsg.ListOffsets.Int16():  {1, 7},
	kmsg.Metadata.Int16():     {0, 12},
	kmsg.ApiVersions.Int16():  {0, 4},
	kmsg.CreateTopics.Int16(): {0, 7},
	kmsg.DeleteTopics.Int16(): {0, 6},

	kmsg.OffsetForLeaderEpoch.Int16(): {0, 4},
	kmsg.ElectLeaders.Int16():         {0, 2},
	kmsg.InitProducerID.Int16():       {0, 5},
}

// Step handles one envelope. A request for a version we do not implement is
// dropped with a RequestFailed event, as Kafka closes such a connection;
// ApiVersions is the exception (see apiversions.go).
func (n *Node) Step(env core.Envelope) {
	req := env.Request
	if req == nil {
		switch resp := env.Response.(type) {
		case *kmsg.FetchResponse:
			n.replicaFetched(env, resp)
		case *kmsg.CreateTopicsResponse, *kmsg.DeleteTopicsResponse, *kmsg.AlterPartitionResponse, *kmsg.ElectLeadersResponse:
			n.controllerAnswered(env)
		}
		return
	}
	r, ok := supported[req.Key()]
	v := req.GetVersion()
	if req.Key() != kmsg.ApiVersions.Int16() && (!ok || v < r[0] || v > r[1]) {
		n.events = append(n.events, core.RequestFailed{API: core.APIName(req.Key()), Partition: -1,
			Error: fmt.Sprintf("%s: version %d", kerr.UnsupportedVersion.Message, v)})
		return
	}
	if n.cfg.KRaft && controllerDecides(req) {
		n.forward(env)
		return
	}
	var resp kmsg.Response
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp = n.apiVersions(req)
	case *kmsg.MetadataRequest:
		resp = n.metadata(req)
	case *kmsg.CreateTopicsRequest:
		resp = n.createTopics(req)
	case *kmsg.DeleteTopicsRequest:
		resp = n.deleteTopics(req)
	case *kmsg.OffsetForLeaderEpochRequest:
		resp = n.offsetForLeaderEpoch(req)
	case *kmsg.ElectLeadersRequest:
		resp = n.electLeaders(req)
	case *kmsg.InitProducerIDRequest:
		resp = n.initProducerID(req)
	case *kmsg.ProduceRequest:
		n.produce(env, req)
		return
	case *kmsg.ListOffsetsRequest:
		resp = n.listOffsets(req)
	case *kmsg.FetchRequest:
		if n.fetch(env, req) {
			return // parked until data arrives or MaxWaitMillis passes
		}
		resp = n.fetchResponse(req)
	default:
		if n.groupRequest(env) {
			return
		}
	}
	n.reply(env, resp)
}

func (n *Node) reply(env core.Envelope, resp kmsg.Response) {
	if resp == nil {
		return
	}
	n.out = append(n.out, core.Envelope{From: n.cfg.ID, To: env.From, CorrelationID: env.CorrelationID, Response: resp})
}

func (n *Node) partition(t string, p int32) *partition {
	tp := n.topics[t]
	if tp == nil || p < 0 || int(p) >= len(tp.parts) {
		return nil
	}
	return tp.parts[p]
}

func (n *Node) collectWrites(t *topic) {
	for _, p := range t.parts {
		n.writes = append(n.writes, p.log.Writes()...)
	}
}

func (n *Node) fail(api, topic string, p int32, err *kerr.Error) int16 {
	n.events = append(n.events, core.RequestFailed{API: api, Topic: topic, Partition: p, Error: err.Message})
	return err.Code
}

func (n *Node) applyRetention() {
	for _, name := range n.topicNames() {
		t := n.topics[name]
		for _, p := range t.parts {
			before := p.log.LogStartOffset()
			for _, d := range p.log.ApplyRetention(n.now, p.hw) {
				n.events = append(n.events, core.SegmentDeleted{Topic: name, Partition: p.index,
					BaseOffset: d.Base, NextOffset: d.Next, Reason: d.Reason})
			}
			if after := p.log.LogStartOffset(); after != before {
				n.events = append(n.events, core.LogStartOffsetAdvanced{Topic: name, Partition: p.index, LogStartOffset: after})
			}
			// The log cleaner, on the same schedule (Kafka's LogCleaner
			// thread checks every log.cleaner.backoff.ms, 15 s): a no-op
			// unless cleanup.policy has compact and the log is due
			// (LogCleanerManager). It cleans below the high watermark only.
			if c, ok := p.log.Compact(n.now, p.hw); ok {
				n.events = append(n.events, core.LogCompacted{Topic: name, Partition: p.index, Reason: c.Reason,
					DirtyRatio: c.DirtyRatio, FirstDirty: c.FirstDirty, CleanedUpTo: c.CleanedUpTo,
					SegmentsBefore: c.SegmentsBefore, SegmentsAfter: c.SegmentsAfter,
					BytesBefore: c.BytesBefore, BytesAfter: c.BytesAfter,
					RecordsRemoved: c.RecordsRemoved, TombstonesRemoved: c.TombstonesRemoved, RemovedOffsets: c.Removed})
			}
		}
		n.collectWrites(t)
	}
}

func (n *Node) topicNames() []string {
	names := make([]string, 0, len(n.topics))
	for name := range n.topics {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// createTopic makes a topic with a single replica on this broker.
func (n *Node) createTopic(name string, id [16]byte, partitions int32, configs map[string]string, tc topicConfig) *topic {
	m := topicMeta{Name: name, ID: id, Partitions: partitions, Configs: configs}
	t := &topic{meta: m, cfg: tc}
	for i := int32(0); i < partitions; i++ {
		t.parts = append(t.parts, n.newPartition(name, i, partlog.New(logDir(name, i), tc.log)))
	}
	data, _ := json.Marshal(m) // cannot fail: plain strings and numbers
	n.writes = append(n.writes, storage.Write{Op: storage.OpPut, Name: "meta/topics/" + name, Data: data})
	n.collectWrites(t)
	n.topics[name] = t
	n.events = append(n.events, core.TopicCreated{Topic: name, Partitions: partitions, Configs: tc.effective()})
	return t
}

// newPartition is a partition led by this broker alone, as on a single
// broker; ApplyPartition changes that in a cluster.
func (n *Node) newPartition(topic string, index int32, l *partlog.Log) *partition {
	self := int32(n.cfg.ID)
	return &partition{topic: topic, index: index, log: l, leader: self, replicas: []int32{self}, isr: []int32{self}}
}

// newTopicID draws a version 4 UUID, as Kafka's Uuid.randomUuid, that no
// topic uses.
func (n *Node) newTopicID() [16]byte {
	for {
		var id [16]byte
		for i := range id {
			id[i] = byte(n.rnd.Uint32())
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		taken := false
		for _, t := range n.topics {
			taken = taken || t.meta.ID == id
		}
		if !taken {
			return id
		}
	}
}

// collides reports an existing topic whose name differs only by '.' vs '_'
// (topicname.Collides).
func (n *Node) collides(name string) string {
	for other := range n.topics {
		if topicname.Collides(name, other) {
			return other
		}
	}
	return ""
}
