package group

import (
	"github.com/streamlab/streamlab/core"

	"fmt"
	"sort"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit handles an OffsetCommit request (OffsetMetadataManager.commitOffset).
// exists reports whether a partition exists: Kafka answers
// UNKNOWN_TOPIC_OR_PARTITION for the others before the coordinator sees
// them (KafkaApis.handleOffsetCommitRequest). The answer goes out once the
// offsets are committed to __consumer_offsets; only then does OffsetFetch
// return them.
func (s *Shard) OffsetCommit(now int64, req *kmsg.OffsetCommitRequest, exists func(topic string, partition int32) bool, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	setAll := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	}
	g, err := s.validateCommit(now, req)
	if err != nil {
		setAll(err.Code)
		reply(resp)
		return
	}
	if m := g.member(req.MemberID); m != nil {
		s.heartbeat(now, m) // a commit shows the member is alive, as a heartbeat does
	}
	type commit struct {
		tp  TopicPartition
		v   OffsetValue
		out *int16
	}
	var commits []commit
	var recs []Record
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j].ErrorCode
			metadata := ""
			if rp.Metadata != nil {
				metadata = *rp.Metadata
			}
			switch {
			case exists != nil && !exists(rt.Topic, rp.Partition):
				*out = kerr.UnknownTopicOrPartition.Code
				continue
			case len(utf16.Encode([]rune(metadata))) > s.cfg.OffsetMetadataMaxBytes:
				// offset.metadata.max.bytes counts Java chars.
				*out = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			v := OffsetValue{Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: metadata, CommitTimestamp: now, ExpireTimestamp: -1}
			if req.Version == 1 && rp.Timestamp != -1 {
				v.CommitTimestamp = rp.Timestamp
			}
			if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
				v.ExpireTimestamp = now + req.RetentionTimeMillis
			}
			tp := TopicPartition{rt.Topic, rp.Partition}
			commits = append(commits, commit{tp, v, out})
			recs = append(recs, Record{Key: EncodeOffsetKey(g.id, tp.Topic, tp.Partition), Value: EncodeOffsetValue(v)})
		}
	}
	if len(recs) == 0 {
		reply(resp)
		return
	}
	s.write(recs, func(now int64, err *kerr.Error) {
		for _, c := range commits {
			if err != nil {
				*c.out = offsetWriteError(err).Code
				continue
			}
			if s.groups[g.id] == g { // not deleted meanwhile
				g.offsets[c.tp] = c.v
			}
			s.emit(core.OffsetCommitted{Group: g.id, Topic: c.tp.Topic, Partition: c.tp.Partition, Offset: c.v.Offset,
				Generation: req.Generation, MemberID: req.MemberID})
		}
		reply(resp)
	})
}

// validateCommit finds the group a commit is for, creating a "simple" group
// for a consumer that commits with generation -1 and no group management
// (OffsetMetadataManager.validateOffsetCommit, ClassicGroup.validateOffsetCommit).
func (s *Shard) validateCommit(now int64, req *kmsg.OffsetCommitRequest) (*classicGroup, *kerr.Error) {
	if req.Group == "" {
		return nil, kerr.InvalidGroupID
	}
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			// A member of a generation of a group that is gone.
			return nil, kerr.IllegalGeneration
		}
		g = newGroup(req.Group, now)
		s.groups[req.Group] = g
		return g, nil
	}
	switch {
	case g.state == Dead:
		return nil, kerr.CoordinatorNotAvailable
	case req.Generation < 0 && g.state == Empty:
		return g, nil // the group only stores offsets
	case req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil:
		if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
			return nil, err
		}
		if req.Generation != g.generation {
			return nil, kerr.IllegalGeneration
		}
	default:
		// No member id and no generation: only an empty group takes it.
		return nil, kerr.UnknownMemberID
	}
	if g.state == CompletingRebalance {
		// The member has the new generation but no assignment yet: it
		// must not commit for partitions it may lose.
		return nil, kerr.RebalanceInProgress
	}
	return g, nil
}

