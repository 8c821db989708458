package group

import (
	"github.com/streamlab/streamlab/core"

	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client identifies who sent a request: the client.id of its header and its
// host (Kafka shows the client's address).
type Client struct{ ID, Host string }

func joinResponse(req *kmsg.JoinGroupRequest, memberID string, code int16) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.MemberID, resp.ErrorCode = memberID, code
	return resp
}

// joined is the JoinGroup response of a member of the current generation;
// the leader gets every member's metadata to compute the assignment.
func (g *classicGroup) joined(req *kmsg.JoinGroupRequest, m *member, withMembers bool) *kmsg.JoinGroupResponse {
	resp := joinResponse(req, m.id, 0)
	resp.Generation = g.generation
	resp.ProtocolType, resp.Protocol = stringOrNil(g.protocolType), stringOrNil(g.protocol)
	resp.LeaderID = g.leader
	if withMembers {
		resp.Members = g.joinedMembers()
	}
	return resp
}

// JoinGroup handles a JoinGroup request; reply is called once, possibly at
// a later Tick or Done when the rebalance completes
// (GroupMetadataManager.classicGroupJoin).
func (s *Shard) JoinGroup(now int64, req *kmsg.JoinGroupRequest, client Client, reply func(kmsg.Response)) {
	fail := func(memberID string, err *kerr.Error) { reply(joinResponse(req, memberID, err.Code)) }
	switch {
	case req.Group == "":
		fail(req.MemberID, kerr.InvalidGroupID)
		return
	case req.SessionTimeoutMillis < s.cfg.MinSessionTimeoutMs || req.SessionTimeoutMillis > s.cfg.MaxSessionTimeoutMs:
		// group.min/max.session.timeout.ms (GroupCoordinatorService.joinGroup).
		fail(req.MemberID, kerr.InvalidSessionTimeout)
		return
	}
	g := s.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			fail(req.MemberID, kerr.UnknownMemberID)
			return
		}
		g = newGroup(req.Group, now)
		s.groups[req.Group] = g
	}
	if !s.acceptJoiningMember(g, req.MemberID) {
		delete(g.pending, req.MemberID)
		fail("", kerr.GroupMaxSizeReached)
		return
	}
	if req.MemberID == "" {
		s.joinNewMember(now, g, req, client, reply)
	} else {
		s.joinExistingMember(now, g, req, client, reply)
	}
}

// acceptJoiningMember applies group.max.size (acceptJoiningMember).
func (s *Shard) acceptJoiningMember(g *classicGroup, memberID string) bool {
	switch g.state {
	case Empty, Dead:
		return true
	case PreparingRebalance:
		m := g.member(memberID)
		joining := 0
		for _, x := range g.members {
			if x.join != nil {
				joining++
			}
		}
		return (m != nil && m.join != nil) || joining < s.cfg.MaxSize
	}
	return g.member(memberID) != nil || len(g.members) < s.cfg.MaxSize
}

// rebalanceTimeout is what a JoinGroup asks for; v0 has none and uses the
// session timeout (JoinGroupRequest v0).
func rebalanceTimeout(req *kmsg.JoinGroupRequest) int32 {
	if req.Version == 0 {
		return req.SessionTimeoutMillis
	}
	return req.RebalanceTimeoutMillis
}

func (s *Shard) joinNewMember(now int64, g *classicGroup, req *kmsg.JoinGroupRequest, client Client, reply func(kmsg.Response)) {
	switch {
	case g.state == Dead:
		reply(joinResponse(req, "", kerr.CoordinatorNotAvailable.Code))
		return
	case !g.supports(req.ProtocolType, req.Protocols):
		reply(joinResponse(req, "", kerr.InconsistentGroupProtocol.Code))
		return
	}
	id := s.newMemberID(g, client.ID, req.InstanceID)
	switch {
	case req.InstanceID != nil:
		if old, ok := g.static[*req.InstanceID]; ok {
			s.replaceStaticMember(now, g, req, old, id, reply)
		} else {
			s.addAndRebalance(now, g, req, client, id, reply)
		}
	case req.Version >= 4:
		// KIP-394: a dynamic member first gets its id and must come back
		// with it, so that a client that times out and retries does not
		// leave a ghost member behind. The id is pending for a session.
		g.pending[id] = now + int64(req.SessionTimeoutMillis)
		reply(joinResponse(req, id, kerr.MemberIDRequired.Code))
	default:
		s.addAndRebalance(now, g, req, client, id, reply)
	}
}

