package client

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// The member's life outside the joins: what the Java client's heartbeat
// thread does (heartbeats, the session and poll timers), finding the
// coordinator, the poll-time work (ConsumerCoordinator.poll), resets and
// leaving.

// background is what Java's heartbeat thread and network client do on
// their own: find the coordinator, heartbeat, notice the session or the
// poll interval running out, retry commits.
func (g *groupMember) background() {
	if g.closed || g.fatal != "" {
		return
	}
	c := g.c
	if g.coord < 0 {
		g.findCoordinator()
	} else {
		c.nc.isReady(g.coord) // keep the connection up
	}
	g.retryCommits()
	if !g.subscribed || g.closing {
		return
	}
	now := c.nc.now
	joined := g.state == memberCompleting || g.state == memberStable
	if joined && g.coord >= 0 && now-g.lastHeartbeat > int64(c.cfg.SessionTimeoutMs) {
		g.lastHeartbeat = now
		g.markCoordinatorUnknown("session timed out without receiving a heartbeat response")
	}
	if g.state != memberUnjoined && c.app.busy() && now-c.app.lastPoll > int64(c.cfg.MaxPollIntervalMs) {
		// AbstractCoordinator.HeartbeatThread: "consumer poll timeout has
		// expired. This means the time between subsequent calls to poll()
		// was longer than the configured max.poll.interval.ms".
		g.leave("consumer poll timeout has expired.")
	}
	g.heartbeat()
}

// poll is ConsumerCoordinator.poll, run by the application's poll: finish
// a rebalance (onJoinComplete), rejoin if needed, auto-commit. It reports
// false while poll must wait (a commit before revoking partitions).
func (g *groupMember) poll() bool {
	if g.closing || g.closed || g.fatal != "" {
		return false
	}
	if g.blocked {
		return false
	}
	if g.hasPending {
		g.hasPending = false
		g.onJoinComplete(g.pending)
		if g.blocked {
			return false
		}
	}
	if g.subscribed {
		g.checkSnapshot()
		g.ensureActive()
		if g.blocked {
			return false
		}
	}
	g.maybeAutoCommit()
	return true
}

// checkSnapshot makes the leader rejoin when a subscribed topic's
// partition count changed since it assigned (ConsumerCoordinator
// rejoinNeededOrPending: "cached metadata has changed").
func (g *groupMember) checkSnapshot() {
	if g.state != memberStable || g.leaderID != g.memberID || g.snapshot == nil || g.rejoin {
		return
	}
	for _, t := range slices.Sorted(maps.Keys(g.snapshot)) {
		if m, n := g.c.nc.meta.partitions(t), g.snapshot[t]; m > 0 && m != n {
			g.requestRejoin(fmt.Sprintf("cached metadata has changed: topic %s has %d partitions, not %d", t, m, n))
			return
		}
	}
	for _, t := range g.c.cfg.Topics {
		if _, ok := g.snapshot[t]; !ok && g.c.nc.meta.partitions(t) > 0 {
			g.requestRejoin("cached metadata has changed: topic " + t + " exists now")
			return
		}
	}
}

func (g *groupMember) requestRejoin(reason string) {
	if !g.rejoin {
		g.rejoin, g.reason = true, reason
	}
}

// resetGeneration forgets the generation, and the member id too for
// UNKNOWN_MEMBER_ID or a leave (AbstractCoordinator.resetStateAndGeneration);
// the partitions owned are lost at the next join.
func (g *groupMember) resetGeneration(resetMemberID bool, reason string) {
	g.generation = -1
	if resetMemberID {
		g.memberID = ""
	}
	g.state = memberUnjoined
	g.rejoin, g.reason = true, reason
	g.prepared = false
	g.inFlight = false
	g.seq++
	g.hasPending, g.pending = false, nil
}

func (g *groupMember) setFatal(msg string) {
	if g.fatal != "" {
		return
	}
	g.fatal = msg
	g.state = memberUnjoined
	g.inFlight = false
	g.seq++
	for _, k := range slices.Clone(g.c.order) {
		g.c.unassign(k)
	}
	g.owned = map[string][]int32{}
}

// markCoordinatorUnknown forgets the coordinator, to find it again
// (AbstractCoordinator.markCoordinatorUnknown); a join or sync waiting for
// it is abandoned and redone, as Java's disconnect fails it.
func (g *groupMember) markCoordinatorUnknown(reason string) {
	if g.coord < 0 {
		return
	}
	g.coord = -1
	g.hbInFlight = false
	g.hbSeq++
	if g.inFlight {
		g.inFlight = false
		g.seq++
		g.state = memberPreparing
		g.reason = "coordinator unknown: " + reason
	}
}

