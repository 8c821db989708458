package client

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/assign"
)

// Group membership of the classic protocol, as the Java client's
// AbstractCoordinator and ConsumerCoordinator: find the coordinator, join
// (JoinGroup, with MEMBER_ID_REQUIRED since KIP-394), let the leader run
// the assignor, sync (SyncGroup), heartbeat, and leave. As in Java, joins
// happen inside poll (grouppoll.go), so an application busy processing a
// batch rejoins only when it polls again; heartbeats go on meanwhile, like
// Java's heartbeat thread, which also leaves the group when the application
// has not polled for max.poll.interval.ms.
//
// Simplified: one connection per broker serves the coordinator too (Java
// opens a separate one); the leader assigns only the topics it has
// metadata for; subscriptions are fixed topic lists (no patterns).

func init() {
	for k, r := range map[kmsg.Key][2]int16{
		kmsg.FindCoordinator: {0, 5}, // v4+ batches keys (KIP-699)
		kmsg.JoinGroup:       {0, 9},
		kmsg.SyncGroup:       {0, 5},
		kmsg.Heartbeat:       {0, 4},
		kmsg.LeaveGroup:      {0, 5},
		kmsg.OffsetCommit:    {2, 8},
		kmsg.OffsetFetch:     {1, 8},
	} {
		clientVersions[k.Int16()] = r
	}
}

// CommitMode is how the application commits offsets. Committed offset =
// the next offset to read (KafkaConsumer javadoc, "Offsets and Consumer
// Position").
type CommitMode uint8

const (
	// CommitAuto is enable.auto.commit=true (the default): poll commits
	// the positions every auto.commit.interval.ms, and the consumer
	// commits before giving partitions up in a rebalance and on Close.
	// At-least-once as long as each poll's records are processed before
	// the next poll, which is how this model processes.
	CommitAuto CommitMode = iota
	// CommitAfterProcessing: enable.auto.commit=false, and the
	// application calls commitSync after processing each poll's records:
	// at-least-once. A crash between processing and commit processes
	// records again.
	CommitAfterProcessing
	// CommitBeforeProcessing: enable.auto.commit=false, commitSync right
	// after poll, then processing: at-most-once. A crash between commit
	// and processing loses records; a failed commit skips them.
	CommitBeforeProcessing
	// CommitManual: enable.auto.commit=false; only Commit commits.
	CommitManual
)

func (m CommitMode) String() string {
	switch m {
	case CommitAuto:
		return "auto"
	case CommitAfterProcessing:
		return "after-processing"
	case CommitBeforeProcessing:
		return "before-processing"
	case CommitManual:
		return "manual"
	}
	return fmt.Sprintf("CommitMode(%d)", uint8(m))
}

// joinGroupTimeoutLapseMs is added to the rebalance timeout for a
// JoinGroup's request timeout (AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE).
const joinGroupTimeoutLapseMs = 5000

// groupDefaults fills in the group configs (ConsumerConfig,
// GroupRebalanceConfig).
func (c ConsumerConfig) groupDefaults() ConsumerConfig {
	if len(c.PartitionAssignmentStrategy) == 0 {
		c.PartitionAssignmentStrategy = []string{"range", "cooperative-sticky"}
	}
	c.SessionTimeoutMs = orDefault(c.SessionTimeoutMs, 45000)
	c.HeartbeatIntervalMs = orDefault(c.HeartbeatIntervalMs, 3000)
	c.MaxPollIntervalMs = orDefault(c.MaxPollIntervalMs, 300000)
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 500
	}
	c.DefaultAPITimeoutMs = orDefault(c.DefaultAPITimeoutMs, 60000)
	c.AutoCommitIntervalMs = orDefault(c.AutoCommitIntervalMs, 5000)
	if c.GroupID == "" && c.Commit == CommitAuto {
		// Without a group.id the Java client turns the default
		// enable.auto.commit=true off.
		c.Commit = CommitManual
	}
	c.ProcessingDelayMs = max(c.ProcessingDelayMs, 0)
	return c
}

