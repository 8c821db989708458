package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func seedBatches() [][]byte {
	withProducer := sampleBatch(None)
	withProducer.Producer = &Producer{ID: 1, Epoch: 2, BaseSequence: 3}
	two := append(Build(sampleBatch(None)), Build(sampleBatch(Gzip))...)
	return [][]byte{
		Build(sampleBatch(None)),
		Build(sampleBatch(Gzip)),
		Build(sampleBatch(Snappy)),
		Build(sampleBatch(LZ4)),
		Build(sampleBatch(Zstd)),
		rawSnappyBatch(),
		Build(withProducer),
		Build(Batch{}),
		Build(Batch{Records: []Record{{Timestamp: -5, Value: bytes.Repeat([]byte("ab"), 100)}}}),
		two,
		nil,
		[]byte("garbage that is not a record batch at all, but long enough to have a header"),
		make([]byte, 61),
	}
}

// rawSnappyBatch is sampleBatch with raw (unframed) snappy records, as
// franz-go and librdkafka write them.
func rawSnappyBatch() []byte {
	raw := Build(sampleBatch(None))
	h, _, _ := ParseBatch(raw)
	out := append(raw[:HeaderSize:HeaderSize], s2.EncodeSnappy(nil, h.Records)...)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-logOverhead))
	binary.BigEndian.PutUint16(out[offAttributes:], uint16(Snappy))
	binary.BigEndian.PutUint32(out[offCRC:], checksum(out))
	return out
}

// fixCRC makes b's CRC match its content so the fuzzer gets past the CRC
// check and exercises the record decoder.
func fixCRC(b []byte) []byte {
	if len(b) < HeaderSize {
		return b
	}
	n := 12 + int64(int32(binary.BigEndian.Uint32(b[8:])))
	if n < HeaderSize || n > int64(len(b)) {
		return b
	}
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[17:], checksum(b[:n]))
	return b
}

func FuzzParseBatch(f *testing.F) {
	for _, s := range seedBatches() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, fixCRC(data)} {
			h, n, err := ParseBatch(b)
			if err != nil {
				if n != 0 {
					t.Fatalf("error with size %d", n)
				}
				continue
			}
			if n < HeaderSize || n > len(b) || n != 12+int(h.Length) || len(h.Records) != n-HeaderSize {
				t.Fatalf("size %d, length %d, %d record bytes, input %d", n, h.Length, len(h.Records), len(b))
			}
			valid, _ := Iterate(b, func(kmsg.RecordBatch, []byte) bool { return true })
			if valid < n || valid > len(b) {
				t.Fatalf("Iterate valid %d, first batch %d, input %d", valid, n, len(b))
			}
			StoredRecords(h)
			recs, err := Records(h)
			checkEach(t, h, recs, err)
			if err != nil {
				continue
			}
			if len(recs) != int(h.NumRecords) {
				t.Fatalf("%d records, count %d", len(recs), h.NumRecords)
			}
			checkRebuild(t, h, recs)
		}
	})
}

// checkRebuild re-encodes decoded records with Build and expects the same
// records back.
func checkRebuild(t *testing.T, h kmsg.RecordBatch, recs []kmsg.Record) {
	t.Helper()
	want := make([]Record, len(recs))
	for i, r := range recs {
		want[i] = Record{Timestamp: RecordTimestamp(h, r), Key: r.Key, Value: r.Value, Headers: r.Headers}
	}
	c := CompressionOf(h.Attributes)
	raw := Build(Batch{Compression: c, Records: want})
	h2, _, err := ParseBatch(raw)
	if err != nil {
		t.Fatalf("rebuilt batch: %v", err)
	}
	if h.Attributes&AttrLogAppendTime != 0 {
		SetLogAppendTime(raw, h.MaxTimestamp)
		h2, _, _ = ParseBatch(raw)
	}
	got, err := Records(h2)
	if err != nil {
		t.Fatalf("rebuilt records: %v", err)
	}
	checkRecords(t, h2, got, want)
}

func FuzzRecords(f *testing.F) {
	for _, s := range seedBatches() {
		if h, _, err := ParseBatch(s); err == nil {
			f.Add(h.Attributes, h.NumRecords, h.LastOffsetDelta, h.Records)
		}
	}
	f.Add(int16(0), int32(1), int32(0), []byte{0x0e, 0, 0, 0, 1, 0x02, 'v', 0})
	f.Add(int16(1), int32(3), int32(2), []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add(int16(0), int32(1<<31-1), int32(1<<31-2), []byte{0x0e, 0, 0, 0, 1, 0x02, 'v', 0x7e})
	f.Add(int16(2), int32(1), int32(0), []byte{})
	f.Add(int16(3), int32(1), int32(0), []byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0})
	f.Add(int16(4), int32(1), int32(0), []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, attrs int16, num, last int32, records []byte) {
		h := kmsg.RecordBatch{Magic: 2, Attributes: attrs, NumRecords: num, LastOffsetDelta: last, Records: records}
		if recs, err := StoredRecords(h); err == nil {
			if len(recs) != int(num) {
				t.Fatalf("stored: %d records, count %d", len(recs), num)
			}
			for i := 1; i < len(recs); i++ {
				if recs[i].OffsetDelta <= recs[i-1].OffsetDelta || recs[i].OffsetDelta > last {
					t.Fatalf("stored: bad deltas accepted")
				}
			}
		}
		recs, err := Records(h)
		checkEach(t, h, recs, err)
		if err != nil {
			return
		}
		if len(recs) != int(num) || int(last) != len(recs)-1 {
			t.Fatalf("%d records, count %d, last delta %d", len(recs), num, last)
		}
		checkRebuild(t, h, recs)
	})
}

