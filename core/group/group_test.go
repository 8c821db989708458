package group

import (
	"github.com/streamlab/streamlab/core"

	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The whole life of a group: MEMBER_ID_REQUIRED, the initial delay, join,
// sync, heartbeats, a second member's rebalance, leave, empty.
func TestGroupLifecycle(t *testing.T) {
	h := newHarness(t)
	id1, j1 := h.joinNew("g")
	if j1.count != 0 || h.state("g") != PreparingRebalance {
		t.Fatalf("join answered before the initial delay: %v, state %v", j1.resp, h.state("g"))
	}
	h.tick(2999)
	if j1.count != 0 {
		t.Fatal("join answered before group.initial.rebalance.delay.ms")
	}
	h.tick(1)
	r := j1.joined(t)
	if r.Generation != 1 || r.LeaderID != id1 || len(r.Members) != 1 || *r.Protocol != "range" || *r.ProtocolType != "consumer" {
		t.Fatalf("join response %+v", r)
	}
	if h.state("g") != CompletingRebalance {
		t.Fatalf("state %v", h.state("g"))
	}
	h.wantCode("heartbeat while completing", h.heartbeat("g", id1, 1), nil)
	s := h.sync("g", id1, 1, map[string]string{id1: "all"})
	h.wantCode("sync", s, nil)
	if string(s.resp.(*kmsg.SyncGroupResponse).MemberAssignment) != "all" || h.state("g") != Stable {
		t.Fatal("no assignment or not stable")
	}
	h.wantCode("heartbeat", h.heartbeat("g", id1, 1), nil)

	// A second member triggers a rebalance; the first learns it from its
	// heartbeat and rejoins; the join completes once both are in.
	id2, j2 := h.joinNew("g")
	if h.state("g") != PreparingRebalance || j2.count != 0 {
		t.Fatalf("state %v", h.state("g"))
	}
	h.wantCode("heartbeat during rebalance", h.heartbeat("g", id1, 1), kerr.RebalanceInProgress)
	h.wantCode("sync during rebalance", h.sync("g", id1, 1, nil), kerr.RebalanceInProgress)
	j1 = h.join(joinReq(9, "g", id1))
	r1, r2 := j1.joined(t), j2.joined(t)
	if r1.Generation != 2 || r2.Generation != 2 || len(r1.Members) != 2 || len(r2.Members) != 0 || r2.LeaderID != id1 {
		t.Fatalf("generation 2: %+v / %+v", r1, r2)
	}
	h.wantCode("old generation", h.heartbeat("g", id1, 1), kerr.IllegalGeneration)
	s2 := h.sync("g", id2, 2, nil)
	if s2.count != 0 {
		t.Fatal("a follower's sync was answered before the leader's")
	}
	s1 := h.sync("g", id1, 2, map[string]string{id1: "p0", id2: "p1"})
	h.wantCode("leader sync", s1, nil)
	h.wantCode("follower sync", s2, nil)
	if string(s2.resp.(*kmsg.SyncGroupResponse).MemberAssignment) != "p1" {
		t.Fatal("follower got the wrong assignment")
	}

	h.wantCode("leave", h.leave("g", id2), nil)
	if h.state("g") != PreparingRebalance {
		t.Fatalf("state after leave %v", h.state("g"))
	}
	r1 = h.join(joinReq(9, "g", id1)).joined(t)
	if r1.Generation != 3 || len(r1.Members) != 1 {
		t.Fatalf("generation 3: %+v", r1)
	}
	h.sync("g", id1, 3, map[string]string{id1: "all"})
	h.wantCode("last leave", h.leave("g", id1), nil)
	if st := h.state("g"); st != Empty || h.s.groups["g"].generation != 4 {
		t.Fatalf("after the last leave: %v generation %d", st, h.s.groups["g"].generation)
	}
	h.wantCode("unknown member", h.heartbeat("g", id1, 3), kerr.UnknownMemberID)

	var states []string
	for _, e := range h.events {
		if e, ok := e.(core.GroupStateChanged); ok {
			states = append(states, e.To)
		}
	}
	want := "PreparingRebalance CompletingRebalance Stable PreparingRebalance CompletingRebalance Stable PreparingRebalance CompletingRebalance Stable PreparingRebalance Empty"
	if got := strings.Join(states, " "); got != want {
		t.Fatalf("states:\n got %s\nwant %s", got, want)
	}
}

// Members that keep coming extend the initial delay, up to the rebalance
// timeout (InitialDelayedJoin).
func TestInitialDelayExtends(t *testing.T) {
	h := newHarness(t)
	_, j1 := h.joinNew("g")
	h.tick(2000)
	_, j2 := h.joinNew("g")
	h.tick(1000) // the first delay ends, but a member came: wait 3000 more
	if j1.count != 0 || j2.count != 0 {
		t.Fatal("completed although a member joined during the delay")
	}
	h.tick(3000)
	if j1.joined(t).Generation != 1 || len(j2.joined(t).Members)+len(j1.joined(t).Members) != 2 {
		t.Fatal("not one generation with both")
	}
}

func TestMemberIDRequiredOnlyFromV4(t *testing.T) {
	h := newHarness(t)
	p := h.join(joinReq(3, "g", ""))
	if p.count != 0 || len(h.s.groups["g"].members) != 1 {
		t.Fatal("v3 join must be added at once")
	}
	h.tick(3000)
	if r := p.joined(t); r.MemberID == "" || !strings.HasPrefix(r.MemberID, "client-") {
		t.Fatalf("member id %q", r.MemberID)
	}
	// A v4+ member id that never comes back expires after its session.
	q := h.join(joinReq(9, "g", ""))
	h.wantCode("v9", q, kerr.MemberIDRequired)
	if len(h.s.groups["g"].pending) != 1 {
		t.Fatal("no pending member")
	}
	h.tick(10000)
	if len(h.s.groups["g"].pending) != 0 {
		t.Fatal("pending member did not expire")
	}
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	for i := 0; i < 2; i++ {
		h.tick(4000)
		h.wantCode("heartbeat", h.heartbeat("g", ids[0], gen), nil)
	}
	h.tick(4000)
	// ids[1] never heartbeated: 12 s > session.timeout 10 s.
	if g := h.s.groups["g"]; len(g.members) != 1 || g.state != PreparingRebalance {
		t.Fatalf("members %d state %v", len(g.members), g.state)
	}
	found := false
	for _, e := range h.events {
		if e, ok := e.(core.MemberLeft); ok && e.MemberID == ids[1] && strings.Contains(e.Reason, "session timeout") {
			found = true
		}
	}
	if !found {
		t.Fatal("no MemberLeft for the session timeout")
	}
	h.wantCode("heartbeat", h.heartbeat("g", ids[0], gen), kerr.RebalanceInProgress)
	if r := h.join(joinReq(9, "g", ids[0])).joined(t); r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin %+v", r)
	}
}