// offsetWriteError is what a commit answers when its write failed
// (CoordinatorRuntime's error mapping for OffsetCommit).
func offsetWriteError(err *kerr.Error) *kerr.Error {
	switch err {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		return kerr.CoordinatorNotAvailable
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return kerr.NotCoordinator
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		return kerr.InvalidCommitOffsetSize
	}
	return err
}

// FetchOffsets answers one group of an OffsetFetch (OffsetMetadataManager.fetchOffsets,
// fetchAllOffsets): the committed offset of each requested partition, -1 for
// those without one, or every committed offset if Topics is nil.
func (s *Shard) FetchOffsets(rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = rg.Group
	var offsets map[TopicPartition]OffsetValue
	if g := s.groups[rg.Group]; g != nil {
		offsets = g.offsets
	}
	part := func(p int32) kmsg.OffsetFetchResponseGroupTopicPartition {
		sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		sp.Partition, sp.Offset, sp.Metadata = p, -1, kmsg.StringPtr("")
		return sp
	}
	fill := func(sp *kmsg.OffsetFetchResponseGroupTopicPartition, v OffsetValue) {
		sp.Offset, sp.LeaderEpoch, sp.Metadata = v.Offset, v.LeaderEpoch, kmsg.StringPtr(v.Metadata)
	}
	if rg.Topics == nil {
		tps := make([]TopicPartition, 0, len(offsets))
		for tp := range offsets {
			tps = append(tps, tp)
		}
		sort.Slice(tps, func(i, j int) bool {
			return tps[i].Topic < tps[j].Topic || tps[i].Topic == tps[j].Topic && tps[i].Partition < tps[j].Partition
		})
		for _, tp := range tps {
			if n := len(out.Topics); n == 0 || out.Topics[n-1].Topic != tp.Topic {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = tp.Topic
				out.Topics = append(out.Topics, st)
			}
			sp := part(tp.Partition)
			fill(&sp, offsets[tp])
			st := &out.Topics[len(out.Topics)-1]
			st.Partitions = append(st.Partitions, sp)
		}
		return out
	}
	for _, rt := range rg.Topics {
		st := kmsg.NewOffsetFetchResponseGroupTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := part(p)
			if v, ok := offsets[TopicPartition{rt.Topic, p}]; ok {
				fill(&sp, v)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		out.Topics = append(out.Topics, st)
	}
	return out
}

// expireOffsets deletes offsets past offsets.retention.minutes, and empty
// groups left with none (KIP-211; OffsetMetadataManager.cleanupExpiredOffsets,
// GroupMetadataManager.cleanupGroupMetadata). An empty group's offsets
// expire that long after it became empty; a standalone consumer's that long
// after their commit; a group with members keeps them.
func (s *Shard) expireOffsets(now int64) {
	for _, id := range s.groupIDs() {
		g := s.groups[id]
		if g.state != Empty || len(g.pending) > 0 {
			continue
		}
		var recs []Record
		var expired []TopicPartition
		for tp, v := range g.offsets {
			base := g.stateTimestamp
			if g.protocolType == "" || base < 0 {
				base = v.CommitTimestamp
			}
			if (v.ExpireTimestamp >= 0 && now >= v.ExpireTimestamp) || (v.ExpireTimestamp < 0 && now-base >= s.cfg.OffsetsRetentionMs) {
				expired = append(expired, tp)
			}
		}
		sort.Slice(expired, func(i, j int) bool {
			return expired[i].Topic < expired[j].Topic || expired[i].Topic == expired[j].Topic && expired[i].Partition < expired[j].Partition
		})
		for _, tp := range expired {
			delete(g.offsets, tp)
			recs = append(recs, Record{Key: EncodeOffsetKey(id, tp.Topic, tp.Partition)})
		}
		if len(expired) > 0 {
			s.emit(core.OffsetsExpired{Group: id, Offsets: len(expired),
				Reason: fmt.Sprintf("offsets.retention.minutes=%d passed", s.cfg.OffsetsRetentionMs/60000)})
		}
		if len(g.offsets) == 0 {
			recs = append(recs, Record{Key: EncodeGroupKey(id)})
			delete(s.groups, id)
			s.transition(now, g, Dead, "empty, with no offsets left")
		}
		if len(recs) > 0 {
			s.write(recs, nil)
		}
	}
}
