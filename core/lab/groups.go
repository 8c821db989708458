package lab

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/assign"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/group"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/sim"
)

// Consumer groups: the learner adds groups reading the lab's topic, adds
// members, removes them (LeaveGroup) or crashes them (no goodbye: the
// coordinator notices after session.timeout.ms). Each member is a real
// client.Consumer with a group.id in the sim; the group's state is what its
// coordinator reports in events, a member's partitions and offsets are its
// consumer's own.

// MemberIDBase: member n (1, 2, ...) of the lab, over all groups, is
// MemberIDBase+n, named c-n (its client.id). Far above the ids in lab.go.
const MemberIDBase = core.ClientIDBase + 100

// Limits that keep the page light (every member is a machine in the tab).
const (
	MaxGroups          = 4
	MaxMembersPerGroup = 8
)

// OffsetsTopicPartitions is offsets.topic.num.partitions in the lab: 5
// rather than Kafka's 50, whose 150 replicas would cost the page's main
// thread more than all the rest of the cluster.
const OffsetsTopicPartitions = 5

// Assignors are the partition.assignment.strategy choices.
var Assignors = []string{"range", "roundrobin", "sticky", "cooperative-sticky"}

// GroupConfig is a group to add. Zero values take the defaults in brackets.
type GroupConfig struct {
	Name     string // group.id
	Assignor string // partition.assignment.strategy, one of Assignors ("range")
	// Commit: enable.auto.commit=true (client.CommitAuto), or false with a
	// commitSync after (at-least-once) or before (at-most-once) processing
	// each poll's records.
	Commit            client.CommitMode
	ProcessingDelayMs int64 // how long the application takes per record (0)
	SessionTimeoutMs  int32 // session.timeout.ms (Kafka's default, 45000)
	Members           int   // members to start with (1)
}

// groups is the lab's consumer groups.
type groups struct {
	list    []*labGroup
	members map[core.NodeID]*member
	next    int // members made so far
}

// labGroup is one group: its config, its members and what its coordinator
// reported.
type labGroup struct {
	cfg     GroupConfig
	members []*member // in the order added; gone ones are dropped
	// From the coordinator's events.
	state, reason string
	generation    int32
	protocol      string
	coordNode     core.NodeID // the broker that reported last
	committed     map[int32]int64
	owner         map[int32]string // who was assigned each partition last
}

// member is a group member: its consumer, wrapped so that its rebalances
// are events (memberMachine).
type member struct {
	*memberMachine
	g *labGroup
	// crashed: killed (Sim.Crash); leaving: Close called (LeaveGroup).
	// lastID is its member id then: the member is gone once the
	// coordinator reports that id left, or at once if it had none.
	crashed, leaving bool
	lastID           string
}

// Rebalanced is a member's side of a completed rebalance, as its
// ConsumerRebalanceListener sees it: the coordinator's AssignmentReceived
// plus what the member revoked before or after it (eager: everything,
// before rejoining; cooperative: only what moved, then it rejoins) and what
// it added. The lab emits it for the member when its consumer applies the
// assignment, from the consumer's own record (client.Rebalance).
type Rebalanced struct {
	core.AssignmentReceived        // Partitions: the whole assignment of the generation
	Member                  string // c-n
	Added, Revoked, Lost    []int32
	// From names the member each added partition was assigned to before
	// (filled in by the lab as it observes the group's events); absent if
	// nobody or this member itself had it.
	From map[int32]string
}

// memberMachine is a member's consumer as the sim runs it: Ready adds a
// Rebalanced event after each rebalance the consumer completes.
type memberMachine struct {
	*client.Consumer
	group, name string
	topic       string
	seen        int64            // rebalances reported
	last        client.Rebalance // the last one (Generation -1: none yet)
}

func (m *memberMachine) Ready() core.Ready {
	rd := m.Consumer.Ready()
	if n := m.Stats().Rebalances; n != m.seen {
		m.seen = n
		rbs := m.Rebalances()
		rb := rbs[len(rbs)-1]
		m.last = rb
		ev := Rebalanced{Member: m.name,
			Added: m.parts(rb.Added), Revoked: m.parts(rb.Revoked), Lost: m.parts(rb.Lost)}
		ev.Group, ev.MemberID, ev.Generation, ev.Protocol = m.group, m.MemberID(), rb.Generation, rb.Protocol
		ev.Partitions = map[string][]int32{m.topic: m.parts(rb.Assigned)}
		rd.Events = append(rd.Events[:len(rd.Events):len(rd.Events)], ev)
	}
	return rd
}

