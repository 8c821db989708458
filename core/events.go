package core

// Event is a typed observation made by a machine or by the host that runs it.
// The UI animates events; simulation checkers verify invariants on them.
type Event interface{ event() }

// Broker events.
type (
	// TopicCreated: a topic exists with its partitions and effective configs.
	TopicCreated struct {
		Topic      string
		Partitions int32
		Configs    map[string]string
	}
	// RecordsAppended: a batch was appended to a partition's log.
	RecordsAppended struct {
		Topic       string
		Partition   int32
		BaseOffset  int64
		LastOffset  int64
		Records     int32
		Bytes       int
		LeaderEpoch int32
	}
	// HighWatermarkAdvanced: consumers can now read below HighWatermark.
	HighWatermarkAdvanced struct {
		Topic         string
		Partition     int32
		HighWatermark int64
	}
	// SegmentRolled: a new active segment starts at BaseOffset.
	SegmentRolled struct {
		Topic      string
		Partition  int32
		BaseOffset int64
	}
	// SegmentDeleted: retention removed the segment [BaseOffset, NextOffset).
	SegmentDeleted struct {
		Topic      string
		Partition  int32
		BaseOffset int64
		NextOffset int64
		Reason     string // the config that caused it: retention.ms or retention.bytes
	}
	// LogStartOffsetAdvanced: offsets below LogStartOffset are gone for good.
	LogStartOffsetAdvanced struct {
		Topic          string
		Partition      int32
		LogStartOffset int64
	}
	// LogRecovered: opening the log found an invalid tail and cut it off.
	LogRecovered struct {
		Topic          string
		Partition      int32
		Segment        string
		TruncatedBytes int64
		NextOffset     int64
		Reason         string
	}
	// DuplicateIgnored: an idempotent producer resent a batch the log already
	// holds; the broker answered with its original offsets.
	DuplicateIgnored struct {
		Topic         string
		Partition     int32
		ProducerID    int64
		FirstSequence int32
		BaseOffset    int64
	}
	// ReplicaRoleChanged: this broker now leads the partition, or follows
	// Leader, in LeaderEpoch (Partition.makeLeader / makeFollower).
	ReplicaRoleChanged struct {
		Topic       string
		Partition   int32
		Role        string // "leader" or "follower"
		Leader      int32
		LeaderEpoch int32
	}
	// LogTruncated: a follower cut its log back to where it agrees with the
	// leader (KIP-101/279): records at or above To were never committed.
	LogTruncated struct {
		Topic     string
		Partition int32
		From, To  int64
		Reason    string
	}
	// RequestFailed: a partition of a request was answered with a Kafka error.
	RequestFailed struct {
		API       string
		Topic     string
		Partition int32
		Error     string // Kafka's error name, e.g. MESSAGE_TOO_LARGE
	}
)

// Client events.
type (
	// RecordPartitioned: the producer chose a partition for a record.
	RecordPartitioned struct {
		Topic     string
		Partition int32
		Key       []byte
		Reason    string // "murmur2", "sticky", "explicit"
	}
	// RecordAcked: the broker acknowledged the record at Offset (-1 with acks=0).
	RecordAcked struct {
		Topic     string
		Partition int32
		Offset    int64
		Key       []byte
		Value     []byte
	}
	// ProduceFailed: the record will not be retried any more.
	ProduceFailed struct {
		Topic     string
		Partition int32
		Key       []byte
		Value     []byte
		Error     string
	}
	// RecordConsumed: the consumer read a record.
	RecordConsumed struct {
		Topic     string
		Partition int32
		Offset    int64
		Timestamp int64
		Key       []byte
		Value     []byte
	}
	// OffsetReset: the consumer's position moved because of auto.offset.reset.
	OffsetReset struct {
		Topic     string
		Partition int32
		Offset    int64
		Reason    string
	}
)

