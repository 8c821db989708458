package broker

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/group"
	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
)

// The group coordinator (Kafka's GroupCoordinator): the coordinator of a
// group is the leader of its __consumer_offsets partition. Each partition
// this broker leads has a group.Shard holding its groups; the shard's
// records are appended to the partition as a producer with acks=all would,
// and the requests that wait for them are answered once the high watermark
// passes them. A new leader rebuilds the shard from the log.

func init() {
	// The versions implemented, and no newer: OffsetCommit v9+ and
	// OffsetFetch v9+ carry KIP-848 member epochs, FindCoordinator v6 share
	// groups, DescribeGroups v6 and DeleteGroups v3 error messages.
	for k, r := range map[kmsg.Key][2]int16{
		kmsg.FindCoordinator: {0, 5},
		kmsg.JoinGroup:       {0, 9},
		kmsg.SyncGroup:       {0, 5},
		kmsg.Heartbeat:       {0, 4},
		kmsg.LeaveGroup:      {0, 5},
		kmsg.OffsetCommit:    {0, 8},
		kmsg.OffsetFetch:     {0, 8},
		kmsg.DescribeGroups:  {0, 5},
		kmsg.ListGroups:      {0, 5},
		kmsg.DeleteGroups:    {0, 2},
	} {
		supported[k.Int16()] = r
	}
}

// coordinator is the group coordinator's state on this broker.
type coordinator struct {
	cfg      group.Config
	shards   map[int32]*groupShard // loaded partitions of __consumer_offsets, by index
	writes   []*groupWrite         // appended records waiting for the high watermark
	flushing bool
}

type groupShard struct {
	*group.Shard
	p *partition
}

// groupWrite is a shard's write appended at [.., end), or failed with err.
type groupWrite struct {
	s        *groupShard
	w        group.Write
	end      int64
	deadline int64 // offsets.commit.timeout.ms
	err      *kerr.Error
}

func (n *Node) coord() *coordinator {
	if n.groups == nil {
		n.groups = &coordinator{cfg: group.DefaultConfig(), shards: map[int32]*groupShard{}}
	}
	return n.groups
}

// SetGroupConfig sets the group coordinator's configs
// (group.initial.rebalance.delay.ms and friends); call it before the first
// group request.
func (n *Node) SetGroupConfig(cfg group.Config) { n.coord().cfg = cfg }

// groupRequest serves a group coordinator API; it reports whether env was
// one of them.
func (n *Node) groupRequest(env core.Envelope) bool {
	client := group.Client{ID: env.ClientID, Host: "/client-" + strconv.Itoa(int(env.From))}
	reply := func(resp kmsg.Response) { n.reply(env, resp) }
	switch req := env.Request.(type) {
	case *kmsg.FindCoordinatorRequest:
		n.reply(env, n.findCoordinator(req))
	case *kmsg.JoinGroupRequest:
		n.toShard(req, req.Group, func(s *groupShard) { s.JoinGroup(n.now, req, client, reply) }, reply)
	case *kmsg.SyncGroupRequest:
		n.toShard(req, req.Group, func(s *groupShard) { s.SyncGroup(n.now, req, reply) }, reply)
	case *kmsg.HeartbeatRequest:
		n.toShard(req, req.Group, func(s *groupShard) { s.Heartbeat(n.now, req, reply) }, reply)
	case *kmsg.LeaveGroupRequest:
		n.toShard(req, req.Group, func(s *groupShard) { s.LeaveGroup(n.now, req, reply) }, reply)
	case *kmsg.OffsetCommitRequest:
		exists := func(topic string, p int32) bool { return n.partition(topic, p) != nil }
		n.toShard(req, req.Group, func(s *groupShard) { s.OffsetCommit(n.now, req, exists, reply) }, reply)
	case *kmsg.OffsetFetchRequest:
		n.reply(env, n.offsetFetch(req))
	case *kmsg.DescribeGroupsRequest:
		n.reply(env, n.describeGroups(req))
	case *kmsg.ListGroupsRequest:
		n.reply(env, n.listGroups(req))
	case *kmsg.DeleteGroupsRequest:
		n.deleteGroups(req, reply)
	default:
		return false
	}
	n.flushGroups()
	return true
}

// toShard hands a single-group request to its shard, or answers it with
// NOT_COORDINATOR.
func (n *Node) toShard(req kmsg.Request, id string, fn func(*groupShard), reply func(kmsg.Response)) {
	s, err := n.shardFor(id)
	if err != nil {
		n.fail(core.APIName(req.Key()), group.OffsetsTopic, -1, err)
		reply(group.ErrorResponse(req, err.Code))
		return
	}
	fn(s)
}

// shardFor returns the loaded shard of the group's partition if this broker
// coordinates the group.
func (n *Node) shardFor(id string) (*groupShard, *kerr.Error) {
	t := n.topics[group.OffsetsTopic]
	if t == nil {
		return nil, kerr.NotCoordinator
	}
	return n.loadShard(t.parts[group.PartitionFor(id, int32(len(t.parts)))])
}

