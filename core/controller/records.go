package controller

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The metadata log holds batches of records, one batch per raft entry,
// applied atomically (KIP-631). The record types and their fields follow
// Kafka's metadata records (metadata/src/main/resources/common/metadata/*.json);
// the type numbers are Kafka's apiKeys. The encoding is ours, compact and
// deterministic:
//
//	batch  = version:u8(0) count:uvarint record*
//	record = type:uvarint version:uvarint(0) fields...
//
// int32 and int64 fields are zigzag varints, strings and lists are
// length-prefixed (a nullable list stores length+1, 0 for null), a UUID is
// 16 bytes and a bool one byte.

// RecordType is a metadata record's Kafka apiKey.
type RecordType uint8

const (
	TypeRegisterBroker  RecordType = 0 // RegisterBrokerRecord
	TypeTopic           RecordType = 2 // TopicRecord
	TypePartition       RecordType = 3 // PartitionRecord
	TypeConfig          RecordType = 4 // ConfigRecord
	TypePartitionChange RecordType = 5 // PartitionChangeRecord
	TypeFenceBroker     RecordType = 7 // FenceBrokerRecord
	TypeUnfenceBroker   RecordType = 8 // UnfenceBrokerRecord
	TypeRemoveTopic     RecordType = 9 // RemoveTopicRecord
)

// Leader values with a meaning (Kafka's LeaderConstants).
const (
	NoLeader       int32 = -1 // the partition has no leader
	NoLeaderChange int32 = -2 // PartitionChangeRecord: the leader stays
)

// Record is one metadata record.
type Record interface {
	Type() RecordType
	String() string
	encode(w *writer)
}

// Listener is an endpoint a broker accepts connections on.
type Listener struct {
	Name             string
	Host             string
	Port             uint16
	SecurityProtocol int16
}

// RegisterBrokerRecord: a broker registered. BrokerEpoch is the offset of
// this record in the metadata log. A new registration is fenced.
type RegisterBrokerRecord struct {
	BrokerID    int32
	Incarnation [16]byte
	BrokerEpoch int64
	Listeners   []Listener
	Rack        string
	Fenced      bool
}

// FenceBrokerRecord: the broker with that epoch is fenced. Reason is ours
// (Kafka's record has none): it tells the learner why.
type FenceBrokerRecord struct {
	ID     int32
	Epoch  int64
	Reason string
}

// UnfenceBrokerRecord: the broker with that epoch is unfenced.
type UnfenceBrokerRecord struct {
	ID    int32
	Epoch int64
}

// TopicRecord: a topic exists; its partitions follow as PartitionRecords.
type TopicRecord struct {
	Name    string
	TopicID [16]byte
}

// PartitionRecord: a partition of a new topic, with its whole state.
type PartitionRecord struct {
	TopicID        [16]byte
	Partition      int32
	Replicas       []int32
	ISR            []int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
}

// ConfigRecord: a topic config is set (Kafka's ConfigRecord with
// ResourceType TOPIC).
type ConfigRecord struct {
	Topic string
	Name  string
	Value string
}

// PartitionChangeRecord: a partition's leader and/or ISR changed. A nil ISR
// leaves it as is; Leader is NoLeaderChange to keep the leader. Applying it
// bumps the partition epoch, and the leader epoch if Leader is set
// (PartitionRegistration.merge).
type PartitionChangeRecord struct {
	TopicID   [16]byte
	Partition int32
	ISR       []int32
	Leader    int32
}

// RemoveTopicRecord: the topic and its partitions are gone.
type RemoveTopicRecord struct {
	TopicID [16]byte
}

func (RegisterBrokerRecord) Type() RecordType  { return TypeRegisterBroker }
func (FenceBrokerRecord) Type() RecordType     { return TypeFenceBroker }
func (UnfenceBrokerRecord) Type() RecordType   { return TypeUnfenceBroker }
func (TopicRecord) Type() RecordType           { return TypeTopic }
func (PartitionRecord) Type() RecordType       { return TypePartition }
func (ConfigRecord) Type() RecordType          { return TypeConfig }
func (PartitionChangeRecord) Type() RecordType { return TypePartitionChange }
func (RemoveTopicRecord) Type() RecordType     { return TypeRemoveTopic }