// parts keeps the partitions of the lab's topic.
func (m *memberMachine) parts(tps []client.TopicPartition) []int32 {
	var out []int32
	for _, tp := range tps {
		if tp.Topic == m.topic {
			out = append(out, tp.Partition)
		}
	}
	slices.Sort(out)
	return out
}

// MemberName is the name (and client.id) of the group member with that
// id, ok false for other ids.
func MemberName(id core.NodeID) (string, bool) {
	if id <= MemberIDBase {
		return "", false
	}
	return fmt.Sprintf("c-%d", id-MemberIDBase), true
}

// setGroupConfig gives a server's broker the lab's coordinator configs
// (at start and after a restart).
func setGroupConfig(srv *server.Server) {
	cfg := group.DefaultConfig()
	cfg.OffsetsTopicPartitions = OffsetsTopicPartitions
	srv.Broker().SetGroupConfig(cfg)
}

func (l *Lab) group(name string) *labGroup {
	for _, g := range l.grp.list {
		if g.cfg.Name == name {
			return g
		}
	}
	return nil
}

// AddGroup adds a consumer group reading the lab's topic from the earliest
// offset (auto.offset.reset=earliest), with cfg.Members members.
func (l *Lab) AddGroup(cfg GroupConfig) error {
	cfg.Name = strings.TrimSpace(cfg.Name)
	if cfg.Assignor == "" {
		cfg.Assignor = "range"
	}
	if cfg.Members <= 0 {
		cfg.Members = 1
	}
	if cfg.SessionTimeoutMs <= 0 {
		cfg.SessionTimeoutMs = 45000
	}
	switch {
	case cfg.Name == "":
		return errors.New("group.id must not be empty")
	case len(cfg.Name) > 40:
		return errors.New("group.id: 40 characters at most here")
	case l.group(cfg.Name) != nil:
		return fmt.Errorf("group %q exists already", cfg.Name)
	case len(l.grp.list) >= MaxGroups:
		return fmt.Errorf("%d groups at most in this page", MaxGroups)
	case cfg.Members > MaxMembersPerGroup:
		return fmt.Errorf("%d members per group at most in this page", MaxMembersPerGroup)
	case cfg.Commit > client.CommitBeforeProcessing:
		return errors.New("commit mode: auto, after processing or before processing")
	case cfg.ProcessingDelayMs < 0:
		return errors.New("the processing delay cannot be negative")
	}
	if _, ok := assign.ByName(cfg.Assignor); !ok {
		return fmt.Errorf("invalid value %s for configuration partition.assignment.strategy", cfg.Assignor)
	}
	g := &labGroup{cfg: cfg, generation: -1, coordNode: -1, committed: map[int32]int64{}, owner: map[int32]string{}}
	// The config is checked before the group exists: a consumer Kafka
	// would refuse (heartbeat.interval.ms not below session.timeout.ms)
	// is an error here, not a panic.
	if err := l.memberConfig(g, 0).Validate(); err != nil {
		return err
	}
	l.record(Action{Kind: ActAddGroup, Group: cfg})
	l.grp.list = append(l.grp.list, g)
	for range cfg.Members {
		l.addMember(g)
	}
	return nil
}

func (l *Lab) memberConfig(g *labGroup, id core.NodeID) client.ConsumerConfig {
	name, _ := MemberName(id)
	return client.ConsumerConfig{ID: id, ClientID: name, Bootstrap: l.ids,
		GroupID: g.cfg.Name, Topics: []string{l.cfg.Topic}, PartitionAssignmentStrategy: []string{g.cfg.Assignor},
		AutoOffsetReset: "earliest", NoAutoCreateTopics: true, RequestTimeoutMs: l.cfg.ClientRequestTimeoutMs,
		SessionTimeoutMs: g.cfg.SessionTimeoutMs, Commit: g.cfg.Commit, ProcessingDelayMs: g.cfg.ProcessingDelayMs}
}

// AddMember starts one more member of a group; it returns the member's id.
func (l *Lab) AddMember(groupName string) (core.NodeID, error) {
	g := l.group(groupName)
	switch {
	case g == nil:
		return 0, fmt.Errorf("no group %q", groupName)
	case len(g.members) >= MaxMembersPerGroup:
		return 0, fmt.Errorf("%d members per group at most in this page", MaxMembersPerGroup)
	}
	l.record(Action{Kind: ActAddMember, Text: groupName})
	return l.addMember(g), nil
}

