package group

import "unicode/utf16"

// OffsetsTopic is the internal topic that holds committed offsets and group
// metadata.
const OffsetsTopic = "__consumer_offsets"

// PartitionFor is the __consumer_offsets partition whose leader coordinates
// group: Utils.abs(groupId.hashCode()) % partitions
// (GroupCoordinatorService.partitionFor). The hash must be Java's, or real
// clients would be sent to the wrong coordinator by other brokers' answers.
func PartitionFor(group string, partitions int32) int32 {
	if partitions <= 0 {
		return 0
	}
	h := JavaStringHashCode(group)
	if h == -1<<31 {
		h = 0 // Utils.abs maps Integer.MIN_VALUE to 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// JavaStringHashCode is Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over UTF-16 code units, in int32 arithmetic that wraps.
func JavaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	return h
}