func (r RegisterBrokerRecord) String() string {
	return fmt.Sprintf("RegisterBroker(id=%d epoch=%d fenced=%t)", r.BrokerID, r.BrokerEpoch, r.Fenced)
}
func (r FenceBrokerRecord) String() string {
	return fmt.Sprintf("FenceBroker(id=%d epoch=%d: %s)", r.ID, r.Epoch, r.Reason)
}
func (r UnfenceBrokerRecord) String() string {
	return fmt.Sprintf("UnfenceBroker(id=%d epoch=%d)", r.ID, r.Epoch)
}
func (r TopicRecord) String() string {
	return fmt.Sprintf("Topic(%s id=%s)", r.Name, UUIDString(r.TopicID))
}
func (r PartitionRecord) String() string {
	return fmt.Sprintf("Partition(%s-%d replicas=%v isr=%v leader=%d leaderEpoch=%d)",
		UUIDString(r.TopicID), r.Partition, r.Replicas, r.ISR, r.Leader, r.LeaderEpoch)
}
func (r ConfigRecord) String() string {
	return fmt.Sprintf("Config(%s %s=%s)", r.Topic, r.Name, r.Value)
}
func (r PartitionChangeRecord) String() string {
	s := fmt.Sprintf("PartitionChange(%s-%d", UUIDString(r.TopicID), r.Partition)
	if r.Leader != NoLeaderChange {
		s += fmt.Sprintf(" leader=%d", r.Leader)
	}
	if r.ISR != nil {
		s += fmt.Sprintf(" isr=%v", r.ISR)
	}
	return s + ")"
}
func (r RemoveTopicRecord) String() string {
	return fmt.Sprintf("RemoveTopic(id=%s)", UUIDString(r.TopicID))
}

