package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

const t0 = int64(1767225600000)

// harness drives one shard as a broker would: every write is "committed"
// at once (unless hold is set) and kept in log, so that a test can replay
// the log into a fresh shard.
type harness struct {
	t      *testing.T
	s      *Shard
	cfg    Config
	now    int64
	log    []Record
	held   []Write
	hold   bool
	events []core.Event
}

func newHarness(t *testing.T) *harness {
	cfg := DefaultConfig()
	h := &harness{t: t, cfg: cfg, now: t0}
	h.s = NewShard(cfg, 0, 1)
	h.s.Loaded(h.now)
	h.flush()
	return h
}

// flush handles the shard's output until there is none.
func (h *harness) flush() {
	for {
		out := h.s.TakeOutput()
		h.events = append(h.events, out.Events...)
		if len(out.Writes) == 0 {
			return
		}
		for _, w := range out.Writes {
			h.log = append(h.log, w.Records...)
			if h.hold {
				h.held = append(h.held, w)
				continue
			}
			h.s.Done(h.now, w, nil)
		}
	}
}

// release completes the held writes with err.
func (h *harness) release(err *kerr.Error) {
	held := h.held
	h.held = nil
	for _, w := range held {
		h.s.Done(h.now, w, err)
	}
	h.flush()
}

func (h *harness) tick(ms int64) {
	h.now += ms
	h.s.Tick(h.now)
	h.flush()
}

// reload replays the log into a new shard, as a new coordinator does.
func (h *harness) reload() {
	h.s = NewShard(h.cfg, 0, 2)
	for _, r := range h.log {
		if err := h.s.Replay(r.Key, r.Value); err != nil {
			h.t.Fatal(err)
		}
	}
	h.s.Loaded(h.now)
	h.flush()
}

// pending is a response that may come later.
type pending struct {
	resp  kmsg.Response
	count int
}

func (p *pending) reply(r kmsg.Response) { p.resp, p.count = r, p.count+1 }

func (h *harness) join(req *kmsg.JoinGroupRequest) *pending {
	p := &pending{}
	h.s.JoinGroup(h.now, req, Client{ID: "client", Host: "/test"}, p.reply)
	h.flush()
	return p
}

func joinReq(version int16, groupID, memberID string, protocols ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID = version, groupID, memberID
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 20000
	req.ProtocolType = "consumer"
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	for _, p := range protocols {
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: []byte("meta-" + p)})
	}
	return req
}