func (c ConsumerConfig) validateGroup() error {
	for _, s := range c.PartitionAssignmentStrategy {
		if _, ok := assign.ByName(s); !ok {
			return fmt.Errorf("invalid value %s for configuration partition.assignment.strategy: class %s cannot be found", s, s)
		}
	}
	switch {
	case c.Commit > CommitManual:
		return fmt.Errorf("invalid commit mode %d", c.Commit)
	case c.GroupID == "" && (c.Commit == CommitAfterProcessing || c.Commit == CommitBeforeProcessing):
		return fmt.Errorf("InvalidGroupIdException: to use the group management or offset commit APIs, you must provide a valid group.id in the consumer configuration")
	case c.GroupID == "" && c.GroupInstanceID != "":
		return fmt.Errorf("group.instance.id needs a group.id")
	case c.GroupID != "" && c.HeartbeatIntervalMs >= int64(c.SessionTimeoutMs):
		return fmt.Errorf("heartbeat.interval.ms must be lower than session.timeout.ms") // Heartbeat's constructor
	}
	return nil
}

// memberState is AbstractCoordinator.MemberState.
type memberState uint8

const (
	memberUnjoined   memberState = iota // UNJOINED: not in the group (yet, or any more)
	memberPreparing                     // PREPARING_REBALANCE: joining, JoinGroup sent or to be retried
	memberCompleting                    // COMPLETING_REBALANCE: JoinGroup answered, SyncGroup sent
	memberStable                        // STABLE: has its assignment; heartbeats
)

func (s memberState) String() string {
	return [...]string{"UNJOINED", "PREPARING_REBALANCE", "COMPLETING_REBALANCE", "STABLE"}[s]
}

// Rebalance is what one completed rebalance did to this member, as a
// ConsumerRebalanceListener sees it.
type Rebalance struct {
	Time       int64
	Generation int32
	Protocol   string           // the assignor the coordinator chose
	Leader     bool             // this member computed the assignment
	Assigned   []TopicPartition // the whole assignment of the generation
	Added      []TopicPartition // onPartitionsAssigned
	Revoked    []TopicPartition // onPartitionsRevoked since the last rebalance
	Lost       []TopicPartition // onPartitionsLost: the generation was gone, nothing committed
}

// groupMember is the consumer's group state: ConsumerCoordinator.
type groupMember struct {
	c           *Consumer
	group       string
	instanceID  *string
	subscribed  bool // Topics with a group.id: group management; else only offsets
	cooperative bool // every assignor is cooperative (ConsumerCoordinator's protocol)

	coord        core.NodeID // -1: unknown
	findInFlight bool
	findAttempts int
	findRetryAt  int64

	state      memberState
	memberID   string
	generation int32
	protocol   string
	leaderID   string
	rejoin     bool
	reason     string // why the next join happens (JoinGroup v8+ Reason)
	prepared   bool   // onJoinPrepare ran for the coming join
	seq        int    // bumped to ignore the answer to a join or sync in flight
	inFlight   bool   // a JoinGroup or SyncGroup awaits its answer
	retryAt    int64
	attempts   int

	pending    map[string][]int32 // SyncGroup's assignment, applied by the next poll
	hasPending bool
	owned      map[string][]int32 // the assignment being consumed
	ownedGen   int32              // the generation that assignment came from
	stickyOwn  map[string][]int32 // sticky's memory of its last assignment (StickyAssignor.memberAssignment)
	stickyGen  int32
	snapshot   map[string]int32 // leader: partition counts it assigned (assignmentSnapshot)

	hbInFlight    bool
	hbSeq         int
	nextHeartbeat int64
	lastHeartbeat int64 // last heartbeat answer: the client-side session timer

	blocked     bool // poll waits for a commit made before revoking partitions
	revoked     []TopicPartition
	lost        []TopicPartition
	fatal       string
	closing     bool
	closed      bool
	commits     []*commitCall // sync commits waiting to be retried
	autoAt      int64         // next auto-commit
	autoStarted bool
	autoBusy    bool
	lastErr     string // last commit error
	history     []Rebalance
	offsetAt    int64 // OffsetFetch retry time
	offsetFl    bool  // OffsetFetch in flight
	offsetTries int
}