// UUIDString prints a topic id as Kafka does: URL-safe base64 without
// padding (Uuid.toString).
func UUIDString(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func (r RegisterBrokerRecord) encode(w *writer) {
	w.varint(int64(r.BrokerID))
	w.uuid(r.Incarnation)
	w.varint(r.BrokerEpoch)
	w.uvarint(uint64(len(r.Listeners)))
	for _, l := range r.Listeners {
		w.str(l.Name)
		w.str(l.Host)
		w.uvarint(uint64(l.Port))
		w.varint(int64(l.SecurityProtocol))
	}
	w.str(r.Rack)
	w.bool(r.Fenced)
}
func (r FenceBrokerRecord) encode(w *writer) {
	w.varint(int64(r.ID))
	w.varint(r.Epoch)
	w.str(r.Reason)
}
func (r UnfenceBrokerRecord) encode(w *writer) {
	w.varint(int64(r.ID))
	w.varint(r.Epoch)
}
func (r TopicRecord) encode(w *writer) {
	w.str(r.Name)
	w.uuid(r.TopicID)
}
func (r PartitionRecord) encode(w *writer) {
	w.uuid(r.TopicID)
	w.varint(int64(r.Partition))
	w.int32s(r.Replicas)
	w.int32s(r.ISR)
	w.varint(int64(r.Leader))
	w.varint(int64(r.LeaderEpoch))
	w.varint(int64(r.PartitionEpoch))
}
func (r ConfigRecord) encode(w *writer) {
	w.str(r.Topic)
	w.str(r.Name)
	w.str(r.Value)
}
func (r PartitionChangeRecord) encode(w *writer) {
	w.uuid(r.TopicID)
	w.varint(int64(r.Partition))
	w.int32s(r.ISR)
	w.varint(int64(r.Leader))
}
func (r RemoveTopicRecord) encode(w *writer) { w.uuid(r.TopicID) }

// EncodeBatch encodes records as one metadata log entry.
func EncodeBatch(recs []Record) []byte {
	w := &writer{b: []byte{0}}
	w.uvarint(uint64(len(recs)))
	for _, r := range recs {
		w.uvarint(uint64(r.Type()))
		w.uvarint(0) // record version
		r.encode(w)
	}
	return w.b
}

// ErrCorrupt wraps every decoding error.
var ErrCorrupt = errors.New("controller: corrupt metadata batch")

// DecodeBatch decodes a metadata log entry. An empty entry (a new leader's
// first entry of its epoch) holds no records.
func DecodeBatch(b []byte) ([]Record, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != 0 {
		return nil, fmt.Errorf("%w: batch version %d", ErrCorrupt, b[0])
	}
	r := &reader{b: b[1:]}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d records in %d bytes", ErrCorrupt, n, len(r.b))
	}
	recs := make([]Record, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		typ, version := r.uvarint(), r.uvarint()
		if version != 0 {
			return nil, fmt.Errorf("%w: record type %d version %d", ErrCorrupt, typ, version)
		}
		var rec Record
		switch RecordType(typ) {
		case TypeRegisterBroker:
			x := RegisterBrokerRecord{BrokerID: r.int32(), Incarnation: r.uuid(), BrokerEpoch: r.varint()}
			nl := r.uvarint()
			if nl > uint64(len(r.b)) {
				r.fail()
				break
			}
			for range nl {
				x.Listeners = append(x.Listeners, Listener{Name: r.str(), Host: r.str(), Port: r.uint16(), SecurityProtocol: r.int16()})
			}
			x.Rack, x.Fenced = r.str(), r.bool()
			rec = x
		case TypeFenceBroker:
			rec = FenceBrokerRecord{ID: r.int32(), Epoch: r.varint(), Reason: r.str()}
		case TypeUnfenceBroker:
			rec = UnfenceBrokerRecord{ID: r.int32(), Epoch: r.varint()}
		case TypeTopic:
			rec = TopicRecord{Name: r.str(), TopicID: r.uuid()}
		case TypePartition:
			rec = PartitionRecord{TopicID: r.uuid(), Partition: r.int32(), Replicas: r.int32s(), ISR: r.int32s(),
				Leader: r.int32(), LeaderEpoch: r.int32(), PartitionEpoch: r.int32()}
		case TypeConfig:
			rec = ConfigRecord{Topic: r.str(), Name: r.str(), Value: r.str()}
		case TypePartitionChange:
			rec = PartitionChangeRecord{TopicID: r.uuid(), Partition: r.int32(), ISR: r.int32s(), Leader: r.int32()}
		case TypeRemoveTopic:
			rec = RemoveTopicRecord{TopicID: r.uuid()}
		default:
			return nil, fmt.Errorf("%w: unknown record type %d", ErrCorrupt, typ)
		}
		recs = append(recs, rec)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(r.b))
	}
	return recs, nil
}

type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) uuid(u [16]byte)  { w.b = append(w.b, u[:]...) }
func (w *writer) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *writer) int32s(v []int32) {
	if v == nil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(len(v)) + 1)
	for _, x := range v {
		w.varint(int64(x))
	}
}

// reader decodes; after the first error every read returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or out-of-range field", ErrCorrupt)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int32() int32 {
	v := r.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail()
		return 0
	}
	return int32(v)
}

func (r *reader) int16() int16 {
	v := r.varint()
	if v < math.MinInt16 || v > math.MaxInt16 {
		r.fail()
		return 0
	}
	return int16(v)
}

func (r *reader) uint16() uint16 {
	v := r.uvarint()
	if v > math.MaxUint16 {
		r.fail()
		return 0
	}
	return uint16(v)
}

func (r *reader) bool() bool {
	if len(r.b) < 1 || r.b[0] > 1 {
		r.fail()
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func (r *reader) uuid() (u [16]byte) {
	if len(r.b) < 16 {
		r.fail()
		return u
	}
	copy(u[:], r.b)
	r.b = r.b[16:]
	return u
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) int32s() []int32 {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	n--
	if n > uint64(len(r.b)) { // each element takes at least one byte
		r.fail()
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = r.int32()
	}
	return v
}