func (l *Lab) addMember(g *labGroup) core.NodeID {
	if l.grp.members == nil {
		l.grp.members = map[core.NodeID]*member{}
	}
	l.grp.next++
	id := MemberIDBase + core.NodeID(l.grp.next)
	cfg := l.memberConfig(g, id)
	cfg.Seed = l.Sim.Rand().Uint64()
	m := &member{g: g, memberMachine: &memberMachine{Consumer: client.NewConsumer(cfg), group: g.cfg.Name, name: cfg.ClientID,
		topic: l.cfg.Topic, last: client.Rebalance{Generation: -1}}}
	g.members = append(g.members, m)
	l.grp.members[id] = m
	l.Sim.Add(m.memberMachine, nil)
	return id
}

// RemoveMember stops a member as KafkaConsumer.close does: with auto commit
// it commits its positions, then it sends LeaveGroup, so the group
// rebalances at once.
func (l *Lab) RemoveMember(id core.NodeID) {
	m := l.grp.members[id]
	if m == nil || m.crashed || m.leaving {
		return
	}
	l.record(Action{Kind: ActRemoveMember, Node: id})
	m.leaving, m.lastID = true, m.MemberID()
	m.Close()
	l.dropIfGone(m)
}

// CrashMember kills a member's process: no commit, no LeaveGroup. The
// coordinator keeps it, and its partitions unread, until no heartbeat came
// for session.timeout.ms.
func (l *Lab) CrashMember(id core.NodeID) {
	m := l.grp.members[id]
	if m == nil || m.crashed || l.Sim.Machine(id) == nil {
		return
	}
	l.record(Action{Kind: ActCrashMember, Node: id})
	if !m.leaving {
		m.lastID = m.MemberID()
	}
	m.crashed = true
	l.Sim.Crash(id)
	l.dropIfGone(m)
}

// dropIfGone forgets a stopped member that the coordinator does not count
// (any more).
func (l *Lab) dropIfGone(m *member) {
	if m.lastID == "" {
		m.g.members = slices.DeleteFunc(m.g.members, func(x *member) bool { return x == m })
	}
}

// groupEvent follows the coordinators' events about the lab's groups;
// it may complete a Rebalanced event, hence the returned event.
func (l *Lab) groupEvent(o sim.Observed) core.Event {
	switch e := o.Event.(type) {
	case core.GroupStateChanged:
		g := l.group(e.Group)
		if g == nil {
			break
		}
		// A coordinator that lost the partition reports the group Dead
		// while the new one loads it; the order of the two varies.
		if e.To == group.Dead.String() && g.coordNode >= 0 && o.Node != g.coordNode {
			break
		}
		g.state, g.reason, g.generation, g.coordNode = e.To, e.Reason, e.Generation, o.Node
		if e.To == group.Empty.String() {
			g.protocol = ""
		}
	case core.AssignmentReceived:
		if g := l.group(e.Group); g != nil {
			g.protocol = e.Protocol
		}
	case core.OffsetCommitted:
		if g := l.group(e.Group); g != nil && e.Topic == l.cfg.Topic {
			g.committed[e.Partition] = e.Offset
		}
	case core.MemberLeft:
		if g := l.group(e.Group); g != nil {
			for _, m := range g.members {
				if (m.crashed || m.leaving) && m.lastID == e.MemberID {
					m.lastID = ""
					l.dropIfGone(m)
					break
				}
			}
		}
	case Rebalanced:
		if g := l.group(e.Group); g != nil {
			e.From = map[int32]string{}
			for _, p := range e.Added {
				if by := g.owner[p]; by != "" && by != e.Member {
					e.From[p] = by
				}
			}
			for _, ps := range e.Partitions {
				for _, p := range ps {
					g.owner[p] = e.Member
				}
			}
			return e
		}
	}
	return o.Event
}