// FuzzDecompress feeds every codec arbitrary bytes under a small limit (no
// panic, never more than the limit) and checks that what Compress writes
// decompresses to the input.
func FuzzDecompress(f *testing.F) {
	raw := func() []byte { h, _, _ := ParseBatch(Build(sampleBatch(None))); return h.Records }()
	f.Add(uint8(0), raw)
	for _, c := range []Compression{Gzip, Snappy, LZ4, Zstd} {
		f.Add(uint8(c), Compress(c, raw))
		f.Add(uint8(c), Compress(c, bytes.Repeat(raw, 300)))
	}
	f.Add(uint8(Snappy), s2.EncodeSnappy(nil, raw))
	f.Add(uint8(Snappy), []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3, 1, 0, 'x'})
	f.Add(uint8(LZ4), []byte{0x04, 0x22, 0x4d, 0x18, 0x70, 0x40, 0xad, 3, 0, 0, 0x80, 'a', 'b', 'c', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		const limit = 4 << 20
		c := Compression(codec % 8)
		out, err := decompress(c, data, limit)
		switch {
		case err != nil && !errors.Is(err, kerr.CorruptMessage) && !errors.Is(err, kerr.MessageTooLarge):
			t.Fatalf("%v: %v", c, err)
		case err == nil && len(out) > limit:
			t.Fatalf("%v: %d bytes decoded, limit %d", c, len(out), limit)
		case c > Zstd:
			return
		}
		back, err := decompress(c, Compress(c, data), limit)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("%v round trip: %d bytes back, %v; want %d", c, len(back), err, len(data))
		}
	})
}

// checkEach expects Each to agree with Records (recs, err) and with the
// reference implementation below, which builds the slice first and checks
// offset deltas after every record decoded (Records before Each existed).
func checkEach(t *testing.T, h kmsg.RecordBatch, recs []kmsg.Record, err error) {
	t.Helper()
	var got []kmsg.Record
	eachErr := Each(h, func(r *kmsg.Record) { got = append(got, *r) })
	ref, refErr := referenceRecords(h)
	if fmt.Sprint(err) != fmt.Sprint(refErr) || fmt.Sprint(eachErr) != fmt.Sprint(refErr) {
		t.Fatalf("errors: Records %v, Each %v, reference %v", err, eachErr, refErr)
	}
	if refErr == nil && (!reflect.DeepEqual(recs, ref) || !reflect.DeepEqual(got, ref)) {
		t.Fatalf("records differ:\nRecords   %+v\nEach      %+v\nreference %+v", recs, got, ref)
	}
}

func referenceRecords(b kmsg.RecordBatch) ([]kmsg.Record, error) {
	if b.NumRecords <= 0 {
		return nil, invalid("invalid reported count for record batch: %d", b.NumRecords)
	}
	if int64(b.LastOffsetDelta)+1 != int64(b.NumRecords) {
		return nil, invalid("inconsistent batch offset range: lastOffsetDelta %d and count of records %d", b.LastOffsetDelta, b.NumRecords)
	}
	data, err := decompress(CompressionOf(b.Attributes), b.Records, MaxUncompressedBytes)
	if err != nil {
		return nil, err
	}
	n := int(b.NumRecords)
	if n > len(data)/minRecordSize {
		return nil, invalid("%d records cannot fit in %d bytes", n, len(data))
	}
	recs := make([]kmsg.Record, n)
	r := reader{b: data}
	for i := range recs {
		if err := r.record(&recs[i]); err != nil {
			return nil, invalid("record %d: %v", i, err)
		}
	}
	if len(r.b) != 0 {
		return nil, invalid("incorrect declared batch size, %d bytes remain after %d records", len(r.b), n)
	}
	for i := range recs {
		if recs[i].OffsetDelta != int32(i) {
			return nil, invalid("record %d has offset delta %d, want %d", i, recs[i].OffsetDelta, i)
		}
	}
	return recs, nil
}

// FuzzVarint checks reader.varint and reader.varlong, which take short
// values by hand, against encoding/binary: same value, error and rest.
func FuzzVarint(f *testing.F) {
	for _, s := range [][]byte{{}, {0}, {1}, {0x7f}, {0x80}, {0x80, 0}, {0xc8, 1}, {0xff, 0xff, 0xff, 0xff, 0x0f},
		{0xff, 0xff, 0xff, 0xff, 0x1f}, {0xff, 0xff, 0xff, 0xff, 0xff, 1}, bytes.Repeat([]byte{0xff}, 11)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := reader{b: b}
		got, err := r.varint()
		u, n := binary.Uvarint(b)
		switch {
		case n <= 0 || n > 5 || u > math.MaxUint32:
			if err == nil {
				t.Fatalf("varint % x: %d, want an error", b, got)
			}
		case err != nil || got != int32(uint32(u)>>1)^-int32(u&1) || len(r.b) != len(b)-n:
			t.Fatalf("varint % x: %d, %v, %d left; binary: %d, %d bytes", b, got, err, len(r.b), u, n)
		}
		r = reader{b: b}
		got64, err := r.varlong()
		v, n := binary.Varint(b)
		switch {
		case n <= 0:
			if err == nil {
				t.Fatalf("varlong % x: %d, want an error", b, got64)
			}
		case err != nil || got64 != v || len(r.b) != len(b)-n:
			t.Fatalf("varlong % x: %d, %v, %d left; binary: %d, %d bytes", b, got64, err, len(r.b), v, n)
		}
	})
}
