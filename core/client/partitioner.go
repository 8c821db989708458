package client

// Murmur2 is Kafka's 32-bit murmur2 hash, bit for bit as the Java client's
// org.apache.kafka.common.utils.Utils.murmur2: seed 0x9747b28c, m 0x5bd1e995,
// r 24, little-endian 4-byte blocks, and the tail bytes folded in the
// switch's fall-through order. Java's int arithmetic wraps like Go's uint32,
// and Java's >>> is Go's >> on an unsigned value.
func Murmur2(b []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(b)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := n &^ 3
	switch n % 4 {
	case 3:
		h ^= uint32(b[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// toPositive is Kafka's Utils.toPositive: it clears the sign bit rather than
// taking an absolute value, so Integer.MIN_VALUE maps to 0 and not to itself.
func toPositive(n int32) int32 { return n & 0x7fffffff }

// KeyPartition is the partition of a record with a non-null key among n > 0
// partitions: toPositive(murmur2(key)) % n, as Kafka's
// BuiltInPartitioner.partitionForKey. An empty key is not a null key: it
// hashes like any other. n counts all partitions of the topic, available or
// not, so a key always maps to the same partition while n stays the same.
func KeyPartition(key []byte, n int32) int32 {
	return toPositive(Murmur2(key)) % n
}

// stickyPartitioner is the partition choice for records without a key and
// without an explicit partition: Kafka's built-in partitioner for null keys
// (KIP-794, Kafka 3.3; it replaced the KIP-480 sticky partitioner of 2.4,
// which switched on every new batch). One partition is used until at least
// batch.size bytes were produced to it, then another is picked at random
// (BuiltInPartitioner.updatePartitionInfo / nextPartition).
//
// Simplified: Kafka's adaptive partitioning (partitioner.adaptive.partitioning
// .enable=true, which weights the random choice against partitions with long
// queues) and partitioner.availability.timeout.ms are not modelled; the next
// partition is chosen uniformly among partitions with a known leader, which is
// what Kafka does when every queue has the same length.
type stickyPartitioner struct {
	batchSize int
	topics    map[string]*stickyInfo
}

// stickyInfo is Kafka's BuiltInPartitioner.StickyPartitionInfo.
type stickyInfo struct {
	partition     int32
	producedBytes int
}

// current returns the topic's sticky partition, choosing one if there is none.
func (s *stickyPartitioner) current(topic string, pick func() int32) *stickyInfo {
	if s.topics == nil {
		s.topics = map[string]*stickyInfo{}
	}
	info := s.topics[topic]
	if info == nil {
		info = &stickyInfo{partition: pick()}
		s.topics[topic] = info
	}
	return info
}

// update counts appended bytes and switches partition once batch.size bytes
// were produced, if enableSwitch (no unfinished batch is waiting on this
// partition), or unconditionally at twice batch.size, so that switches fall
// on batch boundaries (BuiltInPartitioner.updatePartitionInfo). It reports
// whether the partition changed.
func (s *stickyPartitioner) update(topic string, info *stickyInfo, appended int, enableSwitch bool, pick func() int32) bool {
	info.producedBytes += appended
	if info.producedBytes >= s.batchSize && enableSwitch || info.producedBytes >= 2*s.batchSize {
		s.topics[topic] = &stickyInfo{partition: pick()}
		return true
	}
	return false
}

// pickPartition is BuiltInPartitioner.nextPartition without load statistics:
// a uniformly random partition among those with a leader, or among all of
// them if none has one. random is a non-negative int32 from the seeded source.
func pickPartition(random int32, available []int32, total int32) int32 {
	if len(available) > 0 {
		return available[int(random)%len(available)]
	}
	return random % total
}
