package group

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state (ClassicGroupState).
type State int8

const (
	// Empty: no members; offsets may still be committed (a standalone
	// consumer or an admin with generation -1) and the group expires once
	// its offsets do.
	Empty State = iota
	// PreparingRebalance: members must rejoin; JoinGroup responses wait
	// until all known members have rejoined or the rebalance timeout.
	PreparingRebalance
	// CompletingRebalance: JoinGroup responses went out; the group waits for
	// the leader's SyncGroup with the assignment.
	CompletingRebalance
	// Stable: the assignment is stored and handed out; members heartbeat.
	Stable
	// Dead: the group is gone (deleted, or its coordinator moved).
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// String is Kafka's name for the state, as DescribeGroups and ListGroups
// return it.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// TopicPartition names a partition whose offset a group commits.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// classicGroup is one group (ClassicGroup).
type classicGroup struct {
	id             string
	state, prev    State
	stateTimestamp int64 // when it entered its state (currentStateTimestamp)
	protocolType   string
	protocol       string // the selected protocol, "" for none
	generation     int32
	leader         string // "" for none
	members        []*member
	static         map[string]string // group.instance.id -> member id
	pending        map[string]int64  // member ids handed out with MEMBER_ID_REQUIRED -> expiry
	pendingSync    map[string]bool   // members that have not sent SyncGroup for this generation
	newMemberAdded bool              // a member joined during the initial delay

	// Timers, as deadlines in ms (0: not armed). joinDeadline completes the
	// join phase (DelayedJoin); while initialJoin, it is the initial delay
	// (InitialDelayedJoin) with initialDelay and initialRemaining left of
	// the rebalance timeout. syncDeadline drops members that got a JoinGroup
	// response but never synced.
	joinDeadline                   int64
	initialJoin                    bool
	initialDelay, initialRemaining int64
	syncDeadline                   int64

	offsets map[TopicPartition]OffsetValue
}

// member is one member (ClassicGroupMember).
type member struct {
	id                   string
	instanceID           *string
	clientID, clientHost string
	rebalanceTimeoutMs   int32
	sessionTimeoutMs     int32
	protocolType         string
	protocols            []kmsg.JoinGroupRequestProtocol
	assignment           []byte
	isNew                bool
	heartbeatDeadline    int64 // 0: no session timer armed
	join                 *pendingJoin
	sync                 *pendingSync
}

// A pendingJoin or pendingSync is a request waiting for the rebalance; reply
// answers it.
type pendingJoin struct {
	req   *kmsg.JoinGroupRequest
	reply func(kmsg.Response)
}

type pendingSync struct {
	req   *kmsg.SyncGroupRequest
	reply func(kmsg.Response)
}

func newGroup(id string, now int64) *classicGroup {
	return &classicGroup{id: id, stateTimestamp: now, static: map[string]string{}, pending: map[string]int64{},
		pendingSync: map[string]bool{}, offsets: map[TopicPartition]OffsetValue{}}
}

func (g *classicGroup) member(id string) *member {
	for _, m := range g.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

func instance(id *string) string {
	if id == nil {
		return ""
	}
	return *id
}

// validateMember checks that memberID is a member and, for a static member,
// that it is the instance's current member id (ClassicGroup.validateMember).
func (g *classicGroup) validateMember(memberID string, instanceID *string) *kerr.Error {
	if instanceID != nil {
		existing, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if existing != memberID {
			return kerr.FencedInstanceID
		}
	}
	if g.member(memberID) == nil {
		return kerr.UnknownMemberID
	}
	return nil
}

// staticFenced reports a static member whose id is not the instance's
// current one: an older process of the same instance.
func (g *classicGroup) staticFenced(memberID string, instanceID *string) bool {
	if instanceID == nil {
		return false
	}
	existing, ok := g.static[*instanceID]
	return ok && existing != memberID
}

// allJoined reports whether every member has rejoined and no member id
// handed out with MEMBER_ID_REQUIRED is still expected
// (ClassicGroup.hasAllMembersJoined).
func (g *classicGroup) allJoined() bool {
	for _, m := range g.members {
		if m.join == nil {
			return false
		}
	}
	return len(g.pending) == 0
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *classicGroup) rebalanceTimeout() int64 {
	var t int32
	for _, m := range g.members {
		t = max(t, m.rebalanceTimeoutMs)
	}
	return int64(t)
}

// canRebalance: PreparingRebalance can be entered from these states.
func (g *classicGroup) canRebalance() bool {
	return g.state == Stable || g.state == CompletingRebalance || g.state == Empty
}

// supports reports whether a member with these protocols may join
// (ClassicGroup.supportsClassicProtocols): an empty group takes any
// non-empty set; otherwise the type must match and one protocol must be
// supported by every member.
func (g *classicGroup) supports(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if g.state == Empty {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.allSupport(p.Name) {
			return true
		}
	}
	return false
}

func (g *classicGroup) allSupport(name string) bool {
	for _, m := range g.members {
		if m.metadata(name) == nil {
			return false
		}
	}
	return true
}

// selectProtocol picks the protocol of the next generation
// (ClassicGroup.selectProtocol): among the protocols every member supports,
// each member votes for the first in its own order of preference, and the
// most votes win. Kafka breaks ties by hash order; Streamlab by which was
// voted for first, in member order, so that runs replay.
func (g *classicGroup) selectProtocol() string {
	votes := map[string]int{}
	var order []string
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupport(p.Name) {
				if votes[p.Name] == 0 {
					order = append(order, p.Name)
				}
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, name := range order {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// metadata is the member's metadata for a protocol, nil if it does not
// support it.
func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			if p.Metadata == nil {
				return []byte{}
			}
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether a JoinGroup carries the member's protocols
// unchanged, in the same order (ClassicGroupMember.matches).
func (m *member) matches(protocols []kmsg.JoinGroupRequestProtocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || string(p.Metadata) != string(m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// electJoinedLeader keeps the leader if it rejoined, else makes the first
// rejoined member the leader; false if nobody rejoined
// (ClassicGroup.maybeElectNewJoinedLeader).
func (g *classicGroup) electJoinedLeader() bool {
	if l := g.member(g.leader); l == nil {
		return false
	} else if l.join != nil {
		return true
	}
	for _, m := range g.members {
		if m.join != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// joinedMembers lists the members with their metadata for the selected
// protocol, as the leader's JoinGroup response carries them.
func (g *classicGroup) joinedMembers() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.members))
	for _, m := range g.members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.id, m.instanceID, m.metadata(g.protocol)
		out = append(out, jm)
	}
	return out
}

// stringOrNil is Kafka's Optional.orElse(null) for a protocol type or name.
func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// parseStates normalizes ListGroups' states filter: Kafka compares state
// names case-insensitively.
func parseStates(filter []string) map[string]bool {
	if len(filter) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, s := range filter {
		out[strings.ToLower(s)] = true
	}
	return out
}
