package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (a TopicPartition) String() string { return fmt.Sprintf("%s-%d", a.Topic, a.Partition) }

func (a TopicPartition) compare(b TopicPartition) int {
	return tp{a.Topic, a.Partition}.compare(tp{b.Topic, b.Partition})
}

// ListOffsets timestamps that name a position rather than a time
// (ListOffsetsRequest.EARLIEST_TIMESTAMP, LATEST_TIMESTAMP).
const (
	earliestTimestamp int64 = -2
	latestTimestamp   int64 = -1
)

// consumerMaxInFlight is the in-flight limit KafkaConsumer gives its
// NetworkClient ("a fixed large enough value will suffice"); fetches are
// limited to one per broker anyway.
const consumerMaxInFlight = 100

// ConsumerConfig configures a Consumer. Field comments give the Kafka config
// name and its default; the zero value of a field means that default. Where
// 0 is itself a meaningful Kafka value, ask for it with a negative number.
type ConsumerConfig struct {
	ID        core.NodeID
	ClientID  string        // client.id; "" gives "consumer-<ID>"
	Bootstrap []core.NodeID // bootstrap.servers

	// Topics are consumed in full: every partition the metadata shows,
	// including partitions added later. With GroupID they are the group
	// subscription instead (KafkaConsumer.subscribe): the group's leader
	// assigns each member its share (groupconsumer.go).
	Topics []string
	// Partitions are assigned explicitly (KafkaConsumer.assign); with
	// GroupID, they start from the group's committed offsets.
	Partitions []TopicPartition

	AutoOffsetReset        string // auto.offset.reset: "latest" (default), "earliest" or "none"
	FetchMaxBytes          int32  // fetch.max.bytes: 52428800
	MaxPartitionFetchBytes int32  // max.partition.fetch.bytes: 1048576
	FetchMaxWaitMs         int32  // fetch.max.wait.ms: 500; negative for 0
	FetchMinBytes          int32  // fetch.min.bytes: 1; negative for 0
	RequestTimeoutMs       int64  // request.timeout.ms: 30000
	RetryBackoffMs         int64  // retry.backoff.ms: 100; negative for 0
	RetryBackoffMaxMs      int64  // retry.backoff.max.ms: 1000
	MetadataMaxAgeMs       int64  // metadata.max.age.ms: 300000
	NoAutoCreateTopics     bool   // allow.auto.create.topics=false (default true)
	Seed                   uint64 // backoff jitter

	// Consumer groups (groupconsumer.go). Without GroupID there is no
	// group, no committed offset and no commit.
	GroupID                     string   // group.id
	GroupInstanceID             string   // group.instance.id: static membership (KIP-345)
	PartitionAssignmentStrategy []string // partition.assignment.strategy: [range, cooperative-sticky]
	SessionTimeoutMs            int32    // session.timeout.ms: 45000
	HeartbeatIntervalMs         int64    // heartbeat.interval.ms: 3000
	MaxPollIntervalMs           int32    // max.poll.interval.ms: 300000, also the rebalance timeout
	MaxPollRecords              int      // max.poll.records: 500
	DefaultAPITimeoutMs         int64    // default.api.timeout.ms: 60000, how long a commitSync retries
	AutoCommitIntervalMs        int64    // auto.commit.interval.ms: 5000
	// Commit is how the application commits: enable.auto.commit=true
	// (CommitAuto, the default), or false with a commitSync before or
	// after processing each poll's records, or only by calling Commit.
	Commit CommitMode
	// ProcessingDelayMs is how long the application takes to process one
	// record (grouppoll.go); 0 processes a poll's records at once.
	ProcessingDelayMs int64
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.ClientID == "" {
		c.ClientID = fmt.Sprintf("consumer-%d", c.ID)
	}
	if c.AutoOffsetReset == "" {
		c.AutoOffsetReset = "latest"
	}
	c.FetchMaxBytes = orDefault(c.FetchMaxBytes, 52428800)
	c.MaxPartitionFetchBytes = orDefault(c.MaxPartitionFetchBytes, 1048576)
	c.FetchMaxWaitMs = orDefault(c.FetchMaxWaitMs, 500)
	c.FetchMinBytes = orDefault(c.FetchMinBytes, 1)
	c.RequestTimeoutMs = orDefault(c.RequestTimeoutMs, defaultRequestTimeoutMs)
	c.RetryBackoffMs = orDefault(c.RetryBackoffMs, defaultRetryBackoffMs)
	c.RetryBackoffMaxMs = orDefault(c.RetryBackoffMaxMs, defaultRetryBackoffMaxMs)
	c.MetadataMaxAgeMs = orDefault(c.MetadataMaxAgeMs, defaultMetadataMaxAgeMs)
	return c.groupDefaults()
}