// A member that does not rejoin within the rebalance timeout is dropped
// and the join phase completes without it.
func TestRebalanceTimeoutKicksMembers(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	// Long sessions, so that only the rebalance timeout can drop ids[1].
	for _, m := range h.s.groups["g"].members {
		m.sessionTimeoutMs = 60000
		h.s.heartbeat(h.now, m)
	}
	leader := h.s.groups["g"].leader
	other := ids[0]
	if other == leader {
		other = ids[1]
	}
	j := h.join(joinReq(9, "g", leader)) // the leader rejoins: rebalance
	h.tick(19999)
	if j.count != 0 {
		t.Fatal("completed before the rebalance timeout")
	}
	h.tick(1)
	r := j.joined(t)
	if r.Generation != gen+1 || len(r.Members) != 1 || h.s.groups["g"].member(other) != nil {
		t.Fatalf("after the rebalance timeout: %+v", r)
	}
	h.wantCode("kicked member", h.heartbeat("g", other, gen), kerr.UnknownMemberID)
}

// A member that got its JoinGroup response but never syncs is dropped
// after the rebalance timeout (pending sync).
func TestPendingSyncExpires(t *testing.T) {
	h := newHarness(t)
	_, j1 := h.joinNew("g")
	_, j2 := h.joinNew("g")
	h.waitJoins(j1, j2)
	r1, r2 := j1.joined(t), j2.joined(t)
	leader := r1.LeaderID
	follower := r1.MemberID
	if follower == leader {
		follower = r2.MemberID
	}
	h.sync("g", leader, 1, map[string]string{leader: "x", follower: "y"})
	if h.state("g") != Stable {
		t.Fatal("not stable")
	}
	for i := 0; i < 4; i++ {
		h.tick(5000)
		h.heartbeat("g", leader, 1)
	}
	if h.s.groups["g"].member(follower) != nil || h.state("g") != PreparingRebalance {
		t.Fatalf("follower that never synced still there, state %v", h.state("g"))
	}
}

