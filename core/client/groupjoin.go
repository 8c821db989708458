package client

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/assign"
)

// The join: onJoinPrepare (give partitions up), JoinGroup, the leader's
// assignment, SyncGroup, onJoinComplete (AbstractCoordinator
// joinGroupIfNeeded and ConsumerCoordinator's callbacks).

// ensureActive starts or retries a join when one is needed
// (AbstractCoordinator.ensureActiveGroup); the app's poll calls it.
func (g *groupMember) ensureActive() {
	c := g.c
	if g.coord < 0 || g.inFlight || !(g.rejoin || g.state == memberPreparing) {
		return
	}
	if !g.prepared {
		g.onJoinPrepare()
		if g.blocked {
			return
		}
	}
	if c.nc.now < g.retryAt || !c.nc.meta.fresh {
		return
	}
	g.joinGroup()
}

// onJoinPrepare gives partitions up before a join
// (ConsumerCoordinator.onJoinPrepare): all of them under the eager
// protocol, after committing their positions; none under the cooperative
// one, which keeps consuming through the rebalance (KIP-429). A member
// whose generation was reset has lost its partitions: it may not commit
// for them.
func (g *groupMember) onJoinPrepare() {
	g.prepared = true
	all := tpList(g.owned)
	switch {
	case len(all) == 0:
	case g.generation < 0 || g.memberID == "":
		g.drop(all, true)
	case !g.cooperative:
		g.revokeAfterCommit(all)
	case g.c.cfg.Commit == CommitAuto:
		g.autoAt, g.autoStarted = g.c.nc.now, true // commit now, asynchronously
		g.maybeAutoCommit()
	}
}

// revokeAfterCommit gives up parts once their positions are committed
// (onPartitionsRevoked with a commitSync in it, which the Java client does
// itself with auto commit); poll waits meanwhile. A failed commit does not
// stop the revocation.
func (g *groupMember) revokeAfterCommit(parts []TopicPartition) {
	c := g.c
	offsets := map[TopicPartition]offsetEpoch{}
	if c.cfg.Commit != CommitManual {
		for k, off := range c.consumedOffsets() {
			if slices.Contains(parts, k) {
				offsets[k] = off
			}
		}
	}
	g.revoked = append(g.revoked, parts...)
	for _, k := range parts {
		g.owned = removePart(g.owned, k)
	}
	if len(offsets) == 0 {
		g.drop(parts, false)
		return
	}
	g.blocked = true
	c.commit(offsets, true, func(*kerr.Error) {
		g.blocked = false
		g.drop(parts, false)
	})
}

// drop stops consuming parts; lost ones are recorded as lost
// (onPartitionsLost), the others were recorded when revoked.
func (g *groupMember) drop(parts []TopicPartition, lost bool) {
	for _, k := range parts {
		g.owned = removePart(g.owned, k)
		g.c.unassign(k)
	}
	if lost {
		g.lost = append(g.lost, parts...)
	}
}

// joinGroup sends JoinGroup with one protocol per assignor of
// partition.assignment.strategy, in order of preference; each carries the
// subscription as that assignor wants it (assign.EncodeSubscription). The
// request may wait at the coordinator for the whole rebalance: its timeout
// is the rebalance timeout (max.poll.interval.ms) plus 5 s.
func (g *groupMember) joinGroup() {
	c := g.c
	v, ok := g.ready(kmsg.JoinGroup)
	if !ok {
		return
	}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID = v, g.group, g.memberID
	req.SessionTimeoutMillis = c.cfg.SessionTimeoutMs
	req.RebalanceTimeoutMillis = c.cfg.MaxPollIntervalMs
	if v >= 5 {
		req.InstanceID = g.instanceID
	}
	req.ProtocolType = "consumer"
	for _, name := range c.cfg.PartitionAssignmentStrategy {
		owned, gen := g.owned, g.generation
		if name == "sticky" {
			owned, gen = g.stickyOwn, g.stickyGen
		}
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: name,
			Metadata: assign.EncodeSubscription(c.cfg.Topics, owned, gen, name)})
	}
	if v >= 8 {
		reason := g.reason
		if reason == "" {
			reason = "joining the group"
		}
		req.Reason = &reason
	}
	g.state = memberPreparing
	g.inFlight = true
	g.seq++
	seq := g.seq
	timeout := max(c.cfg.RequestTimeoutMs, int64(c.cfg.MaxPollIntervalMs)+joinGroupTimeoutLapseMs)
	g.post(req, timeout, func(resp kmsg.Response, err *kerr.Error) {
		defer c.run()
		if seq == g.seq && g.state == memberPreparing && !g.closed {
			g.onJoin(resp, err)
		}
	})
}