// Validate reports a configuration Kafka would refuse.
func (c ConsumerConfig) Validate() error {
	d := c.withDefaults()
	if err := d.validateGroup(); err != nil {
		return err
	}
	switch d.AutoOffsetReset {
	case "latest", "earliest", "none":
	default:
		return fmt.Errorf("invalid value %s for configuration auto.offset.reset: string must be one of: latest, earliest, none", c.AutoOffsetReset)
	}
	if len(d.Bootstrap) == 0 {
		return fmt.Errorf("no resolvable bootstrap urls given in bootstrap.servers")
	}
	for _, p := range d.Partitions {
		if p.Topic == "" || p.Partition < 0 {
			return fmt.Errorf("invalid partition %v", p)
		}
	}
	return nil
}

// partState is the consumer's state for one assigned partition, Kafka's
// SubscriptionState.TopicPartitionState.
type partState struct {
	TopicPartition
	position int64 // next offset to read; -1 before the first reset
	// reset is the ListOffsets timestamp of a pending position reset
	// (earliest or latest), 0 if none: Kafka's AWAIT_RESET state.
	reset         int64
	resetReason   string
	resetInFlight bool
	stopped       bool // no position and auto.offset.reset=none: waits for a Seek
	paused        bool
	gen           int // bumped by Seek: answers to older requests are stale
	retryAt       int64
	attempts      int
	highWatermark int64 // -1 until a fetch tells
	logStart      int64
	consumed      int64

	// Group consumers (groupcommit.go): the partition waits for its
	// committed offset (OffsetFetch) before auto.offset.reset applies,
	// Kafka's INITIALIZING state.
	initializing bool
	committed    int64 // last offset committed or fetched, -1 if none known

	// Leader epochs (KIP-320): epoch is that of the record before the
	// position, committed with it (-1: unknown); seenEpoch is the newest
	// leader epoch the consumer knows of, from records and committed
	// offsets: metadata naming an older leader is stale.
	epoch, seenEpoch int32

	// Fetched records poll has not returned yet (Kafka's FetchBuffer), and
	// the position after them.
	buffer []bufRecord
	bufEnd int64
}

// bufRecord is a fetched record with the leader epoch of its batch.
type bufRecord struct {
	core.RecordConsumed
	epoch int32
}

func (ps *partState) fetchable(now int64) bool {
	return ps.position >= 0 && ps.reset == 0 && !ps.stopped && !ps.paused && now >= ps.retryAt &&
		!ps.initializing && len(ps.buffer) == 0
}

// Consumer reads partitions. Without a group.id it is a KafkaConsumer
// after assign(): no group coordinator, no committed offsets, positions start
// from auto.offset.reset or a Seek. With a group.id and Topics it is a member
// of a consumer group (groupconsumer.go) that gets its partitions from the
// group and starts from the committed offsets (groupcommit.go). Records
// arrive as RecordConsumed events when poll returns them, and are processed
// by the modelled application (grouppoll.go).
//
// Simplified compared with the Java client: full fetch requests every time
// (no incremental fetch sessions, KIP-227); no leader-epoch validation of the
// position after a leader change (KIP-320 OffsetsForLeaderEpoch) and no
// follower fetching (KIP-392); isolation.level is read_uncommitted only.
type Consumer struct {
	cfg      ConsumerConfig
	nc       netClient
	parts    map[TopicPartition]*partState
	order    []TopicPartition // sorted keys of parts
	fetching map[core.NodeID]bool

	grp *groupMember // nil without GroupID
	app appState     // the application: poll, process, commit (grouppoll.go)

	stats ConsumerStats
}

