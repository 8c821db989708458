package group

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup handles a LeaveGroup request (classicGroupLeave): v0-v2 name
// one member, v3+ a batch (KIP-345, so that an admin can remove static
// members by group.instance.id).
func (s *Shard) LeaveGroup(now int64, req *kmsg.LeaveGroupRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	g := s.groups[req.Group]
	if g != nil && g.state == Dead {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		reply(resp)
		return
	}
	for _, l := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = l.MemberID, l.InstanceID
		rm.ErrorCode = s.leave(now, g, l)
		resp.Members = append(resp.Members, rm)
	}
	if req.Version < 3 {
		resp.ErrorCode, resp.Members = resp.Members[0].ErrorCode, nil
	}
	reply(resp)
}

func (s *Shard) leave(now int64, g *classicGroup, l kmsg.LeaveGroupRequestMember) int16 {
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if l.MemberID != "" && g.staticFenced(l.MemberID, l.InstanceID) {
		return kerr.FencedInstanceID.Code
	}
	if _, ok := g.pending[l.MemberID]; ok {
		delete(g.pending, l.MemberID)
		if g.state == PreparingRebalance && g.allJoined() {
			s.completeJoin(now, g)
		}
		return 0
	}
	m := g.member(l.MemberID)
	if l.InstanceID != nil {
		if id, ok := g.static[*l.InstanceID]; ok {
			m = g.member(id)
		}
	}
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	reason := "LeaveGroup"
	if l.Reason != nil && *l.Reason != "" {
		reason += ": " + *l.Reason
	}
	s.removeAndUpdate(now, g, m, reason)
	return 0
}