func (g *groupMember) backoff() {
	g.attempts++
	g.retryAt = g.c.nc.now + g.c.nc.retryBackoff(g.attempts-1)
}

// onJoin handles JoinGroup's answer (JoinGroupResponseHandler).
func (g *groupMember) onJoin(resp kmsg.Response, err *kerr.Error) {
	c := g.c
	g.inFlight = false
	if err != nil {
		g.coordFailed(err.Message)
		return
	}
	r := resp.(*kmsg.JoinGroupResponse)
	switch code := r.ErrorCode; code {
	case 0:
		g.attempts = 0
		g.memberID, g.generation, g.leaderID = r.MemberID, r.Generation, r.LeaderID
		g.protocol = ""
		if r.Protocol != nil {
			g.protocol = *r.Protocol
		}
		g.state = memberCompleting
		g.lastHeartbeat, g.nextHeartbeat = c.nc.now, c.nc.now+c.cfg.HeartbeatIntervalMs
		var assignments []kmsg.SyncGroupRequestGroupAssignment
		if r.LeaderID == r.MemberID && !r.SkipAssignment {
			// KIP-814: a restarted static leader of a stable group is told
			// to skip the assignment; the group keeps its own.
			assignments = g.performAssignment(r)
			if g.fatal != "" {
				return
			}
		}
		g.syncGroup(assignments)
	case kerr.MemberIDRequired.Code:
		// KIP-394: join again at once with the id the coordinator gave.
		g.memberID = r.MemberID
	case kerr.UnknownMemberID.Code:
		g.resetGeneration(true, "encountered UNKNOWN_MEMBER_ID from JOIN_GROUP response")
	case kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		g.coordFailed(errName(code))
	case kerr.CoordinatorLoadInProgress.Code, kerr.RebalanceInProgress.Code:
		g.backoff()
	default:
		// FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL,
		// INVALID_SESSION_TIMEOUT, GROUP_MAX_SIZE_REACHED...: the Java
		// client throws them from poll.
		g.setFatal(errName(code))
	}
}

// coordFailed: a join or sync failed because of the coordinator; find it
// again and retry.
func (g *groupMember) coordFailed(reason string) {
	g.markCoordinatorUnknown(reason)
	g.state = memberPreparing
	g.backoff()
}

// performAssignment runs the chosen assignor on the members' subscriptions
// (ConsumerCoordinator.onLeaderElected). A member whose subscription cannot
// be read gets nothing.
func (g *groupMember) performAssignment(r *kmsg.JoinGroupResponse) []kmsg.SyncGroupRequestGroupAssignment {
	c := g.c
	a, ok := assign.ByName(g.protocol)
	if !ok {
		g.setFatal(fmt.Sprintf("coordinator selected invalid assignment protocol: %s", g.protocol))
		return nil
	}
	var members []assign.Member
	for _, m := range r.Members {
		inst := ""
		if m.InstanceID != nil {
			inst = *m.InstanceID
		}
		if mem, err := assign.DecodeSubscription(m.MemberID, inst, m.ProtocolMetadata, g.protocol); err == nil {
			members = append(members, mem)
		}
	}
	counts := map[string]int32{}
	for _, m := range members {
		for _, t := range m.Topics {
			c.nc.meta.want(t)
			if n := c.nc.meta.partitions(t); n > 0 {
				counts[t] = n
			}
		}
	}
	plan := a.Assign(members, counts)
	g.snapshot = counts
	var out []kmsg.SyncGroupRequestGroupAssignment
	for _, id := range slices.Sorted(maps.Keys(plan)) {
		out = append(out, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: assign.EncodeAssignment(plan[id])})
	}
	return out
}

