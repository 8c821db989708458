package record

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Batch is a batch to encode with Build. The zero value (plus Records) is
// what a producer without idempotence sends.
type Batch struct {
	// BaseOffset is 0 from producers; the leader assigns real offsets by
	// patching it (SetBaseOffset), as Kafka does.
	BaseOffset int64
	// Compression is any of Kafka's codecs (see Compress for how each is
	// written).
	Compression   Compression
	Transactional bool
	// Control marks a batch of control records (transaction markers).
	Control bool
	// Producer is nil for a producer without idempotence; producerId,
	// producerEpoch and baseSequence are then -1 (RecordBatch.NO_PRODUCER_ID,
	// NO_PRODUCER_EPOCH, NO_SEQUENCE).
	Producer *Producer
	Records  []Record
}

// Producer identifies an idempotent or transactional producer's batch.
type Producer struct {
	ID           int64
	Epoch        int16
	BaseSequence int32
}

// Record is one record to encode. A nil Key or Value is null, which is not
// the same as empty (a null value is a tombstone for compaction).
type Record struct {
	// Timestamp is the CreateTime in milliseconds.
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []kmsg.Header
}

// Build encodes a v2 batch with correct batchLength and CRC-32C. Records get
// offset deltas 0..n-1; baseTimestamp is the first record's timestamp and
// maxTimestamp the largest (MemoryRecordsBuilder); partitionLeaderEpoch is
// -1, as producers send it, for the leader to stamp with
// SetPartitionLeaderEpoch. A batch without records gets timestamps -1; Kafka
// writes such batches only when compaction empties one.
//
// Build panics if Compression is not one of None, Gzip, Snappy, LZ4 and
// Zstd: that is a programming error, not bad input.
func Build(b Batch) []byte {
	var attrs int16
	switch b.Compression {
	case None, Gzip, Snappy, LZ4, Zstd:
		attrs = int16(b.Compression)
	default:
		panic(fmt.Sprintf("record.Build: %v compression is not supported", b.Compression))
	}
	if b.Transactional {
		attrs |= AttrTransactional
	}
	if b.Control {
		attrs |= AttrControl
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if p := b.Producer; p != nil {
		pid, epoch, seq = p.ID, p.Epoch, p.BaseSequence
	}
	first, maxTS := int64(-1), int64(-1)
	if len(b.Records) > 0 {
		first, maxTS = b.Records[0].Timestamp, b.Records[0].Timestamp
		for _, r := range b.Records[1:] {
			if r.Timestamp > maxTS {
				maxTS = r.Timestamp
			}
		}
	}
	lastDelta := int32(len(b.Records) - 1)
	if len(b.Records) == 0 {
		lastDelta = 0
	}

	out := make([]byte, HeaderSize, HeaderSize+estimate(b.Records))
	be := binary.BigEndian
	be.PutUint64(out[offBaseOffset:], uint64(b.BaseOffset))
	be.PutUint32(out[offLeaderEpoch:], 0xffffffff) // -1
	out[offMagic] = Magic
	be.PutUint16(out[offAttributes:], uint16(attrs))
	be.PutUint32(out[offLastOffsetDelta:], uint32(lastDelta))
	be.PutUint64(out[offBaseTimestamp:], uint64(first))
	be.PutUint64(out[offMaxTimestamp:], uint64(maxTS))
	be.PutUint64(out[offProducerID:], uint64(pid))
	be.PutUint16(out[offProducerEpoch:], uint16(epoch))
	be.PutUint32(out[offBaseSequence:], uint32(seq))
	be.PutUint32(out[offRecordsCount:], uint32(len(b.Records)))

	if b.Compression != None {
		out = append(out, Compress(b.Compression, appendRecords(nil, b.Records, first))...)
	} else {
		out = appendRecords(out, b.Records, first)
	}
	be.PutUint32(out[offLength:], uint32(len(out)-logOverhead))
	be.PutUint32(out[offCRC:], checksum(out))
	return out
}

func estimate(recs []Record) int {
	n := 0
	for _, r := range recs {
		n += 24 + len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			n += 10 + len(h.Key) + len(h.Value)
		}
	}
	return n
}

// appendRecords encodes records as DefaultRecord.writeTo does.
func appendRecords(dst []byte, recs []Record, baseTimestamp int64) []byte {
	var body []byte
	for i, r := range recs {
		body = append(body[:0], 0) // attributes: unused
		body = binary.AppendVarint(body, r.Timestamp-baseTimestamp)
		body = binary.AppendVarint(body, int64(i))
		body = appendBytes(body, r.Key)
		body = appendBytes(body, r.Value)
		body = binary.AppendVarint(body, int64(len(r.Headers)))
		for _, h := range r.Headers {
			body = binary.AppendVarint(body, int64(len(h.Key)))
			body = append(body, h.Key...)
			body = appendBytes(body, h.Value)
		}
		dst = binary.AppendVarint(dst, int64(len(body)))
		dst = append(dst, body...)
	}
	return dst
}

// appendBytes writes Kafka's varint-prefixed nullable bytes. Go's signed
// varint is zig-zag, as Kafka's is (ByteUtils.writeVarint).
func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// SetBaseOffset sets the baseOffset of the batch at the start of raw. The
// field is outside the CRC, so nothing else changes; this is how a leader
// assigns offsets in place (DefaultRecordBatch.setLastOffset).
func SetBaseOffset(raw []byte, off int64) {
	binary.BigEndian.PutUint64(raw[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch stamps the leader epoch of the batch at the start
// of raw. Kafka left the field out of the CRC precisely so the leader can do
// this without recomputing it (implementation.html 5.3.1;
// DefaultRecordBatch.setPartitionLeaderEpoch).
func SetPartitionLeaderEpoch(raw []byte, epoch int32) {
	binary.BigEndian.PutUint32(raw[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch at the start of raw as LogAppendTime with
// maxTimestamp ts, as a broker does for a topic with
// message.timestamp.type=LogAppendTime. Both fields are inside the CRC, so it
// is recomputed (DefaultRecordBatch.setMaxTimestamp). raw must hold a whole
// batch, as returned by ParseBatch or Build.
func SetLogAppendTime(raw []byte, ts int64) {
	be := binary.BigEndian
	n := logOverhead + int(int32(be.Uint32(raw[offLength:])))
	batch := raw[:n]
	attrs := be.Uint16(batch[offAttributes:]) | uint16(AttrLogAppendTime)
	be.PutUint16(batch[offAttributes:], attrs)
	be.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	be.PutUint32(batch[offCRC:], checksum(batch))
}

// SetMaxTimestamp rewrites the maxTimestamp of a CreateTime batch and its CRC,
// as Kafka's broker does when a producer's header disagrees with its records
// (LogValidator.assignOffsetsNonCompressed, DefaultRecordBatch.setMaxTimestamp).
func SetMaxTimestamp(raw []byte, ts int64) {
	be := binary.BigEndian
	n := logOverhead + int(int32(be.Uint32(raw[offLength:])))
	batch := raw[:n]
	be.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	be.PutUint32(batch[offCRC:], checksum(batch))
}