func (s *Shard) joinExistingMember(now int64, g *classicGroup, req *kmsg.JoinGroupRequest, client Client, reply func(kmsg.Response)) {
	id := req.MemberID
	switch {
	case g.state == Dead:
		reply(joinResponse(req, id, kerr.CoordinatorNotAvailable.Code))
		return
	case !g.supports(req.ProtocolType, req.Protocols):
		reply(joinResponse(req, id, kerr.InconsistentGroupProtocol.Code))
		return
	}
	if _, ok := g.pending[id]; ok && req.InstanceID == nil {
		// The member came back with the id MEMBER_ID_REQUIRED gave it.
		s.addAndRebalance(now, g, req, client, id, reply)
		return
	}
	if err := g.validateMember(id, req.InstanceID); err != nil {
		reply(joinResponse(req, id, err.Code))
		return
	}
	m := g.member(id)
	switch g.state {
	case PreparingRebalance:
		s.updateAndRebalance(now, g, m, req, reply, fmt.Sprintf("member %s is joining the group during PreparingRebalance%s", id, joinReason(req)))
	case CompletingRebalance:
		if m.matches(req.Protocols) {
			// Same metadata: it probably missed the JoinGroup response;
			// answer with the current generation again.
			reply(g.joined(req, m, g.leader == id))
			return
		}
		s.updateAndRebalance(now, g, m, req, reply, fmt.Sprintf("member %s changed its metadata during CompletingRebalance%s", id, joinReason(req)))
	case Stable:
		switch {
		case g.leader == id:
			// A rejoining leader forces a rebalance: this is how it reacts to
			// changes the metadata does not show (new partitions).
			s.updateAndRebalance(now, g, m, req, reply, fmt.Sprintf("leader %s is rejoining the group%s", id, joinReason(req)))
		case !m.matches(req.Protocols):
			s.updateAndRebalance(now, g, m, req, reply, fmt.Sprintf("member %s changed its metadata%s", id, joinReason(req)))
		default:
			// A follower with nothing new gets the current generation and
			// syncs to get its assignment again.
			reply(g.joined(req, m, false))
		}
	default:
		reply(joinResponse(req, id, kerr.UnknownMemberID.Code))
	}
}

// addAndRebalance adds a member and starts a rebalance, or completes the
// join phase if it was the last one missing
// (addMemberThenRebalanceOrCompleteJoin).
func (s *Shard) addAndRebalance(now int64, g *classicGroup, req *kmsg.JoinGroupRequest, client Client, id string, reply func(kmsg.Response)) {
	m := &member{id: id, instanceID: req.InstanceID, clientID: client.ID, clientHost: client.Host,
		rebalanceTimeoutMs: rebalanceTimeout(req), sessionTimeoutMs: req.SessionTimeoutMillis,
		protocolType: req.ProtocolType, protocols: cloneProtocols(req.Protocols), isNew: true,
		join: &pendingJoin{req: req, reply: reply}}
	if g.state == PreparingRebalance && g.prev == Empty {
		g.newMemberAdded = true // the initial delay may be extended
	}
	s.addMember(g, m)
	// A new member cannot heartbeat before its JoinGroup is answered; it
	// gets a longer timer instead, so that abandoned joins do not pile up.
	m.heartbeatDeadline = now + s.cfg.NewMemberJoinTimeoutMs
	s.maybeRebalanceOrCompleteJoin(now, g, fmt.Sprintf("adding new member %s with group instance id %q%s", id, instance(req.InstanceID), joinReason(req)))
}

// updateAndRebalance records a known member's JoinGroup
// (updateMemberThenRebalanceOrCompleteJoin).
func (s *Shard) updateAndRebalance(now int64, g *classicGroup, m *member, req *kmsg.JoinGroupRequest, reply func(kmsg.Response), reason string) {
	s.updateMember(m, req, reply)
	s.maybeRebalanceOrCompleteJoin(now, g, reason)
}

func (s *Shard) updateMember(m *member, req *kmsg.JoinGroupRequest, reply func(kmsg.Response)) {
	m.protocols = cloneProtocols(req.Protocols)
	m.rebalanceTimeoutMs, m.sessionTimeoutMs = rebalanceTimeout(req), req.SessionTimeoutMillis
	if m.join != nil {
		// Kafka forgets an older JoinGroup of the same member (the client
		// gave up on it); Streamlab answers it so no request hangs.
		s.answerJoin(m, joinResponse(m.join.req, m.id, kerr.RebalanceInProgress.Code))
	}
	m.join = &pendingJoin{req: req, reply: reply}
}

