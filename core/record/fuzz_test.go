package record

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func seedBatches() [][]byte {
	withProducer := sampleBatch(None)
	withProducer.Producer = &Producer{ID: 1, Epoch: 2, BaseSequence: 3}
	two := append(Build(sampleBatch(None)), Build(sampleBatch(Gzip))...)
	return [][]byte{
		Build(sampleBatch(None)),
		Build(sampleBatch(Gzip)),
		Build(withProducer),
		Build(Batch{}),
		Build(Batch{Records: []Record{{Timestamp: -5, Value: bytes.Repeat([]byte("ab"), 100)}}}),
		two,
		nil,
		[]byte("garbage that is not a record batch at all, but long enough to have a header"),
		make([]byte, 61),
	}
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
		if err != nil {
			return
		}
		if len(recs) != int(num) || int(last) != len(recs)-1 {
			t.Fatalf("%d records, count %d, last delta %d", len(recs), num, last)
		}
		checkRebuild(t, h, recs)
	})
}