func TestGenerationAndMemberChecks(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	h.wantCode("sync old generation", h.sync("g", ids[0], gen-1, nil), kerr.IllegalGeneration)
	h.wantCode("sync unknown member", h.sync("g", "nobody", gen, nil), kerr.UnknownMemberID)
	h.wantCode("heartbeat unknown group", h.heartbeat("other", ids[0], gen), kerr.UnknownMemberID)
	h.wantCode("join unknown member", h.join(joinReq(9, "g", "nobody")), kerr.UnknownMemberID)
	h.wantCode("join unknown group with a member id", h.join(joinReq(9, "nogroup", "x")), kerr.UnknownMemberID)
	h.wantCode("empty group id", h.join(joinReq(9, "", "")), kerr.InvalidGroupID)
	short := joinReq(9, "g", "")
	short.SessionTimeoutMillis = 5999 // group.min.session.timeout.ms is 6000
	h.wantCode("session timeout", h.join(short), kerr.InvalidSessionTimeout)
	h.wantCode("protocol", h.join(joinReq(9, "g", "", "roundrobin")), kerr.InconsistentGroupProtocol)
	other := joinReq(9, "g", "")
	other.ProtocolType = "connect"
	h.wantCode("protocol type", h.join(other), kerr.InconsistentGroupProtocol)

	if c := h.commit("g", ids[0], gen, "t", 5); c[0] != 0 {
		t.Fatalf("commit: %s", name(c[0]))
	}
	if c := h.commit("g", ids[0], gen+1, "t", 5); c[0] != kerr.IllegalGeneration.Code {
		t.Fatalf("commit with a future generation: %s", name(c[0]))
	}
	if c := h.commit("g", "nobody", gen, "t", 5); c[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("commit by a stranger: %s", name(c[0]))
	}
	if c := h.commit("g", "", -1, "t", 5); c[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("standalone commit to a live group: %s", name(c[0]))
	}
	if c := h.commit("gone", "m", 3, "t", 5); c[0] != kerr.IllegalGeneration.Code {
		t.Fatalf("commit to an unknown group with a generation: %s", name(c[0]))
	}
	// CompletingRebalance: a member with the new generation must wait for
	// its assignment before committing.
	j := h.join(joinReq(9, "g", ids[0])) // leader rejoins: rebalance, all in
	r := j.joined(t)
	if c := h.commit("g", ids[0], r.Generation, "t", 5); c[0] != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit while completing: %s", name(c[0]))
	}
	// PreparingRebalance: commits of the current generation still go in.
	h.sync("g", ids[0], r.Generation, map[string]string{ids[0]: "x"})
	id2, _ := h.joinNew("g")
	_ = id2
	if h.state("g") != PreparingRebalance {
		t.Fatal("no rebalance")
	}
	if c := h.commit("g", ids[0], r.Generation, "t", 6); c[0] != 0 {
		t.Fatalf("commit while preparing: %s", name(c[0]))
	}
}