// Network events, emitted by the host (sim) that carries envelopes.
type (
	MessageSent      struct{ Envelope Envelope }
	MessageDelivered struct{ Envelope Envelope }
	MessageDropped   struct {
		Envelope Envelope
		Reason   string
	}
	// StorageFailed: the host could not persist a machine's writes and
	// stopped it rather than send messages that promise durability.
	StorageFailed struct{ Err string }
)

func (TopicCreated) event()           {}
func (RecordsAppended) event()        {}
func (HighWatermarkAdvanced) event()  {}
func (SegmentRolled) event()          {}
func (SegmentDeleted) event()         {}
func (LogStartOffsetAdvanced) event() {}
func (LogRecovered) event()           {}
func (DuplicateIgnored) event()       {}
func (ReplicaRoleChanged) event()     {}
func (LogTruncated) event()           {}
func (RequestFailed) event()          {}
func (RecordPartitioned) event()      {}
func (RecordAcked) event()            {}
func (ProduceFailed) event()          {}
func (RecordConsumed) event()         {}
func (OffsetReset) event()            {}
func (MessageSent) event()            {}
func (MessageDelivered) event()       {}
func (MessageDropped) event()         {}
func (StorageFailed) event()          {}

// More client events (core/client).
type (
	// ProduceRetried: a batch got a retriable error and goes back to the
	// front of its partition's queue to be sent again after retry.backoff.ms.
	ProduceRetried struct {
		Topic     string
		Partition int32
		Records   int
		Attempt   int
		Error     string
	}
	// ConsumeFailed: the consumer cannot go on reading a partition from
	// Offset: auto.offset.reset=none without a position, a batch it cannot
	// decode, or a non-retriable error. It retries after a backoff, or, for
	// a missing position, waits for a Seek.
	ConsumeFailed struct {
		Topic     string
		Partition int32
		Offset    int64
		Error     string
	}
)

func (ProduceRetried) event() {}
func (ConsumeFailed) event()  {}

// More broker events.
type (
	// TopicDeleted: a topic is gone, with its partitions' logs
	// (DeleteTopics).
	TopicDeleted struct {
		Topic      string
		TopicID    [16]byte
		Partitions int32
	}
)

func (TopicDeleted) event() {}

// Fault events, recorded by the host (sim) that injects faults from outside
// the machines, like Jepsen's nemesis. A fault begins with FaultInjected and,
// if it is undone, ends with a FaultHealed of the same Kind and Nodes.
type (
	// FaultInjected: the host broke something on purpose.
	FaultInjected struct {
		Kind   string     // one of the Fault* kinds below
		Nodes  []NodeID   // the nodes it hits; for a link: from, to
		Groups [][]NodeID // FaultPartition: the sides that cannot talk to each other
		Detail string     // for people: "lost 4 unsynced writes, 1 torn", "+800 ms"
	}
	// FaultHealed: an injected fault ended: a restart after a crash, a
	// resume after a pause, a healed link, a clock set right.
	FaultHealed struct {
		Kind   string
		Nodes  []NodeID
		Detail string
	}
	// MessageDuplicated: the network will deliver this message twice (a
	// faulty transport; TCP never does this).
	MessageDuplicated struct{ Envelope Envelope }
)

// Fault kinds.
const (
	FaultCrash     = "crash"      // the process died (kill -9); its store is kept; healed by a restart
	FaultPowerLoss = "power-loss" // the machine lost power: writes not yet synced are lost or torn; healed by a restart
	FaultPause     = "pause"      // the process is stopped (SIGSTOP, a long GC pause); healed by a resume
	FaultPartition = "partition"  // nodes in different groups cannot talk to each other
	FaultCut       = "cut"        // one link is cut, both ways or one way
	FaultSlow      = "slow"       // messages to and from a node, or on one link, take longer
	FaultNetwork   = "network"    // messages are dropped, duplicated, delayed or reordered on every link
	FaultClock     = "clock"      // a node's clock is skewed or jumps
)

