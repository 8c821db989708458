// Package record is Streamlab's codec for Kafka's RecordBatch v2 (message
// format "magic 2"), the unit that producers send, brokers store and
// replicate, and consumers fetch.
//
// The layout is Kafka's (docs/implementation.html, section 5.3.1 "Record
// Batch"; DefaultRecordBatch.java):
//
//	baseOffset: int64                0
//	batchLength: int32               8   bytes that follow this field
//	partitionLeaderEpoch: int32     12   not covered by the CRC
//	magic: int8 (2)                 16
//	crc: uint32                     17   CRC-32C of attributes..end
//	attributes: int16               21
//	lastOffsetDelta: int32          23
//	baseTimestamp: int64            27
//	maxTimestamp: int64             35
//	producerId: int64               43
//	producerEpoch: int16            51
//	baseSequence: int32             53
//	recordsCount: int32             57
//	records                         61
//
// Decoders here never panic and never allocate in proportion to a length
// field they have not checked against the bytes they hold: they read bytes
// from other machines and from storage that may be torn or damaged.
package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Byte offsets of the v2 batch header fields (DefaultRecordBatch.java).
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordsCount    = 57

	// HeaderSize is RECORD_BATCH_OVERHEAD: a batch with no records.
	HeaderSize = 61
	// logOverhead is LOG_OVERHEAD: baseOffset and batchLength, which the
	// batchLength field does not count.
	logOverhead = 12
	// minLength is the smallest sane batchLength (HeaderSize - logOverhead).
	minLength = HeaderSize - logOverhead
	// headerUpToMagic is HEADER_SIZE_UP_TO_MAGIC: the bytes needed before
	// the magic byte can be read.
	headerUpToMagic = offMagic + 1
	// legacyMinLength is LegacyRecord.RECORD_OVERHEAD_V0, the first bound
	// Kafka checks, before it knows the format.
	legacyMinLength = 14
)

// Magic is the only message format Streamlab reads and writes.
const Magic = 2

// Attribute bits of a v2 batch (docs/implementation.html 5.3.1).
const (
	AttrCompressionMask int16 = 0x07
	AttrLogAppendTime   int16 = 0x08 // timestampType: 0 CreateTime, 1 LogAppendTime
	AttrTransactional   int16 = 0x10
	AttrControl         int16 = 0x20
	AttrDeleteHorizon   int16 = 0x40 // set by compaction (KIP-534)
)

// Compression is the codec id stored in the low three attribute bits
// (CompressionType.java).
type Compression int8

const (
	None   Compression = 0
	Gzip   Compression = 1
	Snappy Compression = 2
	LZ4    Compression = 3
	Zstd   Compression = 4
)

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int8(c))
}

// Error is a batch or record that failed validation. Code is the Kafka error
// a broker answers with for it; errors.Is(err, kerr.CorruptMessage) and
// friends work because Unwrap returns Code.
type Error struct {
	Code   *kerr.Error
	Reason string
	// truncated marks a batch cut short by the end of the buffer: more bytes
	// may complete it (a torn log tail, a partial batch at the end of a
	// fetch response). Test it with errors.Is(err, ErrTruncated).
	truncated bool
}

func (e *Error) Error() string { return "record: " + e.Reason + " (" + e.Code.Message + ")" }

// Unwrap returns the Kafka error code.
func (e *Error) Unwrap() error { return e.Code }

// Is reports truncation as ErrTruncated.
func (e *Error) Is(target error) bool { return target == ErrTruncated && e.truncated }

// ErrTruncated matches (errors.Is) every error about a batch that the buffer
// ends in the middle of. Kafka does not treat this as corruption: its batch
// iterator simply stops there (ByteBufferLogInputStream.nextBatch returns
// null) and log recovery truncates the tail (LogSegment.recover). A Produce
// request whose only batch is cut short is answered INVALID_RECORD ("must
// have at least one record batch", ProduceRequest.validateRecords), hence
// the code.
var ErrTruncated = &Error{Code: kerr.InvalidRecord, Reason: "truncated batch", truncated: true}

func truncated(format string, args ...any) error {
	return &Error{Code: kerr.InvalidRecord, Reason: fmt.Sprintf(format, args...), truncated: true}
}