// Static membership (KIP-345): a restarted instance gets a new member id
// without a rebalance; the old id is fenced.
func TestStaticMemberRestartWithoutRebalance(t *testing.T) {
	h := newHarness(t)
	static := func(version int16, memberID, instanceID string) *kmsg.JoinGroupRequest {
		req := joinReq(version, "g", memberID)
		req.InstanceID = kmsg.StringPtr(instanceID)
		return req
	}
	ja := h.join(static(9, "", "a")) // static members skip MEMBER_ID_REQUIRED
	jb := h.join(static(9, "", "b"))
	h.waitJoins(ja, jb)
	ra, rb := ja.joined(t), jb.joined(t)
	if !strings.HasPrefix(ra.MemberID, "a-") || ra.Generation != 1 {
		t.Fatalf("static member id %q", ra.MemberID)
	}
	leader, follower := ra.LeaderID, ra.MemberID
	if follower == leader {
		follower = rb.MemberID
	}
	h.sync("g", follower, 1, nil)
	h.sync("g", leader, 1, map[string]string{ra.MemberID: "A", rb.MemberID: "B"})
	if h.state("g") != Stable {
		t.Fatalf("state %v", h.state("g"))
	}
	logged := len(h.log)

	// "b" restarts (a static member sends no LeaveGroup) and rejoins with
	// no member id.
	r := h.join(static(9, "", "b")).joined(t)
	if r.MemberID == rb.MemberID || !strings.HasPrefix(r.MemberID, "b-") || r.Generation != 1 {
		t.Fatalf("rejoin %+v", r)
	}
	if h.state("g") != Stable || len(h.log) != logged+1 {
		t.Fatalf("state %v, %d records written (want 1: the new member id)", h.state("g"), len(h.log)-logged)
	}
	if leader == rb.MemberID {
		if !r.SkipAssignment || r.LeaderID != r.MemberID {
			t.Fatal("a static leader must be told to skip the assignment (KIP-814)")
		}
	} else if r.SkipAssignment || r.LeaderID != leader {
		t.Fatalf("follower rejoin: leader %q skip %v", r.LeaderID, r.SkipAssignment)
	}
	s := h.sync("g", r.MemberID, 1, nil)
	h.wantCode("sync of the new id", s, nil)
	if string(s.resp.(*kmsg.SyncGroupResponse).MemberAssignment) != "B" {
		t.Fatal("the restarted member lost its assignment")
	}
	// The old process of "b", if it still runs, is fenced.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = 4, "g", rb.MemberID, 1, kmsg.StringPtr("b")
	p := &pending{}
	h.s.Heartbeat(h.now, hb, p.reply)
	h.wantCode("old static member", p, kerr.FencedInstanceID)

	// The new member id survives a coordinator move.
	h.reload()
	h.wantCode("heartbeat after reload", h.heartbeat("g", r.MemberID, 1), nil)
	if h.state("g") != Stable {
		t.Fatalf("state after reload %v", h.state("g"))
	}
}

// Offsets survive a reload from the encoded records, with the group's
// generation and members; a standalone consumer commits with generation -1.
func TestOffsetsSurviveReload(t *testing.T) {
	h := newHarness(t)
	if c := h.commit("simple", "", -1, "orders", 10, 20, 30); !slices.Equal(c, []int16{0, 0, 0}) {
		t.Fatalf("standalone commit: %v", c)
	}
	if got := h.fetch("simple", "orders", 4); !slices.Equal(got, []int64{10, 20, 30, -1}) {
		t.Fatalf("fetch %v", got)
	}
	ids, gen := h.stableGroup("g", 2)
	h.commit("g", ids[0], gen, "orders", 5, 6)
	h.commit("g", ids[1], gen, "orders", 7) // partition 0 again: last commit wins
	h.commit("simple", "", -1, "orders", 11)

	h.reload()
	if got := h.fetch("simple", "orders", 3); !slices.Equal(got, []int64{11, 20, 30}) {
		t.Fatalf("after reload: simple %v", got)
	}
	if got := h.fetch("g", "orders", 2); !slices.Equal(got, []int64{7, 6}) {
		t.Fatalf("after reload: g %v", got)
	}
	g := h.s.groups["g"]
	if g.state != Stable || g.generation != gen || len(g.members) != 2 || g.protocol != "range" {
		t.Fatalf("group after reload: %v gen %d members %d protocol %q", g.state, g.generation, len(g.members), g.protocol)
	}
	h.tick(5000)
	s := h.sync("g", ids[1], gen, nil)
	if string(s.resp.(*kmsg.SyncGroupResponse).MemberAssignment) != "a-"+ids[1] {
		t.Fatal("assignment lost in the reload")
	}
	// Members that do not come back after the move time out.
	h.tick(5000)
	if len(h.s.groups["g"].members) != 1 {
		t.Fatalf("%d members after their sessions", len(h.s.groups["g"].members))
	}
	// Null topics: every committed offset.
	all := h.s.FetchOffsets(kmsg.OffsetFetchRequestGroup{Group: "simple"})
	if len(all.Topics) != 1 || len(all.Topics[0].Partitions) != 3 || *all.Topics[0].Partitions[0].Metadata != "m" {
		t.Fatalf("all offsets %+v", all)
	}
}

