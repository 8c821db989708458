package group

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// Shard coordinates the groups of one __consumer_offsets partition
// (GroupCoordinatorShard, with GroupMetadataManager's classic group logic
// and OffsetMetadataManager's offsets).
type Shard struct {
	cfg       Config
	partition int32
	rnd       *rand.Rand
	groups    map[string]*classicGroup
	out       Output

	nextRetentionCheck int64
	replayed, skipped  int // records replayed by Replay, and those it could not use
}

// Output is what a Shard asks its host to do since the last TakeOutput:
// append Writes to the partition, in order, and pass Events on.
type Output struct {
	Writes []Write
	Events []core.Event
}

// Record is one __consumer_offsets record; a nil Value is a tombstone.
type Record struct{ Key, Value []byte }

// Write is records to append to the partition as one batch. The host calls
// Shard.Done with it once the high watermark has passed the batch (Kafka's
// coordinator appends with acks=all), or with the append's error: the
// responses that wait for the write go out then.
type Write struct {
	Records []Record
	done    func(now int64, err *kerr.Error)
}

// NewShard returns the coordinator of partition's groups, empty until the
// host replays the partition's records into it. seed feeds the random part
// of member ids.
func NewShard(cfg Config, partition int32, seed uint64) *Shard {
	return &Shard{cfg: cfg, partition: partition, rnd: rand.New(rand.NewPCG(seed, uint64(partition))),
		groups: map[string]*classicGroup{}}
}

// TakeOutput returns and forgets the accumulated output.
func (s *Shard) TakeOutput() Output {
	out := s.out
	s.out = Output{}
	return out
}

// Done tells the shard what became of a write: nil once it is committed,
// else the append's error (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS,
// REQUEST_TIMED_OUT...).
func (s *Shard) Done(now int64, w Write, err *kerr.Error) {
	if w.done != nil {
		w.done(now, err)
	}
}

func (s *Shard) emit(e core.Event) { s.out.Events = append(s.out.Events, e) }

func (s *Shard) write(recs []Record, done func(now int64, err *kerr.Error)) {
	s.out.Writes = append(s.out.Writes, Write{Records: recs, done: done})
}