// replaceStaticMember handles a known group.instance.id joining with an
// unknown member id: a restarted static member (KIP-345). It takes a new
// member id and the old one is fenced; if nothing else changed, a stable
// group stores the new id and does not rebalance
// (updateStaticMemberThenRebalanceOrCompleteJoin).
func (s *Shard) replaceStaticMember(now int64, g *classicGroup, req *kmsg.JoinGroupRequest, oldID, newID string, reply func(kmsg.Response)) {
	m := g.member(oldID)
	oldLeader := g.leader
	old := *m
	s.swapStaticID(g, m, newID)
	s.heartbeat(now, m)
	s.updateMember(m, req, reply)
	j := m.join
	switch g.state {
	case Stable:
		if g.selectProtocol() != g.protocol {
			s.maybeRebalanceOrCompleteJoin(now, g, fmt.Sprintf("static member %s with instance id %s changed the group's protocol", newID, instance(req.InstanceID)))
			return
		}
		assignment := map[string][]byte{}
		for _, x := range g.members {
			assignment[x.id] = x.assignment
		}
		s.storeGroup(g, assignment, func(now int64, err *kerr.Error) {
			if g.member(newID) != m || m.join != j {
				return // superseded by a later request of the member
			}
			if err != nil {
				// Not persisted: the old member id stands.
				m.join = nil
				m.protocols, m.rebalanceTimeoutMs, m.sessionTimeoutMs = old.protocols, old.rebalanceTimeoutMs, old.sessionTimeoutMs
				s.swapStaticID(g, m, oldID)
				s.heartbeat(now, m)
				resp := g.joined(j.req, m, false)
				resp.MemberID, resp.LeaderID, resp.ErrorCode = "", oldLeader, groupWriteError(err).Code
				j.reply(resp)
				return
			}
			if j.req.Version >= 9 {
				// KIP-814: a static leader learns it leads but must not
				// compute a new assignment: the group stays as it is.
				leads := g.leader == newID
				resp := g.joined(j.req, m, leads)
				resp.SkipAssignment = leads
				s.answerJoin(m, resp)
				return
			}
			// Older clients are told the old leader id, so that a restarted
			// leader does not assign: a stable group would not hand its
			// assignment out.
			resp := g.joined(j.req, m, false)
			resp.LeaderID = oldLeader
			s.answerJoin(m, resp)
		})
	case CompletingRebalance:
		// The leader may be assigning to the old member id: rebalance so
		// that the new one gets partitions.
		s.prepareRebalance(now, g, fmt.Sprintf("updating metadata for static member %s with instance id %s", newID, instance(req.InstanceID)))
	case PreparingRebalance:
		s.maybeCompleteJoin(now, g)
	}
}

// swapStaticID gives a static member a new member id; requests the old id
// still waits on are answered FENCED_INSTANCE_ID
// (ClassicGroup.replaceStaticMember).
func (s *Shard) swapStaticID(g *classicGroup, m *member, newID string) {
	if m.join != nil {
		s.answerJoin(m, joinResponse(m.join.req, m.id, kerr.FencedInstanceID.Code))
	}
	if m.sync != nil {
		s.answerSync(m, syncResponse(m.sync.req, kerr.FencedInstanceID.Code))
	}
	oldID := m.id
	s.emit(core.MemberLeft{Group: g.id, MemberID: oldID, InstanceID: instance(m.instanceID),
		Reason: "replaced: the same group.instance.id joined with a new member id"})
	m.id = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	g.static[*m.instanceID] = newID
	s.emit(core.MemberJoined{Group: g.id, MemberID: newID, InstanceID: instance(m.instanceID), ClientID: m.clientID, ClientHost: m.clientHost})
}

func (s *Shard) maybeRebalanceOrCompleteJoin(now int64, g *classicGroup, reason string) {
	if g.canRebalance() {
		s.prepareRebalance(now, g, reason)
		return
	}
	s.maybeCompleteJoin(now, g)
}

