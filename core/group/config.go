// Package group is Kafka's classic group coordinator as a deterministic state
// machine: groups move through Empty, PreparingRebalance,
// CompletingRebalance and Stable (and Dead) as members join, sync, heartbeat
// and leave; committed offsets and group metadata are records of
// __consumer_offsets, replayed to rebuild a coordinator after a failover or
// a restart. It follows Kafka's GroupMetadataManager (the classic group part)
// and ClassicGroup, with their error codes and defaults.
//
// A Shard coordinates the groups of one __consumer_offsets partition, as
// Kafka's GroupCoordinatorShard does. Its host (the broker that leads the
// partition) hands it requests with a reply function, the time with Tick,
// appends the records it asks for (Output.Writes) to the partition and tells
// it with Done once they are committed (the high watermark passed them) or
// failed. Nothing here reads a clock or starts a goroutine: time arrives as
// `now`, in Unix milliseconds.
package group

// Config holds the coordinator's broker configs, with Kafka's names.
type Config struct {
	// group.initial.rebalance.delay.ms: how long the first rebalance of an
	// empty group waits for more members, extended by the same delay while
	// members keep coming, up to the rebalance timeout (3000).
	InitialRebalanceDelayMs int64
	// group.min.session.timeout.ms and group.max.session.timeout.ms: the
	// session timeouts a JoinGroup may ask for (6000, 1800000).
	MinSessionTimeoutMs, MaxSessionTimeoutMs int32
	// group.max.size (Integer.MAX_VALUE).
	MaxSize int
	// How long a new member's first JoinGroup may wait in a rebalance
	// before it is dropped (GroupCoordinatorConfig's
	// CLASSIC_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS, 5 minutes, not a config).
	NewMemberJoinTimeoutMs int64
	// offset.metadata.max.bytes (4096).
	OffsetMetadataMaxBytes int
	// offsets.commit.timeout.ms: how long a write of the coordinator may
	// wait for the replicas before it fails (5000).
	OffsetsCommitTimeoutMs int64
	// offsets.topic.num.partitions (50), offsets.topic.replication.factor
	// (3, capped to the brokers there are), offsets.topic.segment.bytes
	// (104857600).
	OffsetsTopicPartitions        int32
	OffsetsTopicReplicationFactor int16
	OffsetsTopicSegmentBytes      int32
	// offsets.retention.minutes (10080, in ms here) and
	// offsets.retention.check.interval.ms (600000): offsets of a group that
	// has been empty this long expire (KIP-211).
	OffsetsRetentionMs              int64
	OffsetsRetentionCheckIntervalMs int64
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		InitialRebalanceDelayMs:         3000,
		MinSessionTimeoutMs:             6000,
		MaxSessionTimeoutMs:             1800000,
		MaxSize:                         1<<31 - 1,
		NewMemberJoinTimeoutMs:          5 * 60 * 1000,
		OffsetMetadataMaxBytes:          4096,
		OffsetsCommitTimeoutMs:          5000,
		OffsetsTopicPartitions:          50,
		OffsetsTopicReplicationFactor:   3,
		OffsetsTopicSegmentBytes:        104857600,
		OffsetsRetentionMs:              10080 * 60 * 1000,
		OffsetsRetentionCheckIntervalMs: 600000,
	}
}