func (c *Consumer) initGroup() {
	g := &groupMember{c: c, group: c.cfg.GroupID, subscribed: len(c.cfg.Topics) > 0, coord: -1,
		generation: -1, rejoin: true, stickyGen: -1, owned: map[string][]int32{}, ownedGen: -1}
	if c.cfg.GroupInstanceID != "" {
		id := c.cfg.GroupInstanceID
		g.instanceID = &id
	}
	g.cooperative = !slices.ContainsFunc(c.cfg.PartitionAssignmentStrategy, func(s string) bool { return s != "cooperative-sticky" })
	c.grp = g
}

// GroupState is the member's state, in Kafka's words: UNJOINED,
// PREPARING_REBALANCE, COMPLETING_REBALANCE or STABLE; "" without a group.
func (c *Consumer) GroupState() string {
	if c.grp == nil || !c.grp.subscribed {
		return ""
	}
	return c.grp.state.String()
}

// MemberID is the member id the coordinator gave, "" if none.
func (c *Consumer) MemberID() string {
	if c.grp == nil {
		return ""
	}
	return c.grp.memberID
}

// Generation is the group generation the member belongs to, -1 if none.
func (c *Consumer) Generation() int32 {
	if c.grp == nil {
		return -1
	}
	return c.grp.generation
}

// AssignedGeneration is the generation of the assignment being consumed:
// that of the last completed rebalance. It differs from Generation while a
// rebalance is under way (a cooperative member keeps consuming what it
// owns); -1 once the member lost its generation, whose partitions it no
// longer owns.
func (c *Consumer) AssignedGeneration() int32 {
	if c.grp == nil || c.grp.generation < 0 {
		return -1
	}
	return c.grp.ownedGen
}

// Coordinator is the group coordinator the consumer talks to.
func (c *Consumer) Coordinator() (core.NodeID, bool) {
	if c.grp == nil || c.grp.coord < 0 {
		return -1, false
	}
	return c.grp.coord, true
}

// IsLeader reports whether this member computed the group's assignment in
// its generation.
func (c *Consumer) IsLeader() bool {
	return c.grp != nil && c.grp.memberID != "" && c.grp.leaderID == c.grp.memberID
}

// Protocol is the assignor the coordinator chose for the generation.
func (c *Consumer) Protocol() string {
	if c.grp == nil {
		return ""
	}
	return c.grp.protocol
}

// Rebalances lists the rebalances this member went through.
func (c *Consumer) Rebalances() []Rebalance {
	if c.grp == nil {
		return nil
	}
	return slices.Clone(c.grp.history)
}

// GroupError is the fatal error that ended the membership
// (FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL...), "" if none.
func (c *Consumer) GroupError() string {
	if c.grp == nil {
		return ""
	}
	return c.grp.fatal
}

// Closed reports whether Close has finished.
func (c *Consumer) Closed() bool { return c.app.closed }

// Close stops the consumer as KafkaConsumer.close: with auto commit it
// commits the positions, then a dynamic member sends LeaveGroup so that the
// group rebalances at once; a static member does not (KIP-345): its
// partitions wait for it until session.timeout.ms. Records polled and not
// processed yet are dropped.
func (c *Consumer) Close() {
	c.app.batch, c.app.commitDue = nil, false
	g := c.grp
	if g == nil {
		c.finishClose()
		return
	}
	if g.closing {
		return
	}
	g.closing = true
	offsets := c.consumedOffsets()
	if c.cfg.Commit != CommitAuto || len(offsets) == 0 || (g.subscribed && g.state != memberStable) || g.fatal != "" {
		c.finishClose()
		return
	}
	c.commit(offsets, true, func(*kerr.Error) { c.finishClose() })
}

func (c *Consumer) finishClose() {
	if g := c.grp; g != nil {
		if g.subscribed && g.fatal == "" {
			g.leave("the consumer is being closed")
		}
		g.closed = true
	}
	for _, k := range slices.Clone(c.order) {
		c.unassign(k)
	}
	c.app.closed = true
}