func (FaultInjected) event()     {}
func (FaultHealed) event()       {}
func (MessageDuplicated) event() {}

// Controller events (core/controller): the KRaft-like quorum and what its
// metadata log says. Record events (BrokerRegistered to IsrChanged, and
// TopicCreated/TopicDeleted) are emitted by every voter as it applies the
// record, so a UI that wants each change once shows the active controller's.
type (
	// ControllerElected: this voter won a raft election and leads the
	// metadata quorum for Epoch (the raft term, KRaft's leader epoch); it
	// becomes the active controller once it has applied the log.
	ControllerElected struct {
		Controller NodeID
		Epoch      int64
	}
	// ControllerResigned: this voter stopped leading (a newer epoch, or
	// check-quorum found it cut off from a majority).
	ControllerResigned struct {
		Controller NodeID
		Epoch      int64
	}
	// MetadataApplied: a voter applied the committed metadata log entry at
	// Offset (written in Epoch), or, with Snapshot, replaced its image with
	// a snapshot ending at Offset. Records describe each record, none for a
	// leader's empty entry of a new epoch. CRC (CRC-32C of the entry) lets
	// checkers compare what voters applied at the same offset.
	MetadataApplied struct {
		Offset   int64
		Epoch    int64
		Records  []string
		CRC      uint32
		Snapshot bool
	}
	// BrokerRegistered: a broker registered (BrokerRegistration) and got
	// Epoch, the offset of its registration record; it starts fenced.
	BrokerRegistered struct {
		Broker NodeID
		Epoch  int64
	}
	// BrokerFenced: the broker may lead no partition and left every ISR
	// where it was not the last member. Reason says why.
	BrokerFenced struct {
		Broker NodeID
		Epoch  int64
		Reason string
	}
	// BrokerUnfenced: the broker heartbeats and has caught up; it may lead.
	BrokerUnfenced struct {
		Broker NodeID
		Epoch  int64
	}
	// PartitionLeaderChanged: the controller chose a new leader (-1: none)
	// for a partition, with LeaderEpoch one above the last. Unclean: the new
	// leader was not in the ISR (unclean.leader.election.enable).
	PartitionLeaderChanged struct {
		Topic          string
		Partition      int32
		Leader         int32
		PreviousLeader int32
		LeaderEpoch    int32
		Unclean        bool
	}
	// IsrChanged: a partition's in-sync replica set changed (a fenced
	// broker left it, or its leader asked with AlterPartition).
	IsrChanged struct {
		Topic          string
		Partition      int32
		ISR            []int32
		PreviousISR    []int32
		PartitionEpoch int32
	}
)

func (ControllerElected) event()      {}
func (ControllerResigned) event()     {}
func (MetadataApplied) event()        {}
func (BrokerRegistered) event()       {}
func (BrokerFenced) event()           {}
func (BrokerUnfenced) event()         {}
func (PartitionLeaderChanged) event() {}
func (IsrChanged) event()             {}

// Idempotent producer events (core/client).
type (
	// ProducerIDAssigned: InitProducerId gave the producer an id and epoch;
	// its batches carry them from now on, with sequence numbers from 0 in
	// every partition. Reason says why it asked: a new producer, or the
	// error after which it started over at the last epoch of its old id.
	ProducerIDAssigned struct {
		ProducerID int64
		Epoch      int16
		Broker     NodeID
		Reason     string
	}
	// ProducerEpochBumped: the idempotent producer started over under the
	// next epoch of its producer id (KIP-360), after Reason: its batches
	// carry sequence numbers from 0 again in every partition.
	ProducerEpochBumped struct {
		ProducerID int64
		Epoch      int16
		Reason     string
	}
	// IdempotenceDisabled: the producer goes on without a producer id, so
	// a retry may write a record twice; Reason says why.
	IdempotenceDisabled struct {
		Broker NodeID
		Reason string
	}
)