// loadShard returns p's shard, building it from p's log if this broker
// leads p and has not loaded it yet (GroupMetadataManager's load on
// election; on a single broker the partitions are led from the start, so
// the first tick or request after Open loads them).
func (n *Node) loadShard(p *partition) (*groupShard, *kerr.Error) {
	c := n.coord()
	if s := c.shards[p.index]; s != nil && s.p == p {
		return s, nil
	}
	if !n.isLeader(p) {
		return nil, kerr.NotCoordinator
	}
	n.unloadShard(p.index)
	seed := n.cfg.Seed ^ uint64(p.log.LogEndOffset())<<20 ^ uint64(p.leaderEpoch)
	s := &groupShard{Shard: group.NewShard(c.cfg, p.index, seed), p: p}
	p.log.Batches(p.log.LogStartOffset(), func(b partlog.Batch) bool {
		h, _, err := record.ParseBatch(b.Raw)
		if err != nil || h.Attributes&record.AttrControl != 0 {
			return true // transaction markers carry no group records
		}
		recs, err := record.StoredRecords(h)
		if err != nil {
			return true
		}
		for _, r := range recs {
			s.Replay(r.Key, r.Value) // a damaged record is counted and skipped
		}
		return true
	})
	s.Loaded(n.now)
	c.shards[p.index] = s
	n.events = append(n.events, s.TakeOutput().Events...)
	return s, nil
}

// unloadShard drops a shard whose partition this broker no longer leads:
// its waiting writes fail and its waiting requests get NOT_COORDINATOR.
func (n *Node) unloadShard(index int32) {
	c := n.coord()
	s := c.shards[index]
	if s == nil {
		return
	}
	delete(c.shards, index)
	kept := c.writes[:0]
	var failed []*groupWrite
	for _, w := range c.writes {
		if w.s == s {
			failed = append(failed, w)
			continue
		}
		kept = append(kept, w)
	}
	c.writes = kept
	for _, w := range failed {
		s.Done(n.now, w.w, kerr.NotLeaderForPartition)
	}
	s.Unload(n.now)
	n.events = append(n.events, s.TakeOutput().Events...) // its writes are moot
}

// flushGroups appends the shards' writes and completes those the high
// watermark has passed, until nothing more happens: a completed write may
// answer requests that cause new writes.
func (n *Node) flushGroups() {
	c := n.coord()
	if c.flushing {
		return // called back from maybeAdvanceHW during an append below
	}
	c.flushing = true
	defer func() { c.flushing = false }()
	appended := false
	for {
		progress := false
		for _, idx := range c.shardIndexes() {
			s := c.shards[idx]
			out := s.TakeOutput()
			n.events = append(n.events, out.Events...)
			for _, w := range out.Writes {
				end, err := n.appendGroupRecords(s.p, w.Records)
				c.writes = append(c.writes, &groupWrite{s: s, w: w, end: end, deadline: n.now + c.cfg.OffsetsCommitTimeoutMs, err: err})
				progress, appended = true, true
			}
		}
		if n.completeGroupWrites() {
			progress = true
		}
		if !progress {
			break
		}
	}
	if appended {
		n.serveParked() // followers and consumers waiting in Fetch
	}
}

