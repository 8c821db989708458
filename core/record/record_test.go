package record

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func sampleBatch(c Compression) Batch {
	return Batch{
		Compression: c,
		Records: []Record{
			{Timestamp: 1000, Key: []byte("k1"), Value: []byte("v1")},
			{Timestamp: 990, Key: nil, Value: []byte{}}, // null key, empty value, earlier time
			{Timestamp: 1500, Key: []byte{}, Value: nil, Headers: []kmsg.Header{
				{Key: "h", Value: []byte("x")}, {Key: "", Value: nil}, {Key: "e", Value: []byte{}},
			}},
		},
	}
}

func mustParse(t *testing.T, raw []byte) kmsg.RecordBatch {
	t.Helper()
	h, n, err := ParseBatch(raw)
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	if n != len(raw) {
		t.Fatalf("ParseBatch size %d, want %d", n, len(raw))
	}
	return h
}

func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func checkRecords(t *testing.T, h kmsg.RecordBatch, got []kmsg.Record, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.OffsetDelta != int32(i) || RecordTimestamp(h, g) != w.Timestamp ||
			!sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) || len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d = %+v, want %+v", i, g, w)
		}
		for j, wh := range w.Headers {
			if g.Headers[j].Key != wh.Key || !sameBytes(g.Headers[j].Value, wh.Value) {
				t.Fatalf("record %d header %d = %+v, want %+v", i, j, g.Headers[j], wh)
			}
		}
	}
}

func TestCastagnoli(t *testing.T) {
	// The standard CRC-32C check value (RFC 3720 B.4 / the "123456789" vector).
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("crc32c = %08x", got)
	}
}

// allCodecs are the codecs Build writes and the decoders read.
var allCodecs = []Compression{None, Gzip, Snappy, LZ4, Zstd}

func TestRoundTrip(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			b := sampleBatch(c)
			b.BaseOffset = 42
			b.Transactional = true
			b.Producer = &Producer{ID: 7, Epoch: 3, BaseSequence: 100}
			raw := Build(b)
			h := mustParse(t, raw)
			if h.FirstOffset != 42 || h.PartitionLeaderEpoch != -1 || h.Magic != 2 ||
				CompressionOf(h.Attributes) != c || h.Attributes&AttrTransactional == 0 ||
				h.Attributes&AttrControl != 0 || h.LastOffsetDelta != 2 || h.NumRecords != 3 ||
				h.FirstTimestamp != 1000 || h.MaxTimestamp != 1500 ||
				h.ProducerID != 7 || h.ProducerEpoch != 3 || h.FirstSequence != 100 ||
				int(h.Length) != len(raw)-12 || uint32(h.CRC) != crc32.Checksum(raw[21:], castagnoli) {
				t.Fatalf("header %+v", h)
			}
			recs, err := Records(h)
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, h, recs, b.Records)
			stored, err := StoredRecords(h)
			if err != nil || len(stored) != 3 {
				t.Fatalf("StoredRecords: %d, %v", len(stored), err)
			}
		})
	}
}

func TestBuildDefaults(t *testing.T) {
	h := mustParse(t, Build(Batch{Records: []Record{{Value: []byte("v")}}}))
	if h.ProducerID != -1 || h.ProducerEpoch != -1 || h.FirstSequence != -1 || h.Attributes != 0 || h.FirstOffset != 0 {
		t.Fatalf("defaults: %+v", h)
	}
	h = mustParse(t, Build(Batch{}))
	if h.NumRecords != 0 || h.FirstTimestamp != -1 || h.MaxTimestamp != -1 || h.Length != 49 {
		t.Fatalf("empty: %+v", h)
	}
	if _, err := Records(h); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("Records(empty) = %v, want INVALID_RECORD", err)
	}
	if recs, err := StoredRecords(h); err != nil || len(recs) != 0 {
		t.Fatalf("StoredRecords(empty) = %v, %v", recs, err)
	}
}