func (p *pending) joined(t *testing.T) *kmsg.JoinGroupResponse {
	t.Helper()
	r, ok := p.resp.(*kmsg.JoinGroupResponse)
	if !ok || p.count != 1 {
		t.Fatalf("no single JoinGroup response: %v (%d)", p.resp, p.count)
	}
	if r.ErrorCode != 0 {
		t.Fatalf("JoinGroup: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	return r
}

func (p *pending) code() int16 {
	switch r := p.resp.(type) {
	case *kmsg.JoinGroupResponse:
		return r.ErrorCode
	case *kmsg.SyncGroupResponse:
		return r.ErrorCode
	case *kmsg.HeartbeatResponse:
		return r.ErrorCode
	case *kmsg.LeaveGroupResponse:
		return r.ErrorCode
	}
	return -999
}

func name(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if code == -999 {
		return "no response"
	}
	return kerr.ErrorForCode(code).(*kerr.Error).Message
}

func (h *harness) wantCode(what string, p *pending, want *kerr.Error) {
	h.t.Helper()
	code := int16(0)
	if want != nil {
		code = want.Code
	}
	if got := p.code(); got != code {
		h.t.Fatalf("%s: %s, want %s", what, name(got), name(code))
	}
}

func (h *harness) sync(groupID, memberID string, gen int32, assignments map[string]string) *pending {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 5, groupID, memberID, gen
	for m, a := range assignments {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	p := &pending{}
	h.s.SyncGroup(h.now, req, p.reply)
	h.flush()
	return p
}

func (h *harness) heartbeat(groupID, memberID string, gen int32) *pending {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 4, groupID, memberID, gen
	p := &pending{}
	h.s.Heartbeat(h.now, req, p.reply)
	h.flush()
	return p
}

func (h *harness) leave(groupID string, memberID string) *pending {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group = 5, groupID
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: memberID}}
	p := &pending{}
	h.s.LeaveGroup(h.now, req, p.reply)
	h.flush()
	return p
}

// commit commits offsets topic/0.. and returns the per-partition errors.
func (h *harness) commit(groupID, memberID string, gen int32, topic string, offsets ...int64) []int16 {
	h.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 8, groupID, memberID, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for i, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = int32(i), o, kmsg.StringPtr("m")
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
	p := &pending{}
	h.s.OffsetCommit(h.now, req, nil, p.reply)
	h.flush()
	resp, ok := p.resp.(*kmsg.OffsetCommitResponse)
	if !ok {
		return nil
	}
	var out []int16
	for _, sp := range resp.Topics[0].Partitions {
		out = append(out, sp.ErrorCode)
	}
	return out
}

// fetch returns the committed offsets of topic partitions 0..n-1.
func (h *harness) fetch(groupID, topic string, n int32) []int64 {
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = groupID
	rt := kmsg.OffsetFetchRequestGroupTopic{Topic: topic}
	for i := int32(0); i < n; i++ {
		rt.Partitions = append(rt.Partitions, i)
	}
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{rt}
	var out []int64
	for _, p := range h.s.FetchOffsets(rg).Topics[0].Partitions {
		out = append(out, p.Offset)
	}
	return out
}

func (h *harness) state(groupID string) State {
	g := h.s.groups[groupID]
	if g == nil {
		return Dead
	}
	return g.state
}

// joinNew joins a dynamic member the v4+ way (MEMBER_ID_REQUIRED, then
// again with the id) and returns its id and the pending second join.
func (h *harness) joinNew(groupID string, protocols ...string) (string, *pending) {
	h.t.Helper()
	p := h.join(joinReq(9, groupID, "", protocols...))
	h.wantCode("first join", p, kerr.MemberIDRequired)
	id := p.resp.(*kmsg.JoinGroupResponse).MemberID
	if id == "" {
		h.t.Fatal("MEMBER_ID_REQUIRED without a member id")
	}
	return id, h.join(joinReq(9, groupID, id, protocols...))
}

// stableGroup forms a group of n dynamic members through the initial
// delay, with the leader assigning "a-<member>" to each.
func (h *harness) stableGroup(groupID string, n int) (ids []string, gen int32) {
	h.t.Helper()
	var joins []*pending
	for i := 0; i < n; i++ {
		id, p := h.joinNew(groupID)
		ids, joins = append(ids, id), append(joins, p)
	}
	h.waitJoins(joins...)
	var leader string
	for _, p := range joins {
		r := p.joined(h.t)
		gen, leader = r.Generation, r.LeaderID
	}
	assign := map[string]string{}
	for _, id := range ids {
		assign[id] = "a-" + id
	}
	var syncs []*pending
	for _, id := range ids {
		a := map[string]string(nil)
		if id == leader {
			a = assign
		}
		syncs = append(syncs, h.sync(groupID, id, gen, a))
	}
	for i, p := range syncs {
		h.wantCode("sync", p, nil)
		if got := string(p.resp.(*kmsg.SyncGroupResponse).MemberAssignment); got != "a-"+ids[i] {
			h.t.Fatalf("member %d got assignment %q", i, got)
		}
	}
	if st := h.state(groupID); st != Stable {
		h.t.Fatalf("state %v after sync", st)
	}
	return ids, gen
}

// waitJoins ticks a second at a time until every join is answered, within
// a rebalance timeout: members that join together extend the initial delay.
func (h *harness) waitJoins(joins ...*pending) {
	h.t.Helper()
	for waited := int64(0); waited <= 20000; waited += 1000 {
		done := true
		for _, j := range joins {
			done = done && j.count > 0
		}
		if done {
			return
		}
		h.tick(1000)
	}
	h.t.Fatal("joins not answered within the rebalance timeout")
}