func (c *coordinator) shardIndexes() []int32 {
	out := make([]int32, 0, len(c.shards))
	for i := range c.shards {
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// completeGroupWrites tells the shards about writes that are committed, or
// failed, as a DelayedProduce with acks=all would end.
func (n *Node) completeGroupWrites() bool {
	c := n.coord()
	var done []*groupWrite
	var errs []*kerr.Error
	kept := c.writes[:0]
	for _, w := range c.writes {
		p := w.s.p
		err := w.err
		switch {
		case err != nil:
		case !n.isLeader(p):
			err = kerr.NotLeaderForPartition
		case p.hw >= w.end && len(p.isr) < n.minInsync(p):
			err = kerr.NotEnoughReplicasAfterAppend
		case p.hw >= w.end:
		case n.now >= w.deadline:
			err = kerr.RequestTimedOut
		default:
			kept = append(kept, w)
			continue
		}
		done, errs = append(done, w), append(errs, err)
	}
	c.writes = kept
	for i, w := range done {
		w.s.Done(n.now, w.w, errs[i])
	}
	return len(done) > 0
}

// appendGroupRecords appends records to p as its leader, in one batch
// without a producer id, and returns the offset the high watermark must
// reach for them to be committed.
func (n *Node) appendGroupRecords(p *partition, recs []group.Record) (int64, *kerr.Error) {
	if !n.isLeader(p) {
		return 0, kerr.NotLeaderForPartition
	}
	if len(p.isr) < n.minInsync(p) {
		return 0, kerr.NotEnoughReplicas
	}
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		rs[i] = record.Record{Timestamp: n.now, Key: r.Key, Value: r.Value}
	}
	raw := record.Build(record.Batch{Records: rs})
	if t := n.topics[p.topic]; t != nil && len(raw) > int(t.cfg.maxMessageBytes) {
		return 0, kerr.MessageTooLarge
	}
	h, _, err := record.ParseBatch(raw)
	if err != nil {
		return 0, kerr.CorruptMessage // cannot happen: Build's output
	}
	record.SetPartitionLeaderEpoch(raw, p.leaderEpoch)
	h.PartitionLeaderEpoch = p.leaderEpoch
	base, last, rolled := p.log.Append(raw, h, n.now)
	if rolled {
		n.events = append(n.events, core.SegmentRolled{Topic: p.topic, Partition: p.index, BaseOffset: base})
	}
	n.writes = append(n.writes, p.log.Writes()...)
	n.events = append(n.events, core.RecordsAppended{Topic: p.topic, Partition: p.index, BaseOffset: base,
		LastOffset: last, Records: h.NumRecords, Bytes: len(raw), LeaderEpoch: p.leaderEpoch})
	n.maybeAdvanceHW(p)
	return last + 1, nil
}

// tickGroups loads the partitions this broker leads, drops those it does
// not, runs the shards' timers and completes writes that timed out.
func (n *Node) tickGroups() {
	t := n.topics[group.OffsetsTopic]
	if n.groups == nil && t == nil {
		return
	}
	c := n.coord()
	for _, idx := range c.shardIndexes() {
		if p := n.partition(group.OffsetsTopic, idx); p == nil || p != c.shards[idx].p || !n.isLeader(p) {
			n.unloadShard(idx)
		}
	}
	if t != nil {
		for _, p := range t.parts {
			if n.isLeader(p) {
				n.loadShard(p)
			}
		}
	}
	for _, idx := range c.shardIndexes() {
		c.shards[idx].Tick(n.now)
	}
	n.flushGroups()
}

// groupsPartitionChanged loads or unloads p's groups when this broker
// becomes or stops being its leader.
func (n *Node) groupsPartitionChanged(p *partition) {
	if p.topic != group.OffsetsTopic {
		return
	}
	if n.isLeader(p) {
		n.loadShard(p)
	} else {
		n.unloadShard(p.index)
	}
	n.flushGroups()
}

// groupsHWAdvanced completes the writes the high watermark now passes.
func (n *Node) groupsHWAdvanced(p *partition) {
	if p.topic == group.OffsetsTopic && n.groups != nil {
		n.flushGroups()
	}
}

// createOffsetsTopic creates __consumer_offsets on first use
// (AutoTopicCreationManager, offsets.topic.* configs).
func (n *Node) createOffsetsTopic() {
	c := n.coord()
	configs := map[string]string{
		"cleanup.policy": "compact",
		"segment.bytes":  strconv.Itoa(int(c.cfg.OffsetsTopicSegmentBytes)),
	}
	if _, err := parseTopicConfig(configs, n.cfg); err != nil {
		// Compaction is not built yet: until it is, the topic keeps
		// Kafka's default policy, delete (offsets of a group idle for
		// retention.ms are then gone, as offsets.retention.minutes would
		// expire them anyway).
		delete(configs, "cleanup.policy")
	}
	n.createInternalTopic(group.OffsetsTopic, c.cfg.OffsetsTopicPartitions, c.cfg.OffsetsTopicReplicationFactor, configs)
}

// findCoordinator answers FindCoordinator: v0-v3 ask for one key, v4+ for a
// batch (KIP-699).
func (n *Node) findCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		resp.Coordinators = append(resp.Coordinators, n.coordinatorFor(req.CoordinatorType, key))
	}
	if req.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
	}
	return resp
}

func (n *Node) coordinatorFor(keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	fail := func(err *kerr.Error, msg string) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode = n.fail("FindCoordinator", group.OffsetsTopic, -1, err)
		c.ErrorMessage = kmsg.StringPtr(msg)
		return c
	}
	switch keyType {
	case 0: // GROUP
	case 1: // TRANSACTION
		return fail(kerr.InvalidRequest, "Streamlab has no transaction coordinator yet.")
	default:
		return fail(kerr.InvalidRequest, fmt.Sprintf("Unknown coordinator type %d.", keyType))
	}
	t := n.topics[group.OffsetsTopic]
	if t == nil {
		n.createOffsetsTopic()
		if t = n.topics[group.OffsetsTopic]; t == nil {
			return fail(kerr.CoordinatorNotAvailable, kerr.CoordinatorNotAvailable.Description)
		}
	}
	p := t.parts[group.PartitionFor(key, int32(len(t.parts)))]
	addr, ok := n.brokerAddr(p.leader)
	if !ok {
		return fail(kerr.CoordinatorNotAvailable, kerr.CoordinatorNotAvailable.Description)
	}
	c.NodeID, c.Host, c.Port = addr.ID, addr.Host, addr.Port
	c.ErrorMessage = kmsg.StringPtr("NONE") // Kafka sends Errors.NONE.message()
	return c
}

// brokerAddr is where broker id listens, as the metadata says.
func (n *Node) brokerAddr(id int32) (BrokerAddr, bool) {
	if id == int32(n.cfg.ID) {
		return BrokerAddr{ID: id, Host: n.cfg.Host, Port: n.cfg.Port, Rack: n.cfg.Rack}, true
	}
	b, ok := n.brokers[id]
	return b, ok && id >= 0
}