func corrupt(format string, args ...any) error {
	return &Error{Code: kerr.CorruptMessage, Reason: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &Error{Code: kerr.InvalidRecord, Reason: fmt.Sprintf(format, args...)}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the batch CRC: CRC-32C over attributes..end. The leader epoch
// sits before it so a leader can stamp the epoch without recomputing it
// (implementation.html 5.3.1).
func checksum(batch []byte) uint32 {
	return crc32.Checksum(batch[offAttributes:], castagnoli)
}

// ParseBatch parses the v2 batch at the start of b, which may hold further
// batches after it. It returns the header, with Records aliasing the raw
// (possibly compressed) record bytes inside b, and the batch's total size
// (12 + batchLength).
//
// Checks follow Kafka's order (ByteBufferLogInputStream.nextBatchSize, then
// DefaultRecordBatch.ensureValid), with these codes:
//   - fewer bytes than the batch claims: ErrTruncated;
//   - batchLength below 14 or magic outside 0..2: CORRUPT_MESSAGE
//     ("Record size %d is less than the minimum record overhead", "Invalid
//     magic found in record");
//   - magic 0 or 1: INVALID_RECORD, what a Kafka broker answers to Produce
//     v3+ carrying old-format batches (ProduceRequest.validateRecords); Kafka
//     4 dropped these formats (KIP-724) and so does Streamlab;
//   - batchLength below the 61-byte header, or a CRC mismatch: CORRUPT_MESSAGE
//     (DefaultRecordBatch.ensureValid).
func ParseBatch(b []byte) (kmsg.RecordBatch, int, error) {
	var h kmsg.RecordBatch
	if len(b) < logOverhead {
		return h, 0, truncated("%d bytes, need %d to read the batch length", len(b), logOverhead)
	}
	length := int64(int32(binary.BigEndian.Uint32(b[offLength:])))
	if length < legacyMinLength {
		return h, 0, corrupt("batch length %d is smaller than the minimum record overhead %d", length, legacyMinLength)
	}
	if len(b) < headerUpToMagic {
		return h, 0, truncated("%d bytes, need %d to read the magic byte", len(b), headerUpToMagic)
	}
	switch magic := int8(b[offMagic]); {
	case magic < 0 || magic > Magic:
		return h, 0, corrupt("invalid magic %d", magic)
	case magic != Magic:
		return h, 0, invalid("magic %d batch: only magic 2 record batches are supported", magic)
	case length < minLength:
		return h, 0, corrupt("batch length %d is smaller than the minimum %d", length, minLength)
	}
	size := logOverhead + length
	if int64(len(b)) < size {
		return h, 0, truncated("batch of %d bytes, only %d present", size, len(b))
	}
	batch := b[:size]
	stored := binary.BigEndian.Uint32(batch[offCRC:])
	if got := checksum(batch); got != stored {
		return h, 0, corrupt("CRC mismatch: stored %08x, computed %08x", stored, got)
	}
	h = header(batch)
	return h, int(size), nil
}

// header decodes the fixed header of a batch whose length is already checked.
func header(batch []byte) kmsg.RecordBatch {
	be := binary.BigEndian
	return kmsg.RecordBatch{
		FirstOffset:          int64(be.Uint64(batch[offBaseOffset:])),
		Length:               int32(be.Uint32(batch[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(batch[offLeaderEpoch:])),
		Magic:                int8(batch[offMagic]),
		CRC:                  int32(be.Uint32(batch[offCRC:])),
		Attributes:           int16(be.Uint16(batch[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(batch[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(batch[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(batch[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(batch[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(batch[offProducerEpoch:])),
		FirstSequence:        int32(be.Uint32(batch[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(batch[offRecordsCount:])),
		Records:              batch[HeaderSize:len(batch):len(batch)],
	}
}

// Iterate walks the batches concatenated in b (a segment, a fetch response's
// record set) and calls fn with each batch's header and raw bytes (aliasing
// b). It stops at the first batch that is invalid or cut short and returns
// the number of leading bytes that hold whole valid batches, and that
// batch's error; err is nil when every byte was consumed or fn returned
// false (validBytes then includes the batch fn was given).
//
// Log recovery keeps validBytes and truncates the rest, as Kafka's
// LogSegment.recover does on a torn or corrupt tail.
func Iterate(b []byte, fn func(kmsg.RecordBatch, []byte) bool) (validBytes int, err error) {
	for validBytes < len(b) {
		h, n, err := ParseBatch(b[validBytes:])
		if err != nil {
			return validBytes, err
		}
		raw := b[validBytes : validBytes+n : validBytes+n]
		validBytes += n
		if !fn(h, raw) {
			break
		}
	}
	return validBytes, nil
}

// CompressionOf returns the codec a batch's attributes name.
func CompressionOf(attributes int16) Compression {
	return Compression(attributes & AttrCompressionMask)
}

// RecordTimestamp is a record's timestamp as Kafka reports it: with
// LogAppendTime every record takes the batch's maxTimestamp, otherwise
// baseTimestamp + timestampDelta (DefaultRecordBatch.iterator passes
// logAppendTime to DefaultRecord.readFrom).
func RecordTimestamp(b kmsg.RecordBatch, r kmsg.Record) int64 {
	if b.Attributes&AttrLogAppendTime != 0 {
		return b.MaxTimestamp
	}
	return b.FirstTimestamp + r.TimestampDelta64
}