// TestMatchesKmsg checks Build against an independent encoder: kmsg's own
// RecordBatch and Record AppendTo.
func TestMatchesKmsg(t *testing.T) {
	b := sampleBatch(None)
	b.Control = true
	b.Producer = &Producer{ID: 1, Epoch: 0, BaseSequence: 0}
	var recs []byte
	for i, r := range b.Records {
		kr := kmsg.Record{TimestampDelta64: r.Timestamp - 1000, OffsetDelta: int32(i), Key: r.Key, Value: r.Value, Headers: r.Headers}
		body := kr.AppendTo(nil)[1:] // Length 0 encodes as one byte
		kr.Length = int32(len(body))
		recs = kr.AppendTo(recs)
	}
	kb := kmsg.RecordBatch{
		FirstOffset: 0, Length: int32(49 + len(recs)), PartitionLeaderEpoch: -1, Magic: 2,
		Attributes: AttrControl, LastOffsetDelta: 2, FirstTimestamp: 1000, MaxTimestamp: 1500,
		ProducerID: 1, ProducerEpoch: 0, FirstSequence: 0, NumRecords: 3, Records: recs,
	}
	want := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(want[17:], crc32.Checksum(want[21:], castagnoli))
	if got := Build(b); !bytes.Equal(got, want) {
		t.Fatalf("Build differs from kmsg:\n got %x\nwant %x", got, want)
	}
	var kh kmsg.RecordBatch
	if err := kh.ReadFrom(want); err != nil {
		t.Fatal(err)
	}
	h := mustParse(t, want)
	if h.CRC != kh.CRC || h.Length != kh.Length || !bytes.Equal(h.Records, kh.Records) {
		t.Fatalf("ParseBatch %+v, kmsg %+v", h, kh)
	}
}

func TestEveryFlipDetected(t *testing.T) {
	for _, c := range allCodecs {
		raw := Build(sampleBatch(c))
		for i := range raw {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(raw)
				bad[i] ^= mask
				_, _, err := ParseBatch(bad)
				switch {
				case i < 8 || (i >= 12 && i < 16):
					// baseOffset and partitionLeaderEpoch are outside the CRC.
					if err != nil {
						t.Fatalf("%v: flip %#x at %d (outside CRC): %v", c, mask, i, err)
					}
				case err == nil:
					t.Fatalf("%v: flip %#x at byte %d not detected", c, mask, i)
				case i >= 17 && !errors.Is(err, kerr.CorruptMessage):
					t.Fatalf("%v: flip at %d: %v, want CORRUPT_MESSAGE", c, i, err)
				}
			}
		}
	}
}

func TestTruncatedEveryLength(t *testing.T) {
	raw := Build(sampleBatch(Gzip))
	for i := 0; i < len(raw); i++ {
		_, n, err := ParseBatch(raw[:i])
		if !errors.Is(err, ErrTruncated) || n != 0 {
			t.Fatalf("len %d: n=%d err=%v, want ErrTruncated", i, n, err)
		}
		if !errors.Is(err, kerr.InvalidRecord) {
			t.Fatalf("len %d: %v does not map to INVALID_RECORD", i, err)
		}
	}
}