// ConsumerStats counts what a consumer did, for a UI.
type ConsumerStats struct {
	Consumed int64 // records delivered
	Fetches  int64 // FetchRequests sent
	Resets   int64 // positions set by auto.offset.reset or seekTo*

	Processed      int64 // records the application finished processing
	Commits        int64 // offset commits that succeeded
	CommitFailures int64 // offset commits that failed
	Rebalances     int64 // assignments received from the group
}

// NewConsumer returns a consumer. It panics on a configuration that Validate
// rejects, as KafkaConsumer's constructor throws ConfigException.
func NewConsumer(cfg ConsumerConfig) *Consumer {
	if err := cfg.Validate(); err != nil {
		panic("client: " + err.Error())
	}
	cfg = cfg.withDefaults()
	c := &Consumer{
		cfg: cfg,
		nc: newNetClient(cfg.ID, cfg.ClientID, cfg.Bootstrap, cfg.Seed, cfg.RequestTimeoutMs,
			cfg.RetryBackoffMs, cfg.RetryBackoffMaxMs, cfg.MetadataMaxAgeMs, !cfg.NoAutoCreateTopics),
		parts:    map[TopicPartition]*partState{},
		fetching: map[core.NodeID]bool{},
	}
	for _, t := range cfg.Topics {
		c.nc.meta.want(t)
	}
	if cfg.GroupID != "" {
		c.initGroup()
	}
	for _, p := range cfg.Partitions {
		c.nc.meta.want(p.Topic)
		c.assign(p)
	}
	return c
}

// Config is the effective configuration, defaults filled in.
func (c *Consumer) Config() ConsumerConfig { return c.cfg }

func (c *Consumer) ID() core.NodeID { return c.cfg.ID }

// Step takes a response from a broker.
func (c *Consumer) Step(env core.Envelope) {
	c.nc.step(env)
	c.run()
}

