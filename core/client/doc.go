// Package client holds Streamlab's simulated Kafka clients, a Producer and a
// Consumer, as deterministic state machines (core.Machine). They speak real
// Kafka requests (kmsg) to brokers through Envelopes, follow the Java
// client's rules, configs and defaults, and report what happens as core
// events: RecordPartitioned, RecordAcked, ProduceRetried, ProduceFailed,
// ProducerIDAssigned, ProducerEpochBumped, IdempotenceDisabled,
// RecordConsumed, OffsetReset, ConsumeFailed.
//
// The consumer reads assigned partitions (assign mode) or, with a GroupID,
// joins a consumer group with the classic protocol: the leader assigns with
// core/assign's assignors, eager or cooperative (KIP-429) rebalancing, static
// membership (KIP-345), commits automatic, before or after processing, or
// manual (groupconsumer.go).
//
// A Partitioner (partitioner.class) may choose partitions instead of the
// built-in murmur2/sticky choice (strategies.go).
//
// The producer is idempotent by default (enable.idempotence, Kafka >= 3.0):
// it gets a producer id with InitProducerId and numbers each partition's
// records, so that the broker drops a retried batch it already has; see
// idempotence.go for the rules and what is simplified.
//
// Like the Java client, every connection starts with ApiVersions and then
// uses the highest version both sides know; metadata is fetched for the
// topics in use and refreshed on errors and every metadata.max.age.ms;
// requests time out after request.timeout.ms, which closes the connection.
//
// Randomness (sticky partition choice, backoff jitter) comes from the seed in
// the config; time only from Tick.
//
// Simplified compared with the Java client (the UI should say so):
//   - no transactions; with enable.idempotence=false (or acks other than
//     all) retries may duplicate, and with max.in.flight > 1 reorder,
//     records, as in Kafka;
//   - the idempotent producer starts over with a fresh producer id where
//     Java 2.5+ bumps its epoch (KIP-360), and then fails the batches whose
//     earlier attempts may be in the log instead of risking a duplicate;
//     a broker without InitProducerId turns idempotence off, as franz-go
//     does, where Java fails;
//   - no compression, no buffer.memory limit, no interceptors or serializers;
//   - the sticky partitioner picks uniformly among partitions with a leader,
//     without adaptive partitioning by queue length (KIP-794's
//     partitioner.adaptive.partitioning.enable);
//   - no leader hints from Produce/Fetch answers (KIP-951): a leader change is
//     learned from a Metadata refresh;
//   - the consumer has no fetch sessions (KIP-227), no position validation
//     after a leader change (KIP-320 OffsetsForLeaderEpoch), no pattern
//     subscriptions and no KIP-848 group protocol, reads read_uncommitted
//     only and ignores quota throttling;
//   - one logical connection per broker, and a broker that is down shows up
//     as an ApiVersions handshake that times out after
//     socket.connection.setup.timeout.ms (10 s): there is no TCP connect.
package client
