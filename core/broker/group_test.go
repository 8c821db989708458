package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/group"
	"github.com/streamlab/streamlab/core/record"
)

// groupHarness is a single broker with group.initial.rebalance.delay.ms=0
// and a few __consumer_offsets partitions, so tests run fast.
func groupHarness(t *testing.T) *harness {
	h := newHarness(t, nil)
	h.groupConfig()
	return h
}

func (h *harness) groupConfig() {
	cfg := group.DefaultConfig()
	cfg.InitialRebalanceDelayMs = 0
	cfg.OffsetsTopicPartitions = 5
	h.n.SetGroupConfig(cfg)
}

// reopen restarts the broker from its store, as after a crash.
func (h *harness) reopen() {
	h.t.Helper()
	h.open()
	h.groupConfig()
	h.tick(1)
}

func findCoordinator(version int16, key string) *kmsg.FindCoordinatorRequest {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKey = version, key
	if version >= 4 {
		req.CoordinatorKeys = []string{key}
	}
	return req
}

// joinAndSync forms a one-member group and returns its member id and
// generation.
func (h *harness) joinAndSync(groupID string) (string, int32) {
	h.t.Helper()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = 9, groupID, 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
	r := h.do(join).(*kmsg.JoinGroupResponse)
	if r.ErrorCode != kerr.MemberIDRequired.Code {
		h.t.Fatalf("first join: %s", errName(r.ErrorCode))
	}
	join.MemberID = r.MemberID
	if resp := h.do(join); resp != nil {
		h.t.Fatalf("join answered during the (zero) initial delay: %v", resp)
	}
	msgs := h.tick(1)
	if len(msgs) != 1 {
		h.t.Fatalf("%d messages after the initial delay", len(msgs))
	}
	jr := msgs[0].Response.(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != join.MemberID {
		h.t.Fatalf("join: %s %+v", errName(jr.ErrorCode), jr)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version, sync.Group, sync.MemberID, sync.Generation = 5, groupID, join.MemberID, 1
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: join.MemberID, MemberAssignment: []byte("mine")}}
	sr := h.do(sync).(*kmsg.SyncGroupResponse)
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "mine" {
		h.t.Fatalf("sync: %s", errName(sr.ErrorCode))
	}
	return join.MemberID, 1
}

func offsetCommit(groupID, member string, gen int32, topic string, offsets ...int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 8, groupID, member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for i, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = int32(i), o
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
	return req
}

func (h *harness) fetchOffsets(version int16, groupID, topic string, parts int32) []int64 {
	h.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = version
	var ps []int32
	for i := int32(0); i < parts; i++ {
		ps = append(ps, i)
	}
	if version >= 8 {
		req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: groupID, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: topic, Partitions: ps}}}}
		resp := h.do(req).(*kmsg.OffsetFetchResponse)
		var out []int64
		for _, p := range resp.Groups[0].Topics[0].Partitions {
			out = append(out, p.Offset)
		}
		return out
	}
	req.Group, req.Topics = groupID, []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: ps}}
	resp := h.do(req).(*kmsg.OffsetFetchResponse)
	if resp.ErrorCode != 0 {
		h.t.Fatalf("OffsetFetch v%d: %s", version, errName(resp.ErrorCode))
	}
	var out []int64
	for _, p := range resp.Topics[0].Partitions {
		out = append(out, p.Offset)
	}
	return out
}

func TestFindCoordinatorCreatesOffsetsTopic(t *testing.T) {
	h := newHarness(t, nil) // Kafka's defaults: 50 partitions
	for v := int16(0); v <= 5; v++ {
		resp := h.do(findCoordinator(v, "my-group")).(*kmsg.FindCoordinatorResponse)
		node, host, port, code := resp.NodeID, resp.Host, resp.Port, resp.ErrorCode
		if v >= 4 {
			c := resp.Coordinators[0]
			node, host, port, code = c.NodeID, c.Host, c.Port, c.ErrorCode
			if c.Key != "my-group" {
				t.Fatalf("v%d key %q", v, c.Key)
			}
		}
		if code != 0 || node != 1 || host != h.cfg.Host || port != h.cfg.Port {
			t.Fatalf("v%d: %s node %d %s:%d", v, errName(code), node, host, port)
		}
	}
	tp := h.n.topics[group.OffsetsTopic]
	if tp == nil || len(tp.parts) != 50 {
		t.Fatal("__consumer_offsets not created with offsets.topic.num.partitions=50")
	}
	req := findCoordinator(3, "txn")
	req.CoordinatorType = 1
	if resp := h.do(req).(*kmsg.FindCoordinatorResponse); resp.ErrorCode != kerr.InvalidRequest.Code || resp.NodeID != -1 {
		t.Fatalf("transaction coordinator: %s", errName(resp.ErrorCode))
	}
	// ApiVersions advertises the group APIs.
	av := kmsg.NewPtrApiVersionsRequest()
	got := map[int16][2]int16{}
	for _, k := range h.do(av).(*kmsg.ApiVersionsResponse).ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	if got[11] != [2]int16{0, 9} || got[8] != [2]int16{0, 8} || got[10] != [2]int16{0, 5} {
		t.Fatalf("advertised %v", got)
	}
}