func TestHeaderChecks(t *testing.T) {
	raw := Build(sampleBatch(None))
	set := func(f func(b []byte)) []byte { b := bytes.Clone(raw); f(b); return b }
	cases := []struct {
		name string
		b    []byte
		code *kerr.Error
	}{
		{"magic 1", set(func(b []byte) { b[16] = 1 }), kerr.InvalidRecord},
		{"magic 0", set(func(b []byte) { b[16] = 0 }), kerr.InvalidRecord},
		{"magic 3", set(func(b []byte) { b[16] = 3 }), kerr.CorruptMessage},
		{"magic -1", set(func(b []byte) { b[16] = 0xff }), kerr.CorruptMessage},
		{"length 13", set(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 13) }), kerr.CorruptMessage},
		{"length 48", set(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 48) }), kerr.CorruptMessage},
		{"length -1", set(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 0xffffffff) }), kerr.CorruptMessage},
		{"crc", set(func(b []byte) { b[20] ^= 1 }), kerr.CorruptMessage},
	}
	for _, c := range cases {
		_, _, err := ParseBatch(c.b)
		var re *Error
		if !errors.As(err, &re) || re.Code != c.code || !errors.Is(err, c.code) || errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v, want %s", c.name, err, c.code.Message)
		}
	}
	// A huge length with few bytes is a torn tail, not an allocation.
	_, _, err := ParseBatch(set(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 0x7fffffff) }))
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("huge length: %v", err)
	}
}

func TestParseBatchFollowedByMore(t *testing.T) {
	a, b := Build(sampleBatch(None)), Build(sampleBatch(Gzip))
	h, n, err := ParseBatch(append(bytes.Clone(a), b...))
	if err != nil || n != len(a) || len(h.Records) != len(a)-61 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestIterate(t *testing.T) {
	var seg []byte
	var ends []int
	for i, c := range []Compression{None, Gzip, None} {
		b := sampleBatch(c)
		b.BaseOffset = int64(3 * i)
		seg = append(seg, Build(b)...)
		ends = append(ends, len(seg))
	}
	var offs []int64
	valid, err := Iterate(seg, func(h kmsg.RecordBatch, raw []byte) bool {
		if len(raw) != int(h.Length)+12 {
			t.Fatalf("raw %d bytes, header says %d", len(raw), h.Length+12)
		}
		offs = append(offs, h.FirstOffset)
		return true
	})
	if err != nil || valid != len(seg) || len(offs) != 3 || offs[2] != 6 {
		t.Fatalf("valid=%d err=%v offs=%v", valid, err, offs)
	}

	// Torn tail at every length: validBytes is the last whole batch boundary.
	for cut := 0; cut <= len(seg); cut++ {
		want := 0
		for _, e := range ends {
			if e <= cut {
				want = e
			}
		}
		valid, err := Iterate(seg[:cut], func(kmsg.RecordBatch, []byte) bool { return true })
		if valid != want {
			t.Fatalf("cut %d: valid %d, want %d", cut, valid, want)
		}
		if (cut == want) != (err == nil) || (err != nil && !errors.Is(err, ErrTruncated)) {
			t.Fatalf("cut %d: err %v", cut, err)
		}
	}

	// A corrupt middle batch stops the walk there.
	bad := bytes.Clone(seg)
	bad[ends[0]+30] ^= 0x10
	valid, err = Iterate(bad, func(kmsg.RecordBatch, []byte) bool { return true })
	if valid != ends[0] || !errors.Is(err, kerr.CorruptMessage) || errors.Is(err, ErrTruncated) {
		t.Fatalf("corrupt middle: valid %d err %v", valid, err)
	}

	// fn stops the walk.
	calls := 0
	valid, err = Iterate(seg, func(kmsg.RecordBatch, []byte) bool { calls++; return false })
	if calls != 1 || valid != ends[0] || err != nil {
		t.Fatalf("stop: calls %d valid %d err %v", calls, valid, err)
	}

	if valid, err := Iterate(nil, nil); valid != 0 || err != nil {
		t.Fatalf("empty: %d %v", valid, err)
	}
}

// rebuild re-encodes a parsed header with new records bytes and a fresh CRC.
func rebuild(h kmsg.RecordBatch, records []byte) kmsg.RecordBatch {
	h.Records = records
	h.Length = int32(49 + len(records))
	return h
}

func TestGzipInterop(t *testing.T) {
	// Records compressed by a third party (stdlib at best speed, as a Java
	// GZIPOutputStream would produce a different but valid stream).
	plain := mustParse(t, Build(sampleBatch(None)))
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(plain.Records)
	zw.Close()
	h := rebuild(plain, buf.Bytes())
	h.Attributes |= int16(Gzip)
	recs, err := Records(h)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, h, recs, sampleBatch(None).Records)

	h.Records = []byte("not gzip at all")
	if _, err := Records(h); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("bad gzip: %v", err)
	}
}

