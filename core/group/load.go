package group

import (
	"github.com/streamlab/streamlab/core"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Replay applies one record of the partition, oldest first, while the host
// loads the shard (GroupMetadataManager.replay, OffsetMetadataManager.replay):
// the last record of a key wins and a tombstone deletes. A record that
// cannot be decoded is skipped and returned as an error; loading goes on,
// as a damaged record must not take the groups of the others down with it.
func (s *Shard) Replay(key, value []byte) error {
	s.replayed++
	k, err := DecodeKey(key)
	if err != nil {
		s.skipped++
		return err
	}
	g := s.groups[k.Group]
	switch k.Type {
	case KeyLegacyOffsetCommit, KeyOffsetCommit:
		tp := TopicPartition{k.Topic, k.Partition}
		if value == nil {
			if g != nil {
				delete(g.offsets, tp)
			}
			return nil
		}
		v, err := DecodeOffsetValue(value)
		if err != nil {
			s.skipped++
			return err
		}
		if g == nil {
			// Offsets without group metadata: a standalone consumer's.
			g = newGroup(k.Group, -1)
			s.groups[k.Group] = g
		}
		g.offsets[tp] = v
	case KeyGroupMetadata:
		if value == nil {
			if g != nil {
				fresh := newGroup(k.Group, -1)
				fresh.offsets = g.offsets
				s.groups[k.Group] = fresh
				if len(g.offsets) == 0 {
					delete(s.groups, k.Group)
				}
			}
			return nil
		}
		v, err := DecodeGroupValue(value)
		if err != nil {
			s.skipped++
			return err
		}
		fresh := newGroup(k.Group, v.CurrentStateTimestamp)
		if g != nil {
			fresh.offsets = g.offsets
		}
		fresh.protocolType, fresh.generation = v.ProtocolType, v.Generation
		if v.Protocol != nil {
			fresh.protocol = *v.Protocol
		}
		if v.Leader != nil {
			fresh.leader = *v.Leader
		}
		for _, mv := range v.Members {
			m := &member{id: mv.MemberID, instanceID: mv.InstanceID, clientID: mv.ClientID, clientHost: mv.ClientHost,
				rebalanceTimeoutMs: mv.RebalanceTimeout, sessionTimeoutMs: mv.SessionTimeout, protocolType: v.ProtocolType,
				protocols:  []kmsg.JoinGroupRequestProtocol{{Name: fresh.protocol, Metadata: mv.Subscription}},
				assignment: mv.Assignment}
			fresh.members = append(fresh.members, m)
			if m.instanceID != nil {
				fresh.static[*m.instanceID] = m.id
			}
		}
		if len(fresh.members) > 0 {
			fresh.state = Stable
			if fresh.member(fresh.leader) == nil {
				fresh.leader = fresh.members[0].id
			}
		}
		s.groups[k.Group] = fresh
	}
	return nil
}

// Loaded ends the load: the groups are served from now on. Members of a
// stable group must heartbeat within their session timeout, counted from
// now, as the clients of a group whose coordinator moved find the new one
// and go on where they were (GroupMetadataManager.onLoaded).
func (s *Shard) Loaded(now int64) {
	offsets := 0
	for _, id := range s.groupIDs() {
		g := s.groups[id]
		offsets += len(g.offsets)
		for _, m := range g.members {
			s.heartbeat(now, m)
		}
		s.emit(core.GroupStateChanged{Group: id, From: Dead.String(), To: g.state.String(), Generation: g.generation, Reason: "loaded from " + OffsetsTopic})
	}
	if s.replayed > 0 {
		s.emit(core.GroupsLoaded{Partition: s.partition, Groups: len(s.groups), Offsets: offsets, Records: s.replayed, Skipped: s.skipped})
	}
}