// Through Node.Step: a group forms, commits, and its records land in the
// right __consumer_offsets partition, encoded as Kafka's.
func TestGroupThroughNode(t *testing.T) {
	h := groupHarness(t)
	h.createTopic("orders", 3, nil)
	h.do(findCoordinator(3, "g"))
	member, gen := h.joinAndSync("g")

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "g", member, gen
	if r := h.do(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
		t.Fatalf("heartbeat: %s", errName(r.ErrorCode))
	}
	resp := h.do(offsetCommit("g", member, gen, "orders", 5, 6, 7)).(*kmsg.OffsetCommitResponse)
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("commit: %s", errName(p.ErrorCode))
		}
	}
	resp = h.do(offsetCommit("g", member, gen, "nope", 1)).(*kmsg.OffsetCommitResponse)
	if resp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatal("commit for a missing topic accepted")
	}
	for _, v := range []int16{1, 5, 7, 8} {
		if got := h.fetchOffsets(v, "g", "orders", 4); got[0] != 5 || got[2] != 7 || got[3] != -1 {
			t.Fatalf("OffsetFetch v%d: %v", v, got)
		}
	}

	// The records: in partition abs(hash("g")) % 5, readable by a consumer.
	part := group.PartitionFor("g", 5)
	f := h.fetch(group.OffsetsTopic, part, 0, 1<<20)
	var keys []group.Key
	record.Iterate(f.RecordBatches, func(b kmsg.RecordBatch, _ []byte) bool {
		recs, _ := record.StoredRecords(b)
		for _, r := range recs {
			k, err := group.DecodeKey(r.Key)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		return true
	})
	if len(keys) != 4 || keys[0].Type != group.KeyGroupMetadata || keys[1] != (group.Key{Type: 1, Group: "g", Topic: "orders", Partition: 0}) {
		t.Fatalf("records %+v", keys)
	}

	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Version, d.Groups = 5, []string{"g", "nope"}
	dr := h.do(d).(*kmsg.DescribeGroupsResponse)
	if dr.Groups[0].State != "Stable" || len(dr.Groups[0].Members) != 1 || dr.Groups[1].State != "Dead" {
		t.Fatalf("describe %+v", dr.Groups)
	}
	l := kmsg.NewPtrListGroupsRequest()
	l.Version = 5
	if lr := h.do(l).(*kmsg.ListGroupsResponse); len(lr.Groups) != 1 || lr.Groups[0].Group != "g" || lr.Groups[0].GroupState != "Stable" {
		t.Fatalf("list %+v", lr.Groups)
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group, leave.MemberID = 1, "g", member
	if r := h.do(leave).(*kmsg.LeaveGroupResponse); r.ErrorCode != 0 {
		t.Fatalf("leave: %s", errName(r.ErrorCode))
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 2, []string{"g"}
	if r := h.do(del).(*kmsg.DeleteGroupsResponse); r.Groups[0].ErrorCode != 0 {
		t.Fatalf("delete: %s", errName(r.Groups[0].ErrorCode))
	}
	if got := h.fetchOffsets(8, "g", "orders", 1); got[0] != -1 {
		t.Fatal("offsets survived DeleteGroups")
	}
	var states []string
	for _, e := range h.events {
		if e, ok := e.(core.GroupStateChanged); ok {
			states = append(states, e.To)
		}
	}
	if len(states) < 5 || states[len(states)-1] != "Dead" {
		t.Fatalf("state events %v", states)
	}
}

// A restart rebuilds committed offsets and the group from the log.
func TestGroupOffsetsSurviveRestart(t *testing.T) {
	h := groupHarness(t)
	h.createTopic("orders", 2, nil)
	h.do(findCoordinator(3, "g"))
	member, gen := h.joinAndSync("g")
	h.do(offsetCommit("g", member, gen, "orders", 10, 20))
	h.do(offsetCommit("standalone", "", -1, "orders", 3))

	h.reopen()
	if got := h.fetchOffsets(8, "g", "orders", 2); got[0] != 10 || got[1] != 20 {
		t.Fatalf("after restart: %v", got)
	}
	if got := h.fetchOffsets(5, "standalone", "orders", 1); got[0] != 3 {
		t.Fatalf("standalone after restart: %v", got)
	}
	// The member goes on where it was: no rebalance after the restart.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "g", member, gen
	if r := h.do(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
		t.Fatalf("heartbeat after restart: %s", errName(r.ErrorCode))
	}
	loaded := false
	for _, e := range h.events {
		if e, ok := e.(core.GroupsLoaded); ok && e.Groups > 0 {
			loaded = true
		}
	}
	if !loaded {
		t.Fatal("no GroupsLoaded event")
	}
}

func TestGroupNotCoordinator(t *testing.T) {
	h := groupHarness(t)
	// No __consumer_offsets yet: nobody coordinates.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID = 4, "g", "m"
	if r := h.do(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat: %s", errName(r.ErrorCode))
	}
	c := h.do(offsetCommit("g", "", -1, "t", 1)).(*kmsg.OffsetCommitResponse)
	if c.Topics[0].Partitions[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatal("commit accepted without a coordinator")
	}
	f := kmsg.NewPtrOffsetFetchRequest()
	f.Version, f.Group, f.Topics = 1, "g", []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
	if r := h.do(f).(*kmsg.OffsetFetchResponse); r.Topics[0].Partitions[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatal("v1 fetch: no per-partition error")
	}
}

// In a cluster, the coordinator answers SyncGroup and OffsetCommit only
// once the followers have the records (acks=all), and a new leader of the
// partition takes the groups over from the log.
func TestGroupFailover(t *testing.T) {
	c := newPair(t)
	part := group.PartitionFor("g", 1)
	_ = part
	member, gen := c.joinAndSync(1, "g")

	// Hold the follower's fetches: the commit must wait for it.
	c.hold = true
	c.send(1, offsetCommit("g", member, gen, group.OffsetsTopic, 42))
	if got := c.responses(); len(got) != 0 {
		t.Fatalf("commit answered before the follower had it: %v", got)
	}
	c.hold = false
	c.run()
	got := c.responses()
	if len(got) != 1 || got[0].Response.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit: %v", got)
	}

	// A SyncGroup waiting for its write when the leadership moves gets
	// NOT_COORDINATOR.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = 9, "g", 10000, 60000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	join.MemberID = member
	c.send(1, join) // the leader rejoins: rebalance, the join completes at once (all in)
	jr := c.responses()[0].Response.(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != 0 || jr.Generation != gen+1 {
		t.Fatalf("rejoin: %s generation %d", errName(jr.ErrorCode), jr.Generation)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version, sync.Group, sync.MemberID, sync.Generation = 5, "g", member, jr.Generation
	c.hold = true
	c.send(1, sync)
	if got := c.responses(); len(got) != 0 {
		t.Fatalf("sync answered before the follower had the assignment: %v", got)
	}
	c.hold = false
	c.queue = nil // the follower never gets it
	c.elect(2)
	got = c.responses()
	if len(got) != 1 || got[0].Response.(*kmsg.SyncGroupResponse).ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("pending sync after the failover: %v", got)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "g", member, gen
	c.send(1, hb)
	if r := c.responses()[0].Response.(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("old coordinator: %s", errName(r.ErrorCode))
	}
	// Broker 2 rebuilt the group from the log: the stored generation (the
	// rebalance above was never stored) and the committed offset.
	c.send(2, hb)
	if r := c.responses()[0].Response.(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
		t.Fatalf("new coordinator: %s (join had generation %d)", errName(r.ErrorCode), jr.Generation)
	}
	f := kmsg.NewPtrOffsetFetchRequest()
	f.Version, f.Group = 5, "g"
	c.send(2, f)
	fr := c.responses()[0].Response.(*kmsg.OffsetFetchResponse)
	if len(fr.Topics) != 1 || fr.Topics[0].Partitions[0].Offset != 42 {
		t.Fatalf("offsets on the new coordinator: %+v", fr.Topics)
	}
}

// pair is two brokers sharing __consumer_offsets (one partition, replicas
// 1 and 2), with messages carried by hand.
type pair struct {
	t     *testing.T
	nodes map[core.NodeID]*Node
	state PartitionState
	now   int64
	queue []core.Envelope
	out   []core.Envelope // to the client
	hold  bool            // keep broker-to-broker messages queued
	corr  int32
}

func newPair(t *testing.T) *pair {
	c := &pair{t: t, nodes: map[core.NodeID]*Node{}, now: t0,
		state: PartitionState{Leader: 1, LeaderEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}}
	cfg := group.DefaultConfig()
	cfg.InitialRebalanceDelayMs = 0
	for id := core.NodeID(1); id <= 2; id++ {
		n := New(DefaultConfig(id))
		n.SetGroupConfig(cfg)
		for b := int32(1); b <= 2; b++ {
			n.ApplyBroker(BrokerAddr{ID: b, Host: "broker", Port: 9092})
		}
		if err := n.ApplyTopic(group.OffsetsTopic, [16]byte{9}, 1, nil); err != nil {
			t.Fatal(err)
		}
		n.Tick(c.now)
		c.nodes[id] = n
	}
	c.elect(1)
	return c
}

func (c *pair) elect(leader int32) {
	c.state.Leader = leader
	c.state.LeaderEpoch++
	for id := core.NodeID(1); id <= 2; id++ {
		c.nodes[id].ApplyPartition(group.OffsetsTopic, 0, c.state)
	}
	c.run()
}

// run carries messages until none is left (or only held ones).
func (c *pair) run() {
	for i := 0; i < 1000; i++ {
		for id := core.NodeID(1); id <= 2; id++ {
			n := c.nodes[id]
			rd := n.Ready()
			n.Advance()
			for _, m := range rd.Messages {
				if c.nodes[m.To] != nil {
					c.queue = append(c.queue, m)
				} else {
					c.out = append(c.out, m)
				}
			}
		}
		if len(c.queue) == 0 || c.hold {
			return
		}
		q := c.queue
		c.queue = nil
		for _, m := range q {
			c.nodes[m.To].Step(m)
		}
	}
	c.t.Fatal("messages never settle")
}

func (c *pair) send(to core.NodeID, req kmsg.Request) {
	c.corr++
	c.nodes[to].Step(core.Envelope{From: core.ClientIDBase, To: to, CorrelationID: c.corr, Request: req})
	c.run()
}

func (c *pair) tick(ms int64) {
	c.now += ms
	for id := core.NodeID(1); id <= 2; id++ {
		c.nodes[id].Tick(c.now)
	}
	c.run()
}

func (c *pair) responses() []core.Envelope {
	out := c.out
	c.out = nil
	return out
}

func (c *pair) joinAndSync(to core.NodeID, groupID string) (string, int32) {
	c.t.Helper()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = 9, groupID, 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	c.send(to, join)
	join.MemberID = c.responses()[0].Response.(*kmsg.JoinGroupResponse).MemberID
	c.send(to, join)
	c.tick(1)
	jr := c.responses()[0].Response.(*kmsg.JoinGroupResponse)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version, sync.Group, sync.MemberID, sync.Generation = 5, groupID, join.MemberID, jr.Generation
	c.send(to, sync)
	if r := c.responses(); len(r) != 1 || r[0].Response.(*kmsg.SyncGroupResponse).ErrorCode != 0 {
		c.t.Fatalf("sync: %v", r)
	}
	return join.MemberID, jr.Generation
}

// __consumer_offsets is internal: Metadata says so, and clients may not
// produce to it (only the coordinator writes there).
func TestOffsetsTopicIsInternal(t *testing.T) {
	h := newHarness(t, nil)
	h.do(findCoordinator(3, "g"))
	if sp := h.produce(group.OffsetsTopic, 0, batch(1, "k", "v")); sp.ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("produce to %s: %s", group.OffsetsTopic, errName(sp.ErrorCode))
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(group.OffsetsTopic)}}
	if rt := h.do(req).(*kmsg.MetadataResponse).Topics[0]; !rt.IsInternal {
		t.Fatal("Metadata does not mark the offsets topic internal")
	}
}
