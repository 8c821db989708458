package group

import (
	"github.com/streamlab/streamlab/core"

	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroup answers one group of a DescribeGroups request
// (GroupMetadataManager.describeGroups): a stable group shows each
// member's metadata and assignment, other states only the members. An
// unknown group is Dead, with GROUP_ID_NOT_FOUND from v6 on.
func (s *Shard) DescribeGroup(id string, version int16) kmsg.DescribeGroupsResponseGroup {
	out := kmsg.NewDescribeGroupsResponseGroup()
	out.Group = id
	g := s.groups[id]
	if g == nil {
		out.State = Dead.String()
		if version >= 6 {
			out.ErrorCode = kerr.GroupIDNotFound.Code
			out.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Group %s not found.", id))
		}
		return out
	}
	out.State, out.ProtocolType = g.state.String(), g.protocolType
	if g.state == Stable {
		out.Protocol = g.protocol
	}
	for _, m := range g.members {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if g.state == Stable {
			dm.ProtocolMetadata = m.metadata(g.protocol)
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		out.Members = append(out.Members, dm)
	}
	return out
}

// ListGroups lists the groups whose state and type pass the filters
// (ListGroups v4 states, v5 types; both case-insensitive, empty passes
// all). Every group here is a classic group.
func (s *Shard) ListGroups(states, types []string) []kmsg.ListGroupsResponseGroup {
	st := parseStates(states)
	if len(types) > 0 {
		classic := false
		for _, t := range types {
			classic = classic || strings.EqualFold(t, "classic")
		}
		if !classic {
			return nil
		}
	}
	var out []kmsg.ListGroupsResponseGroup
	for _, id := range s.groupIDs() {
		g := s.groups[id]
		if st != nil && !st[strings.ToLower(g.state.String())] {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = id, g.protocolType, g.state.String(), "classic"
		out = append(out, lg)
	}
	return out
}

// DeleteGroup deletes an empty group and its offsets, writing tombstones
// (GroupCoordinatorShard.deleteGroups); done gets the error code once the
// tombstones are committed. A group with members is NON_EMPTY_GROUP.
func (s *Shard) DeleteGroup(now int64, id string, done func(code int16)) {
	g := s.groups[id]
	switch {
	case id == "":
		done(kerr.InvalidGroupID.Code)
		return
	case g == nil || g.state == Dead:
		done(kerr.GroupIDNotFound.Code)
		return
	case g.state != Empty:
		done(kerr.NonEmptyGroup.Code)
		return
	}
	var tps []TopicPartition
	for tp := range g.offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		return tps[i].Topic < tps[j].Topic || tps[i].Topic == tps[j].Topic && tps[i].Partition < tps[j].Partition
	})
	var recs []Record
	for _, tp := range tps {
		recs = append(recs, Record{Key: EncodeOffsetKey(id, tp.Topic, tp.Partition)})
	}
	recs = append(recs, Record{Key: EncodeGroupKey(id)})
	delete(s.groups, id)
	if len(tps) > 0 {
		s.emit(core.OffsetsExpired{Group: id, Offsets: len(tps), Reason: "DeleteGroups"})
	}
	s.transition(now, g, Dead, "DeleteGroups")
	s.write(recs, func(now int64, err *kerr.Error) {
		if err != nil {
			done(groupWriteError(err).Code)
			return
		}
		done(0)
	})
}