// GroupView is a consumer group as the page shows it.
type GroupView struct {
	Config GroupConfig
	// As the coordinator last reported: Empty, PreparingRebalance,
	// CompletingRebalance, Stable or Dead ("" before its first event),
	// why, and the generation. Protocol is the assignor it chose.
	State, Reason string
	Generation    int32
	Protocol      string
	// Coordinator is the leader of the group's partition of
	// __consumer_offsets (OffsetsPartition) in the controller's metadata;
	// -1 while the topic does not exist or the partition has no leader.
	Coordinator      int32
	OffsetsPartition int32
	Members          []MemberView
	// Unowned: partitions no running member consumes right now.
	Unowned []int32
	// Committed offsets as the coordinator stored them (OffsetCommitted),
	// by partition.
	Committed map[int32]int64
}

// MemberView is a member of a group.
type MemberView struct {
	ID       core.NodeID
	Name     string // c-n, its client.id
	MemberID string // given by the coordinator, "" until it joined
	// State is the consumer's view: UNJOINED, PREPARING_REBALANCE,
	// COMPLETING_REBALANCE or STABLE (Kafka's MemberState).
	State   string
	Leader  bool // it computed the assignment of its generation
	Crashed bool
	Leaving bool   // closed (LeaveGroup sent), the coordinator has not removed it yet
	Error   string // a fatal group error (INCONSISTENT_GROUP_PROTOCOL...)
	// Partitions it consumes, with its position, the group's committed
	// offset and the lag (high watermark − position), -1 when unknown.
	Partitions []PartitionProgress
	// Idle: the group is Stable and gave it nothing (more members than
	// partitions).
	Idle bool
	// Its last completed rebalance (Generation -1: none yet).
	Last                 client.Rebalance
	Added, Revoked, Lost []int32
	Processed            int64
	CommitError          string
}

// PartitionProgress is where a member stands on one partition.
type PartitionProgress struct {
	Partition                int32
	Position, Committed, Lag int64
}

// Groups describes every group, in the order they were added.
func (l *Lab) Groups() []GroupView {
	var out []GroupView
	for _, g := range l.grp.list {
		gv := GroupView{Config: g.cfg, State: g.state, Reason: g.reason, Generation: g.generation, Protocol: g.protocol,
			Coordinator: -1, OffsetsPartition: group.PartitionFor(g.cfg.Name, OffsetsTopicPartitions), Committed: maps.Clone(g.committed)}
		if im := l.image(); im != nil {
			if p, ok := im.Partition(group.OffsetsTopic, gv.OffsetsPartition); ok {
				gv.Coordinator = p.Leader
			}
		}
		owned := map[int32]bool{}
		for _, m := range g.members {
			mv := l.memberView(g, m)
			if !m.crashed {
				for _, p := range mv.Partitions {
					owned[p.Partition] = true
				}
			}
			gv.Members = append(gv.Members, mv)
		}
		for p := range l.cfg.Partitions {
			if !owned[p] {
				gv.Unowned = append(gv.Unowned, p)
			}
		}
		out = append(out, gv)
	}
	return out
}

func (l *Lab) memberView(g *labGroup, m *member) MemberView {
	c := m.Consumer
	mv := MemberView{ID: c.ID(), Name: m.name, MemberID: c.MemberID(), State: c.GroupState(), Leader: c.IsLeader(),
		Crashed: m.crashed, Leaving: m.leaving, Error: c.GroupError(), Processed: c.Stats().Processed,
		CommitError: c.LastCommitError(), Last: m.last}
	if m.lastID != "" && (m.crashed || m.leaving) {
		mv.MemberID = m.lastID
	}
	for _, tp := range c.Assignment() {
		if tp.Topic != l.cfg.Topic {
			continue
		}
		pp := PartitionProgress{Partition: tp.Partition, Position: -1, Committed: -1, Lag: -1}
		if off, ok := c.Position(tp.Topic, tp.Partition); ok {
			pp.Position = off
		}
		if off, ok := g.committed[tp.Partition]; ok {
			pp.Committed = off
		}
		if lag, ok := c.Lag(tp.Topic, tp.Partition); ok {
			pp.Lag = lag
		}
		mv.Partitions = append(mv.Partitions, pp)
	}
	mv.Idle = len(mv.Partitions) == 0 && g.state == group.Stable.String() && mv.State == "STABLE" && !m.crashed && !m.leaving
	mv.Added, mv.Revoked, mv.Lost = m.parts(m.last.Added), m.parts(m.last.Revoked), m.parts(m.last.Lost)
	return mv
}

// Member is a group member's consumer, nil for other ids.
func (l *Lab) Member(id core.NodeID) *client.Consumer {
	if m := l.grp.members[id]; m != nil {
		return m.Consumer
	}
	return nil
}
