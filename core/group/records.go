package group

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The records of __consumer_offsets, byte for byte as Kafka writes them, so
// that the topic can be read back to rebuild groups and offsets when a
// broker becomes the coordinator (GroupCoordinatorRecordSerde; the schemas
// are group-coordinator/src/main/resources/common/message/*.json). A key
// starts with an int16 that says what it is (the "version" of the old
// GroupMetadataManager, the record "apiKey" since Kafka 3.7):
//
//	0, 1  OffsetCommitKey   {group string, topic string, partition int32}
//	2     GroupMetadataKey  {group string}
//
// Keys 3 and up are the new protocol's records (KIP-848), which Streamlab
// does not write. A null value is a tombstone: the offset or the group is
// gone. Values carry their own version; Kafka writes OffsetCommitValue v3 (v1
// when the commit has an expire timestamp, OffsetCommit v2-v4's retention
// time) and GroupMetadataValue v3. Version 4 of both is the first flexible
// one (compact strings, tagged fields); they are read, never written.
//
// The decoders read bytes from storage that may be damaged: they return an
// error, never panic, and allocate nothing larger than the input.

// Record key types.
const (
	KeyLegacyOffsetCommit int16 = 0
	KeyOffsetCommit       int16 = 1
	KeyGroupMetadata      int16 = 2
)

// Key is a decoded __consumer_offsets record key. Topic and Partition are
// set for offset commit keys only.
type Key struct {
	Type      int16
	Group     string
	Topic     string
	Partition int32
}

// OffsetValue is an OffsetCommitValue.
type OffsetValue struct {
	Offset          int64
	LeaderEpoch     int32 // v3+, -1 if unknown
	Metadata        string
	CommitTimestamp int64
	ExpireTimestamp int64 // v1 only; -1 if none
}

// GroupValue is a GroupMetadataValue: a classic group after a rebalance.
type GroupValue struct {
	ProtocolType          string
	Generation            int32
	Protocol              *string
	Leader                *string
	CurrentStateTimestamp int64 // v2+, -1 if unknown
	Members               []MemberValue
}

// MemberValue is one member in a GroupValue.
type MemberValue struct {
	MemberID         string
	InstanceID       *string // v3+
	ClientID         string
	ClientHost       string
	RebalanceTimeout int32 // v1+; v0 members use their session timeout
	SessionTimeout   int32
	Subscription     []byte // the member's metadata for the group's protocol
	Assignment       []byte
}

// EncodeOffsetKey encodes an OffsetCommitKey (type 1).
func EncodeOffsetKey(group, topic string, partition int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(KeyOffsetCommit))
	b = appendString(b, group)
	b = appendString(b, topic)
	return binary.BigEndian.AppendUint32(b, uint32(partition))
}

// EncodeGroupKey encodes a GroupMetadataKey (type 2).
func EncodeGroupKey(group string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(KeyGroupMetadata))
	return appendString(b, group)
}

// EncodeOffsetValue encodes v as OffsetCommitValue v3, or v1 if it has an
// expire timestamp (GroupCoordinatorRecordHelpers.newOffsetCommitRecord).
func EncodeOffsetValue(v OffsetValue) []byte {
	version := int16(3)
	if v.ExpireTimestamp >= 0 {
		version = 1
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(version))
	b = binary.BigEndian.AppendUint64(b, uint64(v.Offset))
	if version >= 3 {
		b = binary.BigEndian.AppendUint32(b, uint32(v.LeaderEpoch))
	}
	b = appendString(b, v.Metadata)
	b = binary.BigEndian.AppendUint64(b, uint64(v.CommitTimestamp))
	if version == 1 {
		b = binary.BigEndian.AppendUint64(b, uint64(v.ExpireTimestamp))
	}
	return b
}

