package group

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat handles a Heartbeat request (classicGroupHeartbeat): it keeps
// the member's session alive and tells it, with REBALANCE_IN_PROGRESS, that
// it must rejoin.
func (s *Shard) Heartbeat(now int64, req *kmsg.HeartbeatRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = s.heartbeatError(now, req)
	reply(resp)
}

func (s *Shard) heartbeatError(now int64, req *kmsg.HeartbeatRequest) int16 {
	g := s.groups[req.Group]
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err.Code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	switch g.state {
	case Empty:
		return kerr.UnknownMemberID.Code
	case PreparingRebalance:
		s.heartbeat(now, g.member(req.MemberID))
		return kerr.RebalanceInProgress.Code
	}
	// CompletingRebalance too: a member may heartbeat between its JoinGroup
	// response and its SyncGroup.
	s.heartbeat(now, g.member(req.MemberID))
	return 0
}
