package record

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxUncompressedBytes bounds what one compressed batch (gzip, snappy, lz4
// or zstd) may expand to, so a small bomb cannot take the tab's memory.
// Kafka streams records and has no such bound; 64 MiB is far above a
// producer batch (batch.size 16 KiB, max.request.size 1 MiB) at any
// realistic compression ratio. A batch over it is answered
// MESSAGE_TOO_LARGE (Streamlab's choice).
const MaxUncompressedBytes = 64 << 20

// minRecordSize is the smallest encoded record: a one-byte length varint and
// six one-byte fields (attributes, timestampDelta, offsetDelta, key length,
// value length, header count). It bounds how many records a buffer can hold,
// so a bogus recordsCount cannot size an allocation.
const minRecordSize = 7

// Records decodes the records of a batch produced by a client and checks
// them as Kafka's broker does for AppendOrigin.CLIENT
// (LogValidator.validateBatch): recordsCount > 0 ("Invalid reported count")
// and lastOffsetDelta+1 == recordsCount ("Inconsistent batch offset range"),
// both INVALID_RECORD. It also requires offset deltas to be exactly 0..n-1,
// INVALID_RECORD too. Kafka is laxer there: it rewrites a compressed batch
// whose inner offsets are wrong ("Some older clients do not implement the V1
// internal offsets correctly", validateMessagesAndAssignOffsetsCompressed)
// and does not look at them in an uncompressed one; every v2 client writes
// 0..n-1, so Streamlab rejects instead of rewriting.
//
// The header-only checks of validateBatch (no control batches from clients,
// a producer id needs baseSequence >= 0) need no decoding and are left to the
// produce path. Use StoredRecords for batches read back from a log:
// compaction leaves gaps.
//
// Key, Value and header values alias the batch's Records bytes (or the
// decompressed buffer); a null key or value is nil, an empty one is non-nil.
func Records(b kmsg.RecordBatch) ([]kmsg.Record, error) {
	var recs []kmsg.Record
	err := each(b, func(n int) { recs = make([]kmsg.Record, 0, n) }, func(r *kmsg.Record) { recs = append(recs, *r) })
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// Each is Records without the slice: it makes the same checks and returns
// the same error, calling fn with each record, in order, as it is decoded.
// fn sees records before the batch is known to be valid, so act on what it
// saw only if Each returns nil; r is reused from one call to the next (copy
// *r to keep it). A broker validating a 1 MB produce batch of small records
// is spared allocating (and zeroing) a kmsg.Record for each.
func Each(b kmsg.RecordBatch, fn func(r *kmsg.Record)) error {
	return each(b, func(int) {}, fn)
}

// each implements Records and Each: start gets the record count once it is
// known to fit in the batch.
func each(b kmsg.RecordBatch, start func(n int), fn func(r *kmsg.Record)) error {
	if b.NumRecords <= 0 {
		return invalid("invalid reported count for record batch: %d", b.NumRecords)
	}
	if int64(b.LastOffsetDelta)+1 != int64(b.NumRecords) {
		return invalid("inconsistent batch offset range: lastOffsetDelta %d and count of records %d", b.LastOffsetDelta, b.NumRecords)
	}
	// The offset deltas are checked once every record has decoded: a
	// malformed record anywhere is reported before a wrong delta.
	bad, badDelta := -1, int32(0)
	i := 0
	err := decodeEach(b, start, func(r *kmsg.Record) {
		if r.OffsetDelta != int32(i) && bad < 0 {
			bad, badDelta = i, r.OffsetDelta
		}
		fn(r)
		i++
	})
	if err != nil {
		return err
	}
	if bad >= 0 {
		return invalid("record %d has offset delta %d, want %d", bad, badDelta, bad)
	}
	return nil
}

// StoredRecords decodes the records of a batch read from a log or a fetch
// response. Compaction removes records but keeps the batch and its
// lastOffsetDelta (and may keep an empty batch to preserve producer state,
// KIP-98/LogCleaner), so offset deltas need only increase strictly within
// 0..lastOffsetDelta, and recordsCount may be 0.
func StoredRecords(b kmsg.RecordBatch) ([]kmsg.Record, error) {
	if b.NumRecords < 0 {
		return nil, invalid("invalid record count %d", b.NumRecords)
	}
	recs, err := decode(b)
	if err != nil {
		return nil, err
	}
	prev := int32(-1)
	for i := range recs {
		d := recs[i].OffsetDelta
		if d <= prev || d > b.LastOffsetDelta {
			return nil, invalid("record %d has offset delta %d after %d, last offset delta %d", i, d, prev, b.LastOffsetDelta)
		}
		prev = d
	}
	return recs, nil
}

// decode decompresses and splits the records, checking their structure as
// DefaultRecord.readFrom and DefaultRecordBatch.RecordIterator do: exactly
// recordsCount records that use every byte, each record exactly its declared
// size. Kafka throws InvalidRecordException for all of these, so
// INVALID_RECORD.
func decode(b kmsg.RecordBatch) ([]kmsg.Record, error) {
	var recs []kmsg.Record
	err := decodeEach(b, func(n int) { recs = make([]kmsg.Record, 0, n) }, func(r *kmsg.Record) { recs = append(recs, *r) })
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// decodeEach is decode calling fn with each record (r is reused) instead of
// returning them; start gets the record count once it is known to fit.
func decodeEach(b kmsg.RecordBatch, start func(n int), fn func(r *kmsg.Record)) error {
	data, err := decompress(CompressionOf(b.Attributes), b.Records, MaxUncompressedBytes)
	if err != nil {
		return err
	}
	n := int(b.NumRecords)
	if n > len(data)/minRecordSize {
		return invalid("%d records cannot fit in %d bytes", n, len(data))
	}
	start(n)
	r := reader{b: data}
	var rec kmsg.Record
	for i := range n {
		rec = kmsg.Record{}
		if err := r.record(&rec); err != nil {
			return invalid("record %d: %v", i, err)
		}
		fn(&rec)
	}
	if len(r.b) != 0 {
		return invalid("incorrect declared batch size, %d bytes remain after %d records", len(r.b), n)
	}
	return nil
}

var (
	errShort  = errors.New("premature end of records")
	errVarint = errors.New("malformed varint")
)

// reader reads Kafka's zig-zag varints (ByteUtils.readVarint/readVarlong).
type reader struct{ b []byte }

// varint and varlong take one-byte values (most record fields) first, and
// varint two-byte ones next: validating a produced batch decodes every
// record, and this is most of it.
func (r *reader) varint() (int32, error) {
	if len(r.b) > 0 && r.b[0] < 0x80 {
		v := int32(r.b[0])
		r.b = r.b[1:]
		return v>>1 ^ -(v & 1), nil
	}
	return r.varintLong()
}

func (r *reader) varintLong() (int32, error) {
	if len(r.b) > 1 && r.b[0] >= 0x80 && r.b[1] < 0x80 {
		// Two bytes: record sizes, value lengths, offset deltas past 63.
		v := int32(r.b[0]&0x7f) | int32(r.b[1])<<7
		r.b = r.b[2:]
		return v>>1 ^ -(v & 1), nil
	}
	u, n := binary.Uvarint(r.b)
	// ByteUtils.readVarint reads at most 5 bytes.
	if n <= 0 || n > 5 || u > math.MaxUint32 {
		if n == 0 {
			return 0, errShort
		}
		return 0, errVarint
	}
	r.b = r.b[n:]
	v := uint32(u)
	return int32(v>>1) ^ -int32(v&1), nil
}

func (r *reader) varlong() (int64, error) {
	if len(r.b) > 0 && r.b[0] < 0x80 {
		v := int64(r.b[0])
		r.b = r.b[1:]
		return v>>1 ^ -(v & 1), nil
	}
	return r.varlongLong()
}

func (r *reader) varlongLong() (int64, error) {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		if n == 0 {
			return 0, errShort
		}
		return 0, errVarint
	}
	r.b = r.b[n:]
	return v, nil
}

// bytes reads a varint-length-prefixed byte string; null is nil.
func (r *reader) bytes() ([]byte, error) {
	l, err := r.varint()
	if err != nil {
		return nil, err
	}
	if l < 0 {
		return nil, nil // DefaultRecord.readFrom: any negative size is null
	}
	if int(l) > len(r.b) {
		return nil, errShort
	}
	if l == 0 {
		return []byte{}, nil // empty, not null
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	return v, nil
}

// record reads one record (DefaultRecord.readFrom).
func (r *reader) record(rec *kmsg.Record) error {
	size, err := r.varint()
	if err != nil {
		return err
	}
	if size < 0 || int(size) > len(r.b) {
		return errors.New("invalid record size")
	}
	body := reader{b: r.b[:size]}
	r.b = r.b[size:]
	rec.Length = size
	if len(body.b) < 1 {
		return errShort
	}
	rec.Attributes = int8(body.b[0])
	body.b = body.b[1:]
	if rec.TimestampDelta64, err = body.varlong(); err != nil {
		return err
	}
	rec.TimestampDelta = int32(rec.TimestampDelta64)
	if rec.OffsetDelta, err = body.varint(); err != nil {
		return err
	}
	if rec.Key, err = body.bytes(); err != nil {
		return err
	}
	if rec.Value, err = body.bytes(); err != nil {
		return err
	}
	nh, err := body.varint()
	if err != nil {
		return err
	}
	// Kafka: "Found invalid number of record headers" when negative or more
	// than the remaining bytes; each header takes at least two.
	if nh < 0 || int(nh) > len(body.b)/2 {
		return errors.New("invalid number of record headers")
	}
	if nh > 0 {
		rec.Headers = make([]kmsg.Header, nh)
	}
	for i := range rec.Headers {
		k, err := body.bytes()
		if err != nil {
			return err
		}
		if k == nil {
			return errors.New("null header key") // "Invalid negative header key size"
		}
		rec.Headers[i].Key = string(k)
		if rec.Headers[i].Value, err = body.bytes(); err != nil {
			return err
		}
	}
	if len(body.b) != 0 {
		return errors.New("record body longer than its fields")
	}
	return nil
}