// EncodeGroupValue encodes v as GroupMetadataValue v3.
func EncodeGroupValue(v GroupValue) []byte {
	be := binary.BigEndian
	b := be.AppendUint16(nil, 3)
	b = appendString(b, v.ProtocolType)
	b = be.AppendUint32(b, uint32(v.Generation))
	b = appendNullableString(b, v.Protocol)
	b = appendNullableString(b, v.Leader)
	b = be.AppendUint64(b, uint64(v.CurrentStateTimestamp))
	b = be.AppendUint32(b, uint32(len(v.Members)))
	for _, m := range v.Members {
		b = appendString(b, m.MemberID)
		b = appendNullableString(b, m.InstanceID)
		b = appendString(b, m.ClientID)
		b = appendString(b, m.ClientHost)
		b = be.AppendUint32(b, uint32(m.RebalanceTimeout))
		b = be.AppendUint32(b, uint32(m.SessionTimeout))
		b = appendBytes(b, m.Subscription)
		b = appendBytes(b, m.Assignment)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendNullableString(b []byte, s *string) []byte {
	if s == nil {
		return binary.BigEndian.AppendUint16(b, 0xffff)
	}
	return appendString(b, *s)
}

// appendBytes writes non-nullable bytes: nil is written as empty.
func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// ErrUnknownKey is returned by DecodeKey for a key type Streamlab does not
// read (the new protocol's records, KIP-848); callers skip such records.
var ErrUnknownKey = errors.New("group: unknown __consumer_offsets key type")

// DecodeKey decodes a record key of __consumer_offsets.
func DecodeKey(b []byte) (Key, error) {
	r := reader{b: b}
	k := Key{Type: r.int16()}
	switch k.Type {
	case KeyLegacyOffsetCommit, KeyOffsetCommit:
		k.Group, k.Topic, k.Partition = r.string(), r.string(), r.int32()
	case KeyGroupMetadata:
		k.Group = r.string()
	default:
		if r.err != nil {
			return k, r.err
		}
		return k, fmt.Errorf("%w %d", ErrUnknownKey, k.Type)
	}
	return k, r.err
}

// DecodeOffsetValue decodes an OffsetCommitValue of any version Kafka wrote
// (0-4).
func DecodeOffsetValue(b []byte) (OffsetValue, error) {
	r := reader{b: b}
	version := r.int16()
	if r.err == nil && (version < 0 || version > 4) {
		return OffsetValue{}, fmt.Errorf("group: OffsetCommitValue version %d", version)
	}
	r.flexible = version >= 4
	v := OffsetValue{LeaderEpoch: -1, ExpireTimestamp: -1}
	v.Offset = r.int64()
	if version >= 3 {
		v.LeaderEpoch = r.int32()
	}
	v.Metadata = r.string()
	v.CommitTimestamp = r.int64()
	if version == 1 {
		v.ExpireTimestamp = r.int64()
	}
	r.skipTags()
	return v, r.err
}

// DecodeGroupValue decodes a GroupMetadataValue of any version Kafka wrote
// (0-4).
func DecodeGroupValue(b []byte) (GroupValue, error) {
	r := reader{b: b}
	version := r.int16()
	if r.err == nil && (version < 0 || version > 4) {
		return GroupValue{}, fmt.Errorf("group: GroupMetadataValue version %d", version)
	}
	r.flexible = version >= 4
	v := GroupValue{CurrentStateTimestamp: -1}
	v.ProtocolType = r.string()
	v.Generation = r.int32()
	v.Protocol = r.nullableString()
	v.Leader = r.nullableString()
	if version >= 2 {
		v.CurrentStateTimestamp = r.int64()
	}
	n := r.arrayLen()
	// No allocation from n: a member takes at least 4 bytes, so a damaged
	// count runs out of input long before it runs out of memory.
	for i := 0; i < n && r.err == nil; i++ {
		var m MemberValue
		m.MemberID = r.string()
		if version >= 3 {
			m.InstanceID = r.nullableString()
		}
		m.ClientID = r.string()
		m.ClientHost = r.string()
		m.RebalanceTimeout = -1
		if version >= 1 {
			m.RebalanceTimeout = r.int32()
		}
		m.SessionTimeout = r.int32()
		m.Subscription = r.bytes()
		m.Assignment = r.bytes()
		r.skipTags()
		if version == 0 {
			m.RebalanceTimeout = m.SessionTimeout
		}
		v.Members = append(v.Members, m)
	}
	r.skipTags()
	if r.err != nil {
		return GroupValue{}, r.err
	}
	return v, nil
}

// reader reads Kafka's primitive types; the first error sticks and every
// later read returns a zero value.
type reader struct {
	b        []byte
	flexible bool
	err      error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("group: corrupt record: %s", what)
	}
	r.b = nil
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail(what)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) int16() int16 {
	if b := r.take(2, "short read"); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) int32() int32 {
	if b := r.take(4, "short read"); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) int64() int64 {
	if b := r.take(8, "short read"); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<31 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// length reads a string or bytes length: -1 is null.
func (r *reader) length(classic func() int) int {
	if r.flexible {
		return int(r.uvarint()) - 1 // compact: length+1, 0 is null
	}
	return classic()
}

func (r *reader) nullableString() *string {
	n := r.length(func() int { return int(r.int16()) })
	if n < 0 || r.err != nil {
		if n < -1 {
			r.fail("negative string length")
		}
		return nil
	}
	s := string(r.take(n, "string past the end"))
	return &s
}

func (r *reader) string() string {
	s := r.nullableString()
	if s == nil {
		r.fail("null string")
		return ""
	}
	return *s
}

func (r *reader) bytes() []byte {
	n := r.length(func() int { return int(r.int32()) })
	if n < 0 {
		r.fail("null or negative bytes length")
		return nil
	}
	return append([]byte{}, r.take(n, "bytes past the end")...)
}

func (r *reader) arrayLen() int {
	n := r.length(func() int { return int(r.int32()) })
	if n < 0 {
		r.fail("null or negative array length")
		return 0
	}
	return n
}

// skipTags skips a flexible version's tagged fields: none of them is one
// Streamlab needs (OffsetCommitValue's topic id is one).
func (r *reader) skipTags() {
	if !r.flexible {
		return
	}
	// Each tag costs at least two bytes, so a damaged count cannot spin.
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		r.uvarint() // tag
		r.take(int(r.uvarint()), "tagged field past the end")
	}
}