func TestCommitWaitsForTheWrite(t *testing.T) {
	h := newHarness(t)
	h.hold = true
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group = 8, "g"
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{
		{Partition: 0, Offset: 1, LeaderEpoch: -1}, {Partition: 1, Offset: 2, LeaderEpoch: -1, Metadata: kmsg.StringPtr(strings.Repeat("x", 4097))}}}}
	p := &pending{}
	h.s.OffsetCommit(h.now, req, nil, p.reply)
	h.flush()
	if p.count != 0 || h.fetch("g", "t", 1)[0] != -1 {
		t.Fatal("commit answered or visible before the write completed")
	}
	h.release(kerr.NotEnoughReplicas)
	resp := p.resp.(*kmsg.OffsetCommitResponse)
	if c := resp.Topics[0].Partitions; c[0].ErrorCode != kerr.CoordinatorNotAvailable.Code || c[1].ErrorCode != kerr.OffsetMetadataTooLarge.Code {
		t.Fatalf("errors %s %s", name(c[0].ErrorCode), name(c[1].ErrorCode))
	}
	if h.fetch("g", "t", 1)[0] != -1 {
		t.Fatal("a failed commit is visible")
	}
	exists := func(topic string, _ int32) bool { return topic == "t" }
	req.Topics = append(req.Topics, kmsg.OffsetCommitRequestTopic{Topic: "nope", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0}}})
	p = &pending{}
	h.s.OffsetCommit(h.now, req, exists, p.reply)
	h.flush()
	h.release(nil)
	resp = p.resp.(*kmsg.OffsetCommitResponse)
	if resp.Topics[0].Partitions[0].ErrorCode != 0 || resp.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatal("unknown partition not refused")
	}
	if h.fetch("g", "t", 1)[0] != 1 {
		t.Fatal("commit not visible")
	}
}

// A failed write of the leader's assignment sends everyone back to join.
func TestSyncWriteFailure(t *testing.T) {
	h := newHarness(t)
	_, j := h.joinNew("g")
	h.tick(3000)
	r := j.joined(t)
	h.hold = true
	s := h.sync("g", r.MemberID, 1, map[string]string{r.MemberID: "x"})
	if s.count != 0 {
		t.Fatal("sync answered before the write")
	}
	h.release(kerr.NotLeaderForPartition)
	h.wantCode("sync", s, kerr.NotCoordinator)
	if h.state("g") != PreparingRebalance {
		t.Fatalf("state %v", h.state("g"))
	}
}

func TestUnloadAnswersNotCoordinator(t *testing.T) {
	h := newHarness(t)
	_, j := h.joinNew("g")
	h.s.Unload(h.now)
	h.flush()
	h.wantCode("join", j, kerr.NotCoordinator)
	if len(h.s.groups) != 0 {
		t.Fatal("groups kept")
	}
}