// maybeCompleteJoin ends the join phase once every member has rejoined,
// except during the initial delay of an empty group, which always runs out.
func (s *Shard) maybeCompleteJoin(now int64, g *classicGroup) {
	if g.state == PreparingRebalance && g.prev != Empty && g.allJoined() {
		s.completeJoin(now, g)
	}
}

// prepareRebalance starts a rebalance (GroupMetadataManager.prepareRebalance):
// members waiting for an assignment are told REBALANCE_IN_PROGRESS and must
// rejoin; the join phase lasts until all members rejoined or the rebalance
// timeout; for an empty group, group.initial.rebalance.delay.ms at least.
func (s *Shard) prepareRebalance(now int64, g *classicGroup, reason string) {
	if g.state == CompletingRebalance {
		s.resetAssignment(now, g, kerr.RebalanceInProgress)
	}
	g.syncDeadline = 0
	initial := g.state == Empty
	if initial {
		g.initialJoin = true
		g.initialDelay = s.cfg.InitialRebalanceDelayMs
		g.initialRemaining = max(g.rebalanceTimeout()-s.cfg.InitialRebalanceDelayMs, 0)
		g.joinDeadline = now + g.initialDelay
		g.newMemberAdded = false
	}
	s.transition(now, g, PreparingRebalance, reason)
	if initial {
		return
	}
	g.initialJoin = false
	if g.allJoined() {
		s.completeJoin(now, g)
		return
	}
	g.joinDeadline = now + g.rebalanceTimeout()
}

// completeJoin ends the join phase (completeClassicGroupJoin): dynamic
// members that did not rejoin are dropped, a new generation starts and every
// joined member gets its JoinGroup response; the leader gets the members.
func (s *Shard) completeJoin(now int64, g *classicGroup) {
	g.joinDeadline, g.initialJoin = 0, false
	for _, m := range slices.Clone(g.members) {
		if m.join == nil && m.instanceID == nil {
			s.remove(g, m, "did not rejoin within the rebalance timeout")
		}
	}
	if g.state == Dead {
		return
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that have not rejoined remain: wait another
		// rebalance timeout for them, or for their session to expire.
		g.joinDeadline = now + g.rebalanceTimeout()
		return
	}
	g.generation++
	clear(g.pendingSync)
	if len(g.members) == 0 {
		g.protocol = ""
		s.transition(now, g, Empty, fmt.Sprintf("generation %d has no members", g.generation))
		// Nobody waits for this write; a failure leaves the previous
		// generation in the log, with no live member anyway.
		s.storeGroup(g, nil, nil)
		return
	}
	g.protocol = g.selectProtocol()
	s.transition(now, g, CompletingRebalance, fmt.Sprintf("generation %d with %d members, protocol %s, leader %s", g.generation, len(g.members), g.protocol, g.leader))
	for _, m := range g.members {
		if m.join != nil {
			s.answerJoin(m, g.joined(m.join.req, m, g.leader == m.id))
		}
		s.heartbeat(now, m)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	// Members that got a JoinGroup response must sync within the
	// rebalance timeout (schedulePendingSync).
	g.syncDeadline = now + g.rebalanceTimeout()
}

// expirePendingSync drops the members that were sent a JoinGroup response
// but never synced, and rebalances without them (expirePendingSync).
func (s *Shard) expirePendingSync(now int64, g *classicGroup) {
	if (g.state != CompletingRebalance && g.state != Stable) || len(g.pendingSync) == 0 {
		return
	}
	for _, m := range slices.Clone(g.members) {
		if g.pendingSync[m.id] {
			s.remove(g, m, "did not send SyncGroup within the rebalance timeout")
		}
	}
	s.prepareRebalance(now, g, "members did not sync within the rebalance timeout")
}

// joinReason is the client's reason for joining (JoinGroup v8+, KIP-800),
// as Kafka adds it to its log line.
func joinReason(req *kmsg.JoinGroupRequest) string {
	if req.Reason == nil || *req.Reason == "" {
		return ""
	}
	return "; client reason: " + *req.Reason
}

// cloneProtocols copies a JoinGroup's protocols: the group keeps them
// longer than the request's bytes live.
func cloneProtocols(ps []kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol {
	out := make([]kmsg.JoinGroupRequestProtocol, len(ps))
	for i, p := range ps {
		out[i] = kmsg.JoinGroupRequestProtocol{Name: p.Name, Metadata: slices.Clone(p.Metadata)}
	}
	return out
}