// Tick moves the clock.
func (c *Consumer) Tick(now int64) {
	if !c.app.started {
		c.app.started, c.app.lastPoll = true, now
		if c.grp != nil {
			// A restarted consumer is a new process on new connections:
			// start its correlation ids elsewhere so that no late answer
			// meant for the one that crashed matches a request of this one.
			c.nc.nextCorr = int32(splitmix(uint64(now)^c.cfg.Seed) & 0x3fffffff)
		}
	}
	c.nc.tick(now)
	c.run()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (c *Consumer) Ready() core.Ready { return c.nc.ready() }

func (c *Consumer) Advance() { c.nc.advance() }

// Assignment lists the partitions being consumed.
func (c *Consumer) Assignment() []TopicPartition { return slices.Clone(c.order) }

// Position is the offset of the next record to be read from the partition;
// ok is false while it is unknown (before or during a reset).
func (c *Consumer) Position(topic string, partition int32) (offset int64, ok bool) {
	ps := c.parts[TopicPartition{topic, partition}]
	if ps == nil || ps.position < 0 || ps.reset != 0 || ps.stopped {
		return -1, false
	}
	return ps.position, true
}

// HighWatermark is the partition's high watermark as of the last fetch.
func (c *Consumer) HighWatermark(topic string, partition int32) (int64, bool) {
	ps := c.parts[TopicPartition{topic, partition}]
	if ps == nil || ps.highWatermark < 0 {
		return -1, false
	}
	return ps.highWatermark, true
}

// Lag is the high watermark minus the position, as of the last fetch.
func (c *Consumer) Lag(topic string, partition int32) (int64, bool) {
	hw, ok1 := c.HighWatermark(topic, partition)
	pos, ok2 := c.Position(topic, partition)
	if !ok1 || !ok2 {
		return -1, false
	}
	return max(hw-pos, 0), true
}

// Stats returns counters for a UI.
func (c *Consumer) Stats() ConsumerStats { return c.stats }

// Seek sets the next offset to read (KafkaConsumer.seek). A position outside
// the log is detected by the next fetch (OFFSET_OUT_OF_RANGE), which then
// applies auto.offset.reset.
func (c *Consumer) Seek(topic string, partition int32, offset int64) error {
	if offset < 0 {
		return errors.New("seek offset must not be a negative number")
	}
	ps, err := c.assigned(topic, partition)
	if err != nil {
		return err
	}
	ps.position, ps.epoch = offset, -1
	c.clearReset(ps)
	c.clearBuffer(ps)
	ps.initializing = false
	c.run()
	return nil
}

// SeekToBeginning moves to the log start offset (KafkaConsumer.seekToBeginning).
func (c *Consumer) SeekToBeginning(topic string, partition int32) error {
	return c.seekTo(topic, partition, earliestTimestamp, "seekToBeginning")
}

// SeekToEnd moves to the high watermark (KafkaConsumer.seekToEnd).
func (c *Consumer) SeekToEnd(topic string, partition int32) error {
	return c.seekTo(topic, partition, latestTimestamp, "seekToEnd")
}

func (c *Consumer) seekTo(topic string, partition int32, ts int64, reason string) error {
	ps, err := c.assigned(topic, partition)
	if err != nil {
		return err
	}
	c.clearReset(ps)
	c.clearBuffer(ps)
	ps.initializing = false
	ps.reset, ps.resetReason = ts, reason
	c.run()
	return nil
}

// Pause stops fetching the partition until Resume (KafkaConsumer.pause).
func (c *Consumer) Pause(topic string, partition int32) error {
	ps, err := c.assigned(topic, partition)
	if err == nil {
		ps.paused = true
	}
	return err
}

// Resume undoes Pause.
func (c *Consumer) Resume(topic string, partition int32) error {
	ps, err := c.assigned(topic, partition)
	if err == nil {
		ps.paused = false
		c.run()
	}
	return err
}

func (c *Consumer) assigned(topic string, partition int32) (*partState, error) {
	ps := c.parts[TopicPartition{topic, partition}]
	if ps == nil {
		// KafkaConsumer throws IllegalStateException here.
		return nil, fmt.Errorf("no current assignment for partition %s-%d", topic, partition)
	}
	return ps, nil
}

// clearReset forgets any pending reset and any answer still on its way.
func (c *Consumer) clearReset(ps *partState) {
	ps.reset, ps.resetReason, ps.resetInFlight = 0, "", false
	ps.stopped = false
	ps.gen++
	ps.retryAt, ps.attempts = 0, 0
}

// assign adds a partition with no position. With a group.id it first
// asks the coordinator for the committed offset (groupcommit.go); else, or
// without one, auto.offset.reset decides where it starts.
func (c *Consumer) assign(k TopicPartition) {
	if c.parts[k] != nil {
		return
	}
	ps := &partState{TopicPartition: k, position: -1, highWatermark: -1, logStart: -1, committed: -1, epoch: -1, seenEpoch: -1}
	c.parts[k] = ps
	i, _ := slices.BinarySearchFunc(c.order, k, TopicPartition.compare)
	c.order = slices.Insert(c.order, i, k)
	if c.cfg.GroupID != "" {
		ps.initializing = true
		return
	}
	c.requestReset(ps, "no position")
}

// unassign removes a partition: its position and buffered records are
// gone, answers still on their way for it are ignored.
func (c *Consumer) unassign(k TopicPartition) {
	if c.parts[k] == nil {
		return
	}
	c.clearBuffer(c.parts[k])
	delete(c.parts, k)
	if i, ok := slices.BinarySearchFunc(c.order, k, TopicPartition.compare); ok {
		c.order = slices.Delete(c.order, i, i+1)
	}
}

// requestReset applies auto.offset.reset (SubscriptionState.requestOffsetReset);
// with "none" the partition stops until a Seek, as KafkaConsumer.poll keeps
// throwing NoOffsetForPartitionException or OffsetOutOfRangeException.
func (c *Consumer) requestReset(ps *partState, reason string) {
	switch c.cfg.AutoOffsetReset {
	case "earliest":
		ps.reset = earliestTimestamp
	case "latest":
		ps.reset = latestTimestamp
	default:
		ps.stopped = true
		msg := "NoOffsetForPartitionException: Undefined offset with no reset policy for partitions: [" + ps.String() + "]"
		if reason != "no position" {
			msg = reason
		}
		c.nc.emit(core.ConsumeFailed{Topic: ps.Topic, Partition: ps.Partition, Offset: ps.position, Error: msg})
		return
	}
	ps.resetReason = reason
}

// run does whatever is due: assign new partitions (or take part in the
// group), let the application poll and process, find committed offsets,
// reset positions, fetch, refresh metadata.
func (c *Consumer) run() {
	if c.app.closed {
		return
	}
	if c.grp == nil {
		for _, t := range c.cfg.Topics {
			for i := int32(0); i < c.nc.meta.partitions(t); i++ {
				c.assign(TopicPartition{t, i})
			}
		}
	} else {
		c.grp.background()
	}
	c.runApp()
	c.fetchCommitted()
	c.resetPositions()
	c.sendFetches()
	c.nc.maybeUpdateMetadata()
}

// byLeader groups the partitions that pass want by their leader, in order;
// a partition without a known leader asks for a metadata update.
func (c *Consumer) byLeader(want func(*partState) bool) ([]core.NodeID, map[core.NodeID][]*partState) {
	var nodes []core.NodeID
	groups := map[core.NodeID][]*partState{}
	for _, k := range c.order {
		ps := c.parts[k]
		if !want(ps) {
			continue
		}
		leader, epoch, ok := c.nc.meta.leader(k.Topic, k.Partition)
		if !ok || (epoch >= 0 && epoch < ps.seenEpoch) {
			// Unknown, or older than a leader epoch already seen: the
			// answer came from a broker that has not heard of the new
			// leader (Metadata.updateLastSeenEpochIfNewer, KIP-320).
			c.nc.meta.requestUpdate()
			continue
		}
		if groups[leader] == nil {
			nodes = append(nodes, leader)
		}
		groups[leader] = append(groups[leader], ps)
	}
	slices.Sort(nodes)
	return nodes, groups
}

func (c *Consumer) backoffPart(ps *partState) {
	ps.retryAt = c.nc.now + c.nc.retryBackoff(ps.attempts)
	ps.attempts++
}

// resetPositions sends ListOffsets (-2 earliest, -1 latest) to the leaders of
// partitions awaiting a reset (OffsetFetcher.resetPositionsIfNeeded).
func (c *Consumer) resetPositions() {
	nodes, groups := c.byLeader(func(ps *partState) bool {
		return ps.reset != 0 && !ps.resetInFlight && !ps.stopped && c.nc.now >= ps.retryAt
	})
	for _, node := range nodes {
		if !c.nc.canSend(node, consumerMaxInFlight) {
			continue
		}
		v, ok := c.nc.version(node, kmsg.ListOffsets.Int16(), clientVersions[kmsg.ListOffsets.Int16()][1])
		if !ok {
			for _, ps := range groups[node] {
				c.failPart(ps, kerr.UnsupportedVersion.Message)
			}
			continue
		}
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = v
		type sent struct {
			ps  *partState
			gen int
			ts  int64
		}
		var parts []sent
		for _, ps := range groups[node] {
			_, epoch, _ := c.nc.meta.leader(ps.Topic, ps.Partition)
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = ps.Partition
			rp.CurrentLeaderEpoch = epoch
			rp.Timestamp = ps.reset
			if n := len(req.Topics); n > 0 && req.Topics[n-1].Topic == ps.Topic {
				req.Topics[n-1].Partitions = append(req.Topics[n-1].Partitions, rp)
			} else {
				req.Topics = append(req.Topics, kmsg.ListOffsetsRequestTopic{Topic: ps.Topic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{rp}})
			}
			ps.resetInFlight = true
			parts = append(parts, sent{ps, ps.gen, ps.reset})
		}
		c.nc.send(node, req, func(resp kmsg.Response, err *kerr.Error) {
			answers := map[TopicPartition]*kmsg.ListOffsetsResponseTopicPartition{}
			if err == nil {
				r := resp.(*kmsg.ListOffsetsResponse)
				for i := range r.Topics {
					for j := range r.Topics[i].Partitions {
						a := &r.Topics[i].Partitions[j]
						answers[TopicPartition{r.Topics[i].Topic, a.Partition}] = a
					}
				}
			}
			for _, s := range parts {
				ps := s.ps
				if c.parts[ps.TopicPartition] != ps || ps.gen != s.gen || ps.reset != s.ts {
					continue // a Seek came in between
				}
				ps.resetInFlight = false
				a := answers[ps.TopicPartition]
				switch {
				case a == nil:
					c.backoffPart(ps) // request failed or partition left out
				case a.ErrorCode != 0:
					if invalidMetadata(a.ErrorCode) {
						c.nc.meta.requestUpdate()
					}
					if !retriable(a.ErrorCode) {
						c.failPart(ps, errName(a.ErrorCode))
					}
					c.backoffPart(ps)
				default:
					ps.position, ps.epoch = a.Offset, -1
					ps.reset, ps.attempts = 0, 0
					c.stats.Resets++
					c.nc.emit(core.OffsetReset{Topic: ps.Topic, Partition: ps.Partition, Offset: a.Offset,
						Reason: resetDescription(s.ts, ps.resetReason)})
					ps.resetReason = ""
				}
			}
			c.run()
		})
	}
}

func resetDescription(ts int64, reason string) string {
	to := "latest"
	if ts == earliestTimestamp {
		to = "earliest"
	}
	if strings.HasPrefix(reason, "seekTo") {
		return reason
	}
	return reason + ", auto.offset.reset=" + to
}

func (c *Consumer) failPart(ps *partState, msg string) {
	c.nc.emit(core.ConsumeFailed{Topic: ps.Topic, Partition: ps.Partition, Offset: ps.position, Error: msg})
}

// sendFetches sends one FetchRequest to each leader that has fetchable
// partitions and no fetch in flight (AbstractFetch.prepareFetchRequests skips
// nodes with a pending fetch).
func (c *Consumer) sendFetches() {
	nodes, groups := c.byLeader(func(ps *partState) bool { return ps.fetchable(c.nc.now) })
	for _, node := range nodes {
		if c.fetching[node] || !c.nc.canSend(node, consumerMaxInFlight) {
			continue
		}
		c.fetch(node, groups[node])
	}
}

func (c *Consumer) fetch(node core.NodeID, parts []*partState) {
	// Fetch v13+ names topics by id (KIP-516): use it only if every topic's
	// id is known.
	maxV := clientVersions[kmsg.Fetch.Int16()][1]
	for _, ps := range parts {
		if t := c.nc.meta.topics[ps.Topic]; t == nil || t.id == [16]byte{} {
			maxV = 12
		}
	}
	v, ok := c.nc.version(node, kmsg.Fetch.Int16(), maxV)
	if !ok {
		for _, ps := range parts {
			c.failPart(ps, kerr.UnsupportedVersion.Message)
			c.backoffPart(ps)
		}
		return
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.ReplicaID = -1
	req.MaxWaitMillis = c.cfg.FetchMaxWaitMs
	req.MinBytes = c.cfg.FetchMinBytes
	req.MaxBytes = c.cfg.FetchMaxBytes
	req.IsolationLevel = 0                  // read_uncommitted
	req.SessionID, req.SessionEpoch = 0, -1 // a full fetch without a session
	type sent struct {
		ps     *partState
		gen    int
		offset int64
	}
	var sentParts []sent
	for _, ps := range parts {
		_, epoch, _ := c.nc.meta.leader(ps.Topic, ps.Partition)
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = ps.Partition
		rp.CurrentLeaderEpoch = epoch // v9+: the broker fences a stale leader (KIP-320)
		rp.FetchOffset = ps.position
		rp.PartitionMaxBytes = c.cfg.MaxPartitionFetchBytes
		if n := len(req.Topics); n > 0 && req.Topics[n-1].Topic == ps.Topic {
			req.Topics[n-1].Partitions = append(req.Topics[n-1].Partitions, rp)
		} else {
			req.Topics = append(req.Topics, kmsg.FetchRequestTopic{Topic: ps.Topic, TopicID: c.nc.meta.topics[ps.Topic].id,
				Partitions: []kmsg.FetchRequestTopicPartition{rp}})
		}
		sentParts = append(sentParts, sent{ps, ps.gen, ps.position})
	}
	c.fetching[node] = true
	c.stats.Fetches++
	c.nc.send(node, req, func(resp kmsg.Response, err *kerr.Error) {
		delete(c.fetching, node)
		if err != nil {
			c.run() // the disconnect asked for metadata; the reconnect backoff paces us
			return
		}
		r := resp.(*kmsg.FetchResponse)
		if r.ErrorCode != 0 {
			for _, s := range sentParts {
				c.backoffPart(s.ps)
			}
			c.run()
			return
		}
		names := map[[16]byte]string{}
		for name, t := range c.nc.meta.topics {
			names[t.id] = name
		}
		answers := map[TopicPartition]*kmsg.FetchResponseTopicPartition{}
		for i := range r.Topics {
			name := r.Topics[i].Topic
			if v >= 13 {
				name = names[r.Topics[i].TopicID]
			}
			for j := range r.Topics[i].Partitions {
				a := &r.Topics[i].Partitions[j]
				answers[TopicPartition{name, a.Partition}] = a
			}
		}
		for _, s := range sentParts {
			ps := s.ps
			// Kafka discards fetched data whose offset no longer matches
			// the position (FetchCollector "Discarding stale fetch response").
			if c.parts[ps.TopicPartition] != ps || ps.gen != s.gen || ps.position != s.offset || ps.reset != 0 {
				continue
			}
			if ps.paused {
				continue // KafkaConsumer keeps such data from poll(); the position stays
			}
			if a := answers[ps.TopicPartition]; a != nil {
				c.handleFetched(ps, a)
			} else {
				c.backoffPart(ps) // left out of the answer: do not spin on it
			}
		}
		c.run()
	})
}

// handleFetched handles one partition of a fetch answer
// (FetchCollector.initialize and CompletedFetch).
func (c *Consumer) handleFetched(ps *partState, a *kmsg.FetchResponseTopicPartition) {
	switch code := a.ErrorCode; {
	case code == 0:
	case code == kerr.OffsetOutOfRange.Code:
		reason := fmt.Sprintf("%s: fetch offset %d is out of range for partition %s", kerr.OffsetOutOfRange.Message, ps.position, ps)
		c.requestReset(ps, reason)
		return
	case invalidMetadata(code):
		// NOT_LEADER_OR_FOLLOWER and friends: wait for fresh metadata
		// rather than asking the same broker again at once.
		c.nc.meta.requestUpdate()
		c.backoffPart(ps)
		return
	case retriable(code):
		c.backoffPart(ps)
		return
	default:
		c.failPart(ps, errName(code))
		c.backoffPart(ps)
		return
	}
	ps.highWatermark, ps.logStart = a.HighWatermark, a.LogStartOffset
	ps.attempts = 0
	// Kafka returns whole batches, so the first one may start before the
	// position: skip the records below it. A batch cut off at the end of the
	// answer (max bytes) is simply not complete yet. The records wait in the
	// partition's buffer for poll (grouppoll.go), which moves the position.
	ps.bufEnd = ps.position
	_, err := record.Iterate(a.RecordBatches, func(h kmsg.RecordBatch, _ []byte) bool {
		next := h.FirstOffset + int64(h.LastOffsetDelta) + 1
		if next <= ps.bufEnd {
			return true
		}
		if h.Attributes&record.AttrControl != 0 {
			ps.bufEnd = next // transaction markers are not records for the application
			return true
		}
		recs, err := record.StoredRecords(h)
		if err != nil {
			c.failPart(ps, decodeError(err, ps, h.FirstOffset))
			c.backoffPart(ps)
			return false
		}
		for _, r := range recs {
			off := h.FirstOffset + int64(r.OffsetDelta)
			if off < ps.bufEnd {
				continue
			}
			ps.buffer = append(ps.buffer, bufRecord{core.RecordConsumed{Topic: ps.Topic, Partition: ps.Partition, Offset: off,
				Timestamp: record.RecordTimestamp(h, r), Key: r.Key, Value: r.Value}, h.PartitionLeaderEpoch})
		}
		ps.bufEnd = next
		return true
	})
	if err != nil && !errors.Is(err, record.ErrTruncated) {
		c.failPart(ps, decodeError(err, ps, ps.bufEnd))
		c.backoffPart(ps)
	}
	c.buffered(ps)
}

// decodeError names a batch the consumer cannot read, in Kafka's words
// ("Record batch for partition %s at offset %s is invalid, cause: %s").
func decodeError(err error, ps *partState, offset int64) string {
	name := kerr.CorruptMessage.Message
	var ke *kerr.Error
	if errors.As(err, &ke) {
		name = ke.Message
	}
	return fmt.Sprintf("%s: Record batch for partition %s at offset %d is invalid, cause: %v", name, ps, offset, err)
}