// groupIDs returns the group ids in order, so that timers fire in the same
// order in every run.
func (s *Shard) groupIDs() []string {
	ids := make([]string, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// newMemberID makes a member id as Kafka does: the client id (or the
// group.instance.id of a static member), a dash and a random UUID
// (ClassicGroup.generateMemberId).
func (s *Shard) newMemberID(g *classicGroup, clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	for {
		var u [16]byte
		for i := range u {
			u[i] = byte(s.rnd.Uint32())
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // IETF variant
		id := fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
		if _, pending := g.pending[id]; g.member(id) == nil && !pending {
			return id
		}
	}
}

func (s *Shard) transition(now int64, g *classicGroup, to State, reason string) {
	from := g.state
	g.prev, g.state, g.stateTimestamp = from, to, now
	s.emit(core.GroupStateChanged{Group: g.id, From: from.String(), To: to.String(), Generation: g.generation, Reason: reason})
}

func (s *Shard) addMember(g *classicGroup, m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.members = append(g.members, m)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	delete(g.pending, m.id)
	s.emit(core.MemberJoined{Group: g.id, MemberID: m.id, InstanceID: instance(m.instanceID), ClientID: m.clientID, ClientHost: m.clientHost})
}

// remove takes m out of g (ClassicGroup.remove). A JoinGroup or SyncGroup it
// still waits on is answered UNKNOWN_MEMBER_ID, so that the client, if it is
// still there, joins again.
func (s *Shard) remove(g *classicGroup, m *member, reason string) {
	if m.join != nil {
		s.answerJoin(m, joinResponse(m.join.req, "", kerr.UnknownMemberID.Code))
	}
	if m.sync != nil {
		s.answerSync(m, syncResponse(m.sync.req, kerr.UnknownMemberID.Code))
	}
	g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if len(g.members) > 0 {
			g.leader = g.members[0].id
		}
	}
	delete(g.pending, m.id)
	delete(g.pendingSync, m.id)
	s.emit(core.MemberLeft{Group: g.id, MemberID: m.id, InstanceID: instance(m.instanceID), Reason: reason})
}

func (s *Shard) answerJoin(m *member, resp *kmsg.JoinGroupResponse) {
	j := m.join
	m.join = nil
	j.reply(resp)
}

// answerSync answers a waiting SyncGroup; a successful answer hands the
// member its assignment.
func (s *Shard) answerSync(m *member, resp *kmsg.SyncGroupResponse) {
	ps := m.sync
	m.sync = nil
	ps.reply(resp)
}

// storeGroup writes the group's metadata record with the given assignment
// (GroupCoordinatorRecordHelpers.newGroupMetadataRecord).
func (s *Shard) storeGroup(g *classicGroup, assignment map[string][]byte, done func(now int64, err *kerr.Error)) {
	v := GroupValue{ProtocolType: g.protocolType, Generation: g.generation, Protocol: stringOrNil(g.protocol),
		Leader: stringOrNil(g.leader), CurrentStateTimestamp: g.stateTimestamp}
	for _, m := range g.members {
		sub := m.metadata(g.protocol)
		if sub == nil {
			sub = []byte{}
		}
		v.Members = append(v.Members, MemberValue{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID,
			ClientHost: m.clientHost, RebalanceTimeout: m.rebalanceTimeoutMs, SessionTimeout: m.sessionTimeoutMs,
			Subscription: sub, Assignment: assignment[m.id]})
	}
	s.write([]Record{{Key: EncodeGroupKey(g.id), Value: EncodeGroupValue(v)}}, done)
}

// groupWriteError is the error a member sees when a group metadata write
// failed (GroupMetadataManager.appendGroupMetadataErrorToResponseError).
func groupWriteError(err *kerr.Error) *kerr.Error {
	switch err {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		return kerr.CoordinatorNotAvailable
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return kerr.NotCoordinator
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		return kerr.UnknownServerError
	}
	return err
}

// Tick runs the timers due at now: the end of a join phase (rebalance
// timeout or initial delay), members that never synced, pending member ids,
// session timeouts, and offset expiration.
func (s *Shard) Tick(now int64) {
	for _, id := range s.groupIDs() {
		if g := s.groups[id]; g != nil {
			s.tickGroup(now, g)
		}
	}
	if s.nextRetentionCheck == 0 {
		s.nextRetentionCheck = now + s.cfg.OffsetsRetentionCheckIntervalMs
	}
	if now >= s.nextRetentionCheck {
		s.nextRetentionCheck = now + s.cfg.OffsetsRetentionCheckIntervalMs
		s.expireOffsets(now)
	}
}

func (s *Shard) tickGroup(now int64, g *classicGroup) {
	if g.state != PreparingRebalance {
		g.joinDeadline = 0
	}
	if g.joinDeadline > 0 && now >= g.joinDeadline {
		if g.initialJoin && g.newMemberAdded && g.initialRemaining != 0 {
			// Members keep coming: wait once more, within the rebalance
			// timeout (tryCompleteInitialRebalanceElseSchedule).
			g.newMemberAdded = false
			delay := min(s.cfg.InitialRebalanceDelayMs, g.initialRemaining)
			g.initialRemaining = max(g.initialRemaining-g.initialDelay, 0)
			g.initialDelay = delay
			g.joinDeadline = now + delay
		} else {
			s.completeJoin(now, g)
		}
	}
	if g.syncDeadline > 0 && now >= g.syncDeadline {
		g.syncDeadline = 0
		s.expirePendingSync(now, g)
	}
	var expired []string
	for id, deadline := range g.pending {
		if now >= deadline {
			expired = append(expired, id)
		}
	}
	sort.Strings(expired)
	for _, id := range expired {
		// A member id handed out with MEMBER_ID_REQUIRED that never came
		// back within the session timeout.
		delete(g.pending, id)
		if g.state == PreparingRebalance && g.allJoined() {
			s.completeJoin(now, g)
		}
	}
	for _, m := range slices.Clone(g.members) {
		if g.member(m.id) != m || m.heartbeatDeadline == 0 || now < m.heartbeatDeadline {
			continue
		}
		m.heartbeatDeadline = 0
		// A member waiting for the rebalance needs no heartbeat, except a
		// new one that never completed a join (hasSatisfiedHeartbeat).
		if !m.isNew && (m.join != nil || m.sync != nil) {
			continue
		}
		reason := fmt.Sprintf("session timeout: no heartbeat within session.timeout.ms=%d", m.sessionTimeoutMs)
		if m.isNew {
			reason = "new member join timeout: its JoinGroup waited too long"
		}
		s.removeAndUpdate(now, g, m, reason)
	}
}

// heartbeat restarts m's session timer.
func (s *Shard) heartbeat(now int64, m *member) {
	m.heartbeatDeadline = now + int64(m.sessionTimeoutMs)
}

// removeAndUpdate removes a member and moves the group on: a rebalance if it
// was stable, or the end of the join phase if only this member was missing
// (removeMemberAndUpdateClassicGroup).
func (s *Shard) removeAndUpdate(now int64, g *classicGroup, m *member, reason string) {
	s.remove(g, m, reason)
	switch {
	case g.state == Stable || g.state == CompletingRebalance:
		s.maybeRebalanceOrCompleteJoin(now, g, reason)
	case g.state == PreparingRebalance && g.allJoined():
		s.completeJoin(now, g)
	}
}

// Unload hands the groups over: this broker no longer leads the partition.
// Waiting requests are answered NOT_COORDINATOR, so their clients look the
// coordinator up again (GroupCoordinator.onGroupUnloaded).
func (s *Shard) Unload(now int64) {
	n := len(s.groups)
	for _, id := range s.groupIDs() {
		g := s.groups[id]
		for _, m := range g.members {
			if m.join != nil {
				s.answerJoin(m, joinResponse(m.join.req, m.id, kerr.NotCoordinator.Code))
			}
			if m.sync != nil {
				s.answerSync(m, syncResponse(m.sync.req, kerr.NotCoordinator.Code))
			}
		}
		s.transition(now, g, Dead, "the coordinator moved: this broker no longer leads the partition")
	}
	s.groups = map[string]*classicGroup{}
	if n > 0 {
		s.emit(core.GroupsUnloaded{Partition: s.partition, Groups: n})
	}
}