// syncGroup sends SyncGroup: the leader's carries every member's
// assignment, the others' none.
func (g *groupMember) syncGroup(assignments []kmsg.SyncGroupRequestGroupAssignment) {
	c := g.c
	v, ok := g.ready(kmsg.SyncGroup)
	if !ok {
		if g.fatal == "" {
			g.coordFailed("coordinator connection lost before SyncGroup")
		}
		return
	}
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version, req.Group, req.Generation, req.MemberID = v, g.group, g.generation, g.memberID
	if v >= 3 {
		req.InstanceID = g.instanceID
	}
	if v >= 5 {
		req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr(g.protocol)
	}
	req.GroupAssignment = assignments
	g.inFlight = true
	g.seq++
	seq := g.seq
	g.post(req, c.cfg.RequestTimeoutMs, func(resp kmsg.Response, err *kerr.Error) {
		defer c.run()
		if seq == g.seq && g.state == memberCompleting && !g.closed {
			g.onSync(resp, err)
		}
	})
}

// onSync handles SyncGroup's answer (SyncGroupResponseHandler). The
// assignment is applied by the next poll, as Java applies it in the
// application thread.
func (g *groupMember) onSync(resp kmsg.Response, err *kerr.Error) {
	c := g.c
	g.inFlight = false
	if err != nil {
		g.coordFailed(err.Message)
		return
	}
	r := resp.(*kmsg.SyncGroupResponse)
	switch code := r.ErrorCode; code {
	case 0:
		assigned := map[string][]int32{}
		if len(r.MemberAssignment) > 0 {
			a, derr := assign.DecodeAssignment(r.MemberAssignment)
			if derr != nil {
				g.setFatal("could not read the assignment: " + derr.Error())
				return
			}
			assigned = a
		}
		g.state = memberStable
		g.rejoin, g.reason, g.prepared, g.attempts = false, "", false, 0
		g.pending, g.hasPending = assigned, true
		g.lastHeartbeat, g.nextHeartbeat = c.nc.now, c.nc.now+c.cfg.HeartbeatIntervalMs
	case kerr.RebalanceInProgress.Code:
		g.state = memberPreparing // rejoin with the same generation
		g.reason = "group is already rebalancing"
	case kerr.UnknownMemberID.Code, kerr.IllegalGeneration.Code:
		g.resetGeneration(code == kerr.UnknownMemberID.Code, "encountered "+errName(code)+" from SYNC_GROUP response")
	case kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		g.coordFailed(errName(code))
	default:
		g.setFatal(errName(code))
	}
}

// onJoinComplete takes the new assignment
// (ConsumerCoordinator.onJoinComplete). Under the cooperative protocol the
// partitions the assignment took away are revoked now and the member
// rejoins for the second rebalance that hands them to their new owner.
func (g *groupMember) onJoinComplete(assigned map[string][]int32) {
	c := g.c
	rb := Rebalance{Time: c.nc.now, Generation: g.generation, Protocol: g.protocol,
		Leader: g.leaderID == g.memberID, Revoked: g.revoked, Lost: g.lost, Assigned: tpList(assigned)}
	g.revoked, g.lost = nil, nil
	if g.cooperative {
		if rv := tpList(assign.Revoked(g.owned, assigned)); len(rv) > 0 {
			rb.Revoked = append(rb.Revoked, rv...)
			g.revokeAfterCommit(rv)
			g.revoked = nil // recorded in rb
			g.requestRejoin(fmt.Sprintf("need to revoke partitions %v as indicated by the current assignment and re-join", rv))
		}
	}
	for _, k := range rb.Assigned {
		if !slices.Contains(g.owned[k.Topic], k.Partition) {
			rb.Added = append(rb.Added, k)
			c.assign(k)
		}
	}
	g.owned, g.ownedGen = cloneAssignment(assigned), g.generation
	g.stickyOwn, g.stickyGen = cloneAssignment(assigned), g.generation
	g.history = append(g.history, rb)
	c.stats.Rebalances++
}

// tpList lists an assignment's partitions, sorted.
func tpList(m map[string][]int32) []TopicPartition {
	var out []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, TopicPartition{t, p})
		}
	}
	slices.SortFunc(out, TopicPartition.compare)
	return out
}

func removePart(m map[string][]int32, k TopicPartition) map[string][]int32 {
	if i := slices.Index(m[k.Topic], k.Partition); i >= 0 {
		m[k.Topic] = slices.Delete(slices.Clone(m[k.Topic]), i, i+1)
		if len(m[k.Topic]) == 0 {
			delete(m, k.Topic)
		}
	}
	return m
}

func cloneAssignment(m map[string][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for t, ps := range m {
		out[t] = slices.Clone(ps)
	}
	return out
}