func TestProtocolSelection(t *testing.T) {
	h := newHarness(t)
	_, j1 := h.joinNew("g", "cooperative-sticky", "range")
	_, j2 := h.joinNew("g", "range", "cooperative-sticky")
	_, j3 := h.joinNew("g", "range")
	h.waitJoins(j1, j2, j3)
	for _, j := range []*pending{j1, j2, j3} {
		if p := *j.joined(t).Protocol; p != "range" {
			t.Fatalf("protocol %s: cooperative-sticky is not supported by every member", p)
		}
	}
	h = newHarness(t)
	_, j1 = h.joinNew("g", "sticky", "range")
	_, j2 = h.joinNew("g", "sticky", "range")
	_, j3 = h.joinNew("g", "range", "sticky")
	h.waitJoins(j1, j2, j3)
	if p := *j3.joined(t).Protocol; p != "sticky" {
		t.Fatalf("protocol %s, want the most votes: sticky", p)
	}
}

func TestDeleteGroupAndListDescribe(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("live", 1)
	h.commit("simple", "", -1, "t", 1)
	if got := h.s.ListGroups(nil, nil); len(got) != 2 || got[0].Group != "live" || got[0].GroupState != "Stable" || got[1].GroupState != "Empty" {
		t.Fatalf("list %+v", got)
	}
	if got := h.s.ListGroups([]string{"stable"}, []string{"Classic"}); len(got) != 1 || got[0].Group != "live" {
		t.Fatalf("filtered list %+v", got)
	}
	d := h.s.DescribeGroup("live", 5)
	if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 1 || string(d.Members[0].MemberAssignment) != "a-"+ids[0] {
		t.Fatalf("describe %+v", d)
	}
	if d := h.s.DescribeGroup("nope", 5); d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("describe unknown %+v", d)
	}
	codes := make([]int16, 3)
	for i, id := range []string{"live", "simple", "nope"} {
		codes[i] = -1
		h.s.DeleteGroup(h.now, id, func(c int16) { codes[i] = c })
	}
	h.flush()
	if !slices.Equal(codes, []int16{kerr.NonEmptyGroup.Code, 0, kerr.GroupIDNotFound.Code}) {
		t.Fatalf("delete codes %v", codes)
	}
	h.reload()
	if h.s.groups["simple"] != nil || h.s.groups["live"] == nil {
		t.Fatal("deletion not persisted")
	}
	_ = gen
}

func TestOffsetsExpire(t *testing.T) {
	h := newHarness(t)
	h.commit("simple", "", -1, "t", 1)
	h.tick(h.cfg.OffsetsRetentionMs - 1000)
	if h.s.groups["simple"] == nil {
		t.Fatal("expired early")
	}
	h.tick(h.cfg.OffsetsRetentionCheckIntervalMs)
	if h.s.groups["simple"] != nil {
		t.Fatal("offsets of a standalone consumer did not expire")
	}
	h.reload()
	if h.s.groups["simple"] != nil {
		t.Fatal("expiration not persisted")
	}
}

func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		s    string
		hash int32
	}{
		{"", 0}, {"a", 97}, {"hello", 99162322}, {"polygenelubricants", -2147483648},
		{"é", 233}, {"😀", 1772899}, // U+1F600 is the pair D83D DE00: 55357*31 + 56832
	} {
		if got := JavaStringHashCode(tc.s); got != tc.hash {
			t.Errorf("hashCode(%q) = %d, want %d", tc.s, got, tc.hash)
		}
	}
	if p := PartitionFor("polygenelubricants", 50); p != 0 {
		t.Errorf("Integer.MIN_VALUE hash: partition %d, want 0 (Utils.abs)", p)
	}
	if p := PartitionFor("hello", 50); p != 99162322%50 {
		t.Errorf("partition %d", p)
	}
	// A negative hash: "test-group".hashCode() is negative in Java? Check
	// any negative one maps to abs.
	for _, s := range []string{"consumer-group", "my-group", "kgo"} {
		h := JavaStringHashCode(s)
		want := h
		if want < 0 {
			want = -want
		}
		if p := PartitionFor(s, 50); p != want%50 {
			t.Errorf("%s: partition %d, want %d", s, p, want%50)
		}
	}
}
