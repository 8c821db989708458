package group

import (
	"github.com/streamlab/streamlab/core"

	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func syncResponse(req *kmsg.SyncGroupRequest, code int16) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ErrorCode = code
	resp.MemberAssignment = []byte{}
	return resp
}

// SyncGroup handles a SyncGroup request (GroupMetadataManager.classicGroupSync).
// In CompletingRebalance every member waits; the leader's request carries
// the assignment, which is written to __consumer_offsets, and once the write
// is committed all waiting members get their part and the group is Stable.
func (s *Shard) SyncGroup(now int64, req *kmsg.SyncGroupRequest, reply func(kmsg.Response)) {
	g := s.groups[req.Group]
	if g == nil || len(g.members) == 0 {
		reply(syncResponse(req, kerr.UnknownMemberID.Code))
		return
	}
	if err := s.validateSync(g, req); err != nil {
		reply(syncResponse(req, err.Code))
		return
	}
	m := g.member(req.MemberID)
	switch g.state {
	case PreparingRebalance:
		reply(syncResponse(req, kerr.RebalanceInProgress.Code))
	case CompletingRebalance:
		if m.sync != nil {
			// An earlier SyncGroup the client gave up on (Streamlab's
			// choice: answer it rather than leave it hanging).
			s.answerSync(m, syncResponse(m.sync.req, kerr.RebalanceInProgress.Code))
		}
		m.sync = &pendingSync{req: req, reply: reply}
		delete(g.pendingSync, m.id)
		if g.leader != m.id {
			return
		}
		// Members the leader left out get an empty assignment.
		assignment := map[string][]byte{}
		for _, x := range g.members {
			assignment[x.id] = []byte{}
		}
		for _, a := range req.GroupAssignment {
			if _, ok := assignment[a.MemberID]; ok && a.MemberAssignment != nil {
				assignment[a.MemberID] = slices.Clone(a.MemberAssignment)
			}
		}
		generation := g.generation
		s.storeGroup(g, assignment, func(now int64, err *kerr.Error) {
			// Members may have come or gone while the write was out.
			if g.state != CompletingRebalance || g.generation != generation {
				return
			}
			if err != nil {
				werr := groupWriteError(err)
				s.resetAssignment(now, g, werr)
				s.maybeRebalanceOrCompleteJoin(now, g, fmt.Sprintf("error %s when storing the group assignment", werr.Message))
				return
			}
			for _, x := range g.members {
				x.assignment = assignment[x.id]
			}
			s.transition(now, g, Stable, fmt.Sprintf("assignment of generation %d stored", g.generation))
			s.propagateAssignment(now, g, nil)
		})
	case Stable:
		delete(g.pendingSync, m.id)
		m.sync = &pendingSync{req: req, reply: reply}
		s.answerAssignment(now, g, m)
	}
}

// validateSync checks a SyncGroup against the group (validateSyncGroup).
func (s *Shard) validateSync(g *classicGroup, req *kmsg.SyncGroupRequest) *kerr.Error {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	inconsistent := func(a *string, b string) bool { return a != nil && b != "" && *a != b }
	if inconsistent(req.ProtocolType, g.protocolType) || inconsistent(req.Protocol, g.protocol) {
		return kerr.InconsistentGroupProtocol
	}
	return nil
}

// resetAssignment answers every waiting SyncGroup with err and forgets the
// assignments (resetAndPropagateAssignmentWithError).
func (s *Shard) resetAssignment(now int64, g *classicGroup, err *kerr.Error) {
	for _, m := range g.members {
		m.assignment = nil
	}
	s.propagateAssignment(now, g, err)
}

// propagateAssignment answers the members waiting in SyncGroup, each with
// its assignment or with err, and restarts their session timers: while they
// waited their sessions did not count (propagateAssignment).
func (s *Shard) propagateAssignment(now int64, g *classicGroup, err *kerr.Error) {
	for _, m := range slices.Clone(g.members) {
		if m.sync == nil {
			continue
		}
		if err != nil {
			s.answerSync(m, syncResponse(m.sync.req, err.Code))
		} else {
			s.answerAssignment(now, g, m)
		}
		s.heartbeat(now, m)
	}
}

// answerAssignment answers m's waiting SyncGroup with its assignment.
func (s *Shard) answerAssignment(now int64, g *classicGroup, m *member) {
	resp := syncResponse(m.sync.req, 0)
	resp.ProtocolType, resp.Protocol = stringOrNil(g.protocolType), stringOrNil(g.protocol)
	if m.assignment != nil {
		resp.MemberAssignment = m.assignment
	}
	s.answerSync(m, resp)
	s.heartbeat(now, m)
	s.emit(core.AssignmentReceived{Group: g.id, MemberID: m.id, Generation: g.generation, Protocol: g.protocol,
		Partitions: consumerAssignment(g.protocolType, m.assignment), Bytes: len(m.assignment)})
}

// consumerAssignment decodes a consumer protocol assignment
// (ConsumerProtocolAssignment) for the event; nil if it is not one.
func consumerAssignment(protocolType string, b []byte) (out map[string][]int32) {
	if protocolType != "consumer" || len(b) == 0 {
		return nil
	}
	defer func() {
		if recover() != nil { // the bytes are the leader's; never trust them
			out = nil
		}
	}()
	var a kmsg.ConsumerMemberAssignment
	if a.ReadFrom(b) != nil {
		return nil
	}
	out = map[string][]int32{}
	for _, t := range a.Topics {
		out[t.Topic] = append(out[t.Topic], t.Partitions...)
	}
	return out
}