func TestGzipBomb(t *testing.T) {
	const limit = 1 << 20
	bomb := func(n int) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(make([]byte, n))
		zw.Close()
		return buf.Bytes()
	}
	if out, err := gunzip(bomb(limit), limit); err != nil || len(out) != limit {
		t.Fatalf("at the limit: %d bytes, %v", len(out), err)
	}
	if _, err := gunzip(bomb(limit+1), limit); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestNotCompressedAsClaimed(t *testing.T) {
	// Plain records labelled snappy, lz4 or zstd are damaged bytes.
	h := mustParse(t, Build(sampleBatch(None)))
	for _, c := range []Compression{Gzip, Snappy, LZ4, Zstd, 5, 6, 7} {
		h.Attributes = int16(c)
		if _, err := Records(h); !errors.Is(err, kerr.CorruptMessage) {
			t.Errorf("%v: %v", c, err)
		}
		if _, err := StoredRecords(h); !errors.Is(err, kerr.CorruptMessage) {
			t.Errorf("%v stored: %v", c, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Build(codec 5) did not panic")
		}
	}()
	Build(Batch{Compression: 5})
}

// encodeRecords builds a records section with the given offset deltas.
func encodeRecords(deltas ...int32) []byte {
	var out []byte
	for _, d := range deltas {
		r := kmsg.Record{OffsetDelta: d, Value: []byte("v")}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		out = r.AppendTo(out)
	}
	return out
}

func TestRecordsValidation(t *testing.T) {
	base := kmsg.RecordBatch{Magic: 2}
	mk := func(num, last int32, deltas ...int32) kmsg.RecordBatch {
		h := rebuild(base, encodeRecords(deltas...))
		h.NumRecords, h.LastOffsetDelta = num, last
		return h
	}
	cases := []struct {
		name         string
		h            kmsg.RecordBatch
		strict, stor bool // whether Records / StoredRecords accept it
	}{
		{"ok", mk(3, 2, 0, 1, 2), true, true},
		{"compacted tail", mk(2, 2, 0, 1), false, true},
		{"last delta too small", mk(3, 1, 0, 1, 2), false, false},
		{"gap (compacted)", mk(2, 4, 1, 4), false, true},
		{"not increasing", mk(3, 2, 0, 2, 1), false, false},
		{"duplicate delta", mk(2, 1, 0, 0), false, false},
		{"negative delta", mk(1, 0, -1), false, false},
		{"more records than count", mk(2, 1, 0, 1, 2), false, false},
		{"fewer records than count", mk(4, 3, 0, 1, 2), false, false},
		{"negative count", mk(-1, 0), false, false},
	}
	for _, c := range cases {
		_, err := Records(c.h)
		if (err == nil) != c.strict || (err != nil && !errors.Is(err, kerr.InvalidRecord)) {
			t.Errorf("%s: Records err %v", c.name, err)
		}
		_, err = StoredRecords(c.h)
		if (err == nil) != c.stor || (err != nil && !errors.Is(err, kerr.InvalidRecord)) {
			t.Errorf("%s: StoredRecords err %v", c.name, err)
		}
	}
}

func TestRecordStructure(t *testing.T) {
	good := encodeRecords(0)
	// rec prefixes a record body with its length (zig-zag, < 64 bytes).
	rec := func(body ...byte) []byte { return append([]byte{byte(len(body) << 1)}, body...) }
	// attributes, timestampDelta 0, offsetDelta 0, null key, value "v"
	head := []byte{0, 0, 0, 0x01, 0x02, 'v'}
	with := func(tail ...byte) []byte { return rec(append(bytes.Clone(head), tail...)...) }
	if _, err := Records(kmsg.RecordBatch{NumRecords: 1, Records: with(0)}); err != nil {
		t.Fatalf("control case: %v", err)
	}
	cases := map[string][]byte{
		"length beyond data":  append([]byte{0x7e}, good[1:]...),
		"length short":        append([]byte{good[0] - 2}, good[1:]...),
		"trailing byte":       append(bytes.Clone(good), 0),
		"body longer":         with(0, 0),
		"varint too long":     {0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"negative length":     {0x01},
		"header count huge":   with(0x7e, 0, 0, 0, 0),
		"header count < 0":    with(0x01),
		"null header key":     with(0x02, 0x01, 0x01),
		"header value beyond": with(0x02, 0x02, 'h', 0x08, 0),
		"no header count":     with(),
		"empty":               {},
	}
	for name, recs := range cases {
		h := kmsg.RecordBatch{Magic: 2, NumRecords: 1, Records: recs}
		if _, err := Records(h); !errors.Is(err, kerr.InvalidRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNoHugeAllocation(t *testing.T) {
	h := rebuild(kmsg.RecordBatch{Magic: 2}, encodeRecords(0, 1, 2))
	h.NumRecords, h.LastOffsetDelta = 1<<31-1, 1<<31-2
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := Records(h); err == nil {
			t.Fatal("bogus count accepted")
		}
		if _, err := StoredRecords(h); err == nil {
			t.Fatal("bogus count accepted")
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("allocated %d bytes for a bogus recordsCount", d)
	}
}

func TestPatches(t *testing.T) {
	raw := Build(sampleBatch(Gzip))
	crc := binary.BigEndian.Uint32(raw[17:])
	SetBaseOffset(raw, 1<<40)
	SetPartitionLeaderEpoch(raw, 9)
	h := mustParse(t, raw)
	if h.FirstOffset != 1<<40 || h.PartitionLeaderEpoch != 9 || uint32(h.CRC) != crc {
		t.Fatalf("patched %+v", h)
	}

	// SetLogAppendTime works on a batch inside a larger buffer.
	buf := append(bytes.Clone(raw), Build(sampleBatch(None))...)
	SetLogAppendTime(buf, 77777)
	h = mustParse(t, buf[:len(raw)])
	if h.Attributes&AttrLogAppendTime == 0 || h.MaxTimestamp != 77777 || CompressionOf(h.Attributes) != Gzip {
		t.Fatalf("log append time %+v", h)
	}
	recs, err := Records(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if RecordTimestamp(h, r) != 77777 {
			t.Fatalf("record timestamp %d", RecordTimestamp(h, r))
		}
	}
	if _, _, err := ParseBatch(buf[len(raw):]); err != nil {
		t.Fatalf("next batch damaged: %v", err)
	}
}

func TestErrorShape(t *testing.T) {
	_, _, err := ParseBatch(make([]byte, 3))
	var re *Error
	if !errors.As(err, &re) || re.Code != kerr.InvalidRecord || re.Reason == "" || err.Error() == "" {
		t.Fatalf("%#v", err)
	}
	if errors.Is(&Error{Code: kerr.CorruptMessage}, ErrTruncated) {
		t.Fatal("plain error matches ErrTruncated")
	}
}

// BenchmarkEach validates a 1 MB producer batch of 100-byte values, as the
// broker does for every produced batch (records/s).
func BenchmarkEach(b *testing.B) {
	recs := make([]Record, 8000)
	for i := range recs {
		recs[i] = Record{Timestamp: 1000 + int64(i%3), Value: bytes.Repeat([]byte{'v'}, 100)}
	}
	h, _, err := ParseBatch(Build(Batch{Records: recs}))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(h.Records)))
	for b.Loop() {
		if err := Each(h, func(*kmsg.Record) {}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}