func (ProducerIDAssigned) event()  {}
func (ProducerEpochBumped) event() {}
func (IdempotenceDisabled) event() {}

// Group coordinator events (core/group), in the order things happen.
type (
	// GroupStateChanged: a group moved From one state To another
	// (ClassicGroup.transitionTo); Generation is the group's generation
	// after the move, Reason says why, in Kafka's log words.
	GroupStateChanged struct {
		Group      string
		From, To   string // group states: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
		Generation int32
		Reason     string
	}
	// MemberJoined: a member entered the group (its first JoinGroup with a
	// member id, or a static member's new id).
	MemberJoined struct {
		Group      string
		MemberID   string
		InstanceID string // group.instance.id, "" for a dynamic member
		ClientID   string
		ClientHost string
	}
	// MemberLeft: a member is no longer in the group; Reason is LeaveGroup,
	// a session or rebalance timeout, or a static member's replacement.
	MemberLeft struct {
		Group      string
		MemberID   string
		InstanceID string
		Reason     string
	}
	// AssignmentReceived: a member got its assignment for Generation in a
	// SyncGroup response. Partitions is the assignment decoded as the
	// consumer protocol (topic -> partitions), nil for other protocols.
	AssignmentReceived struct {
		Group      string
		MemberID   string
		Generation int32
		Protocol   string
		Partitions map[string][]int32
		Bytes      int
	}
	// OffsetCommitted: a committed offset is durable (replicated to the
	// ISR) and OffsetFetch returns it from now on. Generation and MemberID
	// are the committer's (-1 and "" for a standalone consumer or an
	// admin).
	OffsetCommitted struct {
		Group      string
		Topic      string
		Partition  int32
		Offset     int64
		Generation int32
		MemberID   string
	}
	// OffsetsExpired: offsets of a group expired (offsets.retention.minutes,
	// KIP-211) or were deleted with the group (DeleteGroups).
	OffsetsExpired struct {
		Group   string
		Offsets int
		Reason  string
	}
	// GroupsLoaded: this broker became the coordinator of a
	// __consumer_offsets partition with records and rebuilt its groups from
	// them; Skipped counts records it could not read (or of the new
	// protocol).
	GroupsLoaded struct {
		Partition int32
		Groups    int
		Offsets   int
		Records   int
		Skipped   int
	}
	// GroupsUnloaded: this broker no longer coordinates the partition's
	// groups (it lost the leadership); their members find the new
	// coordinator.
	GroupsUnloaded struct {
		Partition int32
		Groups    int
	}
)

func (GroupStateChanged) event()  {}
func (MemberJoined) event()       {}
func (MemberLeft) event()         {}
func (AssignmentReceived) event() {}
func (OffsetCommitted) event()    {}
func (OffsetsExpired) event()     {}
func (GroupsLoaded) event()       {}
func (GroupsUnloaded) event()     {}

// Log compaction events.
type (
	// LogCompacted: the log cleaner rewrote the segments below CleanedUpTo
	// (cleanup.policy=compact), keeping the last record of every key;
	// offsets never change, so RemovedOffsets leave gaps.
	LogCompacted struct {
		Topic     string
		Partition int32
		// Reason is the config that made the log due:
		// min.cleanable.dirty.ratio, max.compaction.lag.ms or
		// delete.retention.ms (tombstones past their delete horizon).
		Reason     string
		DirtyRatio float64
		// FirstDirty..CleanedUpTo is the dirty section whose keys were
		// mapped; CleanedUpTo is the new cleaner checkpoint.
		FirstDirty, CleanedUpTo       int64
		SegmentsBefore, SegmentsAfter int
		BytesBefore, BytesAfter       int64
		RecordsRemoved                int // superseded records and expired tombstones
		TombstonesRemoved             int
		RemovedOffsets                []int64
	}
)

func (LogCompacted) event() {}