// findCoordinator sends FindCoordinator to the least loaded broker
// (AbstractCoordinator.lookupCoordinator); COORDINATOR_NOT_AVAILABLE (the
// offsets topic is being created or has no leader) and NOT_COORDINATOR
// are retried after retry.backoff.ms.
func (g *groupMember) findCoordinator() {
	c := g.c
	if g.findInFlight || c.nc.now < g.findRetryAt {
		return
	}
	node, ok := c.nc.metadataNode()
	if !ok {
		return
	}
	v, ok := c.nc.version(node, kmsg.FindCoordinator.Int16(), clientVersions[kmsg.FindCoordinator.Int16()][1])
	if !ok {
		g.findAttempts++
		g.findRetryAt = c.nc.now + c.nc.retryBackoff(g.findAttempts-1)
		return
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = v
	if v >= 4 {
		req.CoordinatorKeys = []string{g.group}
	} else {
		req.CoordinatorKey = g.group
	}
	g.findInFlight = true
	c.nc.send(node, req, func(resp kmsg.Response, err *kerr.Error) {
		g.findInFlight = false
		defer c.run()
		code, id := kerr.NetworkException.Code, int32(-1)
		if err == nil {
			r := resp.(*kmsg.FindCoordinatorResponse)
			code, id = r.ErrorCode, r.NodeID
			if v >= 4 {
				code, id = kerr.CoordinatorNotAvailable.Code, -1
				if len(r.Coordinators) == 1 {
					code, id = r.Coordinators[0].ErrorCode, r.Coordinators[0].NodeID
				}
			}
		}
		if code != 0 || id < 0 || g.closed {
			g.findAttempts++
			g.findRetryAt = c.nc.now + c.nc.retryBackoff(g.findAttempts-1)
			return
		}
		g.findAttempts = 0
		g.coord = core.NodeID(id)
		g.lastHeartbeat = c.nc.now
		c.nc.isReady(g.coord)
	})
}

// ready returns the version of key to use with the coordinator, false if
// its connection is not ready yet; an API the broker lacks is fatal.
func (g *groupMember) ready(key kmsg.Key) (int16, bool) {
	c := g.c
	if g.coord < 0 || !c.nc.canSend(g.coord, consumerMaxInFlight) {
		return 0, false
	}
	v, ok := c.nc.version(g.coord, key.Int16(), clientVersions[key.Int16()][1])
	if !ok {
		g.setFatal(fmt.Sprintf("%s: the coordinator does not support %s", kerr.UnsupportedVersion.Message, core.APIName(key.Int16())))
	}
	return v, ok
}

// post sends a request to the coordinator, whose connection is ready.
func (g *groupMember) post(req kmsg.Request, timeoutMs int64, handle func(kmsg.Response, *kerr.Error)) {
	c := g.c
	c.nc.conns[g.coord].inflight++
	c.nc.post(g.coord, req, timeoutMs, handle)
}

// heartbeat sends a Heartbeat every heartbeat.interval.ms once the member
// has joined (AbstractCoordinator.HeartbeatThread). REBALANCE_IN_PROGRESS
// makes it rejoin at the next poll; ILLEGAL_GENERATION and
// UNKNOWN_MEMBER_ID (the coordinator dropped it) reset its generation.
func (g *groupMember) heartbeat() {
	c := g.c
	if g.hbInFlight || g.coord < 0 || (g.state != memberCompleting && g.state != memberStable) || c.nc.now < g.nextHeartbeat {
		return
	}
	v, ok := g.ready(kmsg.Heartbeat)
	if !ok {
		return
	}
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version, req.Group, req.Generation, req.MemberID = v, g.group, g.generation, g.memberID
	if v >= 3 {
		req.InstanceID = g.instanceID
	}
	gen, member := g.generation, g.memberID
	g.hbInFlight = true
	g.hbSeq++
	seq := g.hbSeq
	g.nextHeartbeat = c.nc.now + c.cfg.HeartbeatIntervalMs
	g.post(req, c.cfg.RequestTimeoutMs, func(resp kmsg.Response, err *kerr.Error) {
		defer c.run()
		if seq != g.hbSeq || g.closed {
			return
		}
		g.hbInFlight = false
		if err != nil {
			g.markCoordinatorUnknown("heartbeat failed: " + err.Message)
			g.nextHeartbeat = c.nc.now + c.nc.retryBackoff(0)
			return
		}
		code := resp.(*kmsg.HeartbeatResponse).ErrorCode
		unchanged := g.generation == gen && g.memberID == member
		switch code {
		case 0:
			g.lastHeartbeat = c.nc.now
		case kerr.RebalanceInProgress.Code:
			g.lastHeartbeat = c.nc.now
			if g.state == memberStable {
				g.requestRejoin("group is already rebalancing")
			}
		case kerr.IllegalGeneration.Code, kerr.UnknownMemberID.Code:
			if unchanged {
				g.resetGeneration(code == kerr.UnknownMemberID.Code, "encountered "+errName(code)+" from HEARTBEAT response")
			}
		case kerr.FencedInstanceID.Code:
			if unchanged {
				g.setFatal(errName(code))
			}
		case kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
			g.markCoordinatorUnknown(errName(code))
			g.nextHeartbeat = c.nc.now + c.nc.retryBackoff(0)
		default:
			g.nextHeartbeat = c.nc.now + c.nc.retryBackoff(0)
		}
	})
}

// leave sends LeaveGroup if the member is dynamic (static members never
// do, KIP-345) and forgets its generation and member id
// (AbstractCoordinator.maybeLeaveGroup, resetGenerationOnLeaveGroup). It is
// a best effort: the answer is not awaited.
func (g *groupMember) leave(reason string) {
	if g.instanceID == nil && g.coord >= 0 && g.state != memberUnjoined && g.memberID != "" {
		if v, ok := g.ready(kmsg.LeaveGroup); ok {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Version, req.Group = v, g.group
			if v >= 3 {
				m := kmsg.NewLeaveGroupRequestMember()
				m.MemberID = g.memberID
				if v >= 5 {
					m.Reason = kmsg.StringPtr(reason)
				}
				req.Members = []kmsg.LeaveGroupRequestMember{m}
			} else {
				req.MemberID = g.memberID
			}
			g.post(req, g.c.cfg.RequestTimeoutMs, func(kmsg.Response, *kerr.Error) {})
		}
	}
	g.resetGeneration(true, reason)
}
