package partlog_test

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
)

const (
	dir = "logs/t-0"
	t0  = int64(1767225600000) // 2026-01-01
	day = int64(24 * 60 * 60 * 1000)
)

// segName is the object name Kafka and partlog give the segment at base.
func segName(base int64) string { return fmt.Sprintf("%s/%020d.log", dir, base) }

// build makes a batch of n records, all with timestamp ts.
func build(ts int64, n int, value string) []byte {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: ts, Key: []byte(fmt.Sprint("k", i)), Value: []byte(value)}
	}
	return record.Build(record.Batch{Records: recs})
}

// buildTS makes a batch with one record per timestamp.
func buildTS(ts ...int64) []byte {
	recs := make([]record.Record, len(ts))
	for i, t := range ts {
		recs[i] = record.Record{Timestamp: t, Value: []byte(fmt.Sprint("v", i))}
	}
	return record.Build(record.Batch{Records: recs})
}

func header(t *testing.T, raw []byte) kmsg.RecordBatch {
	t.Helper()
	h, n, err := record.ParseBatch(raw)
	if err != nil || n != len(raw) {
		t.Fatalf("test batch does not parse: %v (%d of %d bytes)", err, n, len(raw))
	}
	return h
}

// add appends raw to l as the broker does, at broker time now.
func add(t *testing.T, l *partlog.Log, raw []byte, now int64) (base, last int64, rolled bool) {
	t.Helper()
	return l.Append(raw, header(t, raw), now)
}

// persist applies and returns the log's pending writes.
func persist(t *testing.T, s storage.Store, l *partlog.Log) []storage.Write {
	t.Helper()
	w := l.Writes()
	if err := storage.Apply(s, w); err != nil {
		t.Fatal(err)
	}
	return w
}

// offsetsIn decodes concatenated batches and returns every record's offset.
func offsetsIn(t *testing.T, data []byte) []int64 {
	t.Helper()
	var out []int64
	valid, err := record.Iterate(data, func(h kmsg.RecordBatch, _ []byte) bool {
		recs, err := record.StoredRecords(h)
		if err != nil {
			t.Fatalf("batch at %d: %v", h.FirstOffset, err)
		}
		for _, r := range recs {
			out = append(out, h.FirstOffset+int64(r.OffsetDelta))
		}
		return true
	})
	if err != nil || valid != len(data) {
		t.Fatalf("read returned %d bytes, %d valid: %v", len(data), valid, err)
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

func read(t *testing.T, l *partlog.Log, offset, upTo int64, maxBytes int, minOne bool) []int64 {
	t.Helper()
	data, err := l.Read(offset, upTo, maxBytes, minOne)
	if err != nil {
		t.Fatalf("Read(%d, %d, %d, %v): %v", offset, upTo, maxBytes, minOne, err)
	}
	return offsetsIn(t, data)
}

func cfg(segmentBytes, segmentMs, retentionMs, retentionBytes int64) partlog.Config {
	return partlog.Config{SegmentBytes: segmentBytes, SegmentMs: segmentMs, RetentionMs: retentionMs, RetentionBytes: retentionBytes}
}

// one is the size of build(ts, 1, "v") for any ts: every test batch of one
// record has the same size.
var one = int64(len(build(t0, 1, "v")))

// singles appends n one-record batches with timestamp ts into a log whose
// segment.bytes holds exactly perSeg of them.
func singles(t *testing.T, c partlog.Config, perSeg int64, n int, ts int64) *partlog.Log {
	t.Helper()
	c.SegmentBytes = perSeg * one
	l := partlog.New(dir, c)
	for i := 0; i < n; i++ {
		add(t, l, build(ts, 1, "v"), ts)
	}
	return l
}

func TestNew(t *testing.T) {
	l := partlog.New(dir, partlog.DefaultConfig())
	if l.LogStartOffset() != 0 || l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("new log: start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if got, want := l.Segments(), []partlog.SegmentInfo{{Base: 0, Next: 0, MaxTimestamp: -1}}; !slices.Equal(got, want) {
		t.Fatalf("segments %+v, want %+v", got, want)
	}
	// The first segment object is created empty, like Kafka's 0.log, after
	// removing a cleaner checkpoint a deleted log may have left.
	w := l.Writes()
	if len(w) != 2 || w[0].Op != storage.OpRemove || w[0].Name != dir+"/cleaner-offset-checkpoint" ||
		w[1].Op != storage.OpAppend || w[1].Name != segName(0) || len(w[1].Data) != 0 {
		t.Fatalf("writes of a new log: %+v", w)
	}
	if w := l.Writes(); len(w) != 0 {
		t.Fatalf("Writes does not forget: %+v", w)
	}
	if data, err := l.Read(0, 0, 1<<20, true); err != nil || len(data) != 0 {
		t.Fatalf("read at the end of an empty log: %d bytes, %v", len(data), err)
	}
	for _, off := range []int64{-1, 1} {
		if _, err := l.Read(off, 0, 1<<20, true); !partlog.IsOutOfRange(err) {
			t.Fatalf("Read(%d): %v, want OFFSET_OUT_OF_RANGE", off, err)
		}
	}
	if o, ts := l.OffsetForTimestamp(0, 10); o != -1 || ts != -1 {
		t.Fatalf("OffsetForTimestamp on empty log: %d %d", o, ts)
	}
	if o, ts := l.MaxTimestamp(10); o != -1 || ts != -1 {
		t.Fatalf("MaxTimestamp on empty log: %d %d", o, ts)
	}
	if d := l.ApplyRetention(math.MaxInt64, 0); len(d) != 0 || len(l.Writes()) != 0 {
		t.Fatalf("retention on an empty log deleted %+v", d)
	}
	want := cfg(1<<30, 7*day, 7*day, -1)
	want.CleanupPolicy, want.MinCleanableDirtyRatio, want.DeleteRetentionMs, want.MaxCompactionLagMs = partlog.Delete, 0.5, day, math.MaxInt64
	if partlog.DefaultConfig() != want {
		t.Fatalf("defaults %+v", partlog.DefaultConfig())
	}
}

func TestAppendAssignsOffsets(t *testing.T) {
	l := partlog.New(dir, partlog.DefaultConfig())
	l.Writes()
	batches := [][]byte{build(t0, 3, "a"), build(t0+5, 1, "b"), build(t0+2, 2, "c")}
	wantRanges := [][2]int64{{0, 2}, {3, 3}, {4, 5}}
	var size int64
	for i, raw := range batches {
		raw = bytes.Clone(raw)
		base, last, rolled := add(t, l, raw, t0)
		if base != wantRanges[i][0] || last != wantRanges[i][1] || rolled {
			t.Fatalf("batch %d: [%d, %d] rolled=%v, want %v", i, base, last, rolled, wantRanges[i])
		}
		size += int64(len(raw))
	}
	if l.LogEndOffset() != 6 || l.LogStartOffset() != 0 || l.Size() != size {
		t.Fatalf("start %d end %d size %d (want 0 6 %d)", l.LogStartOffset(), l.LogEndOffset(), l.Size(), size)
	}
	if got, want := l.Segments(), []partlog.SegmentInfo{{Base: 0, Next: 6, Bytes: size, Batches: 3, MaxTimestamp: t0 + 5}}; !slices.Equal(got, want) {
		t.Fatalf("segments %+v, want %+v", got, want)
	}
	// One append write per batch, into the active segment, carrying the
	// batch with its assigned base offset (outside the CRC, so it still
	// parses).
	w := l.Writes()
	if len(w) != 3 {
		t.Fatalf("%d writes: %+v", len(w), w)
	}
	for i, wr := range w {
		if wr.Op != storage.OpAppend || wr.Name != segName(0) {
			t.Fatalf("write %d: %v %s", i, wr.Op, wr.Name)
		}
		h := header(t, wr.Data)
		if h.FirstOffset != wantRanges[i][0] || h.FirstOffset+int64(h.LastOffsetDelta) != wantRanges[i][1] {
			t.Fatalf("write %d holds batch at %d", i, h.FirstOffset)
		}
		// Only the base offset changed.
		orig := bytes.Clone(batches[i])
		record.SetBaseOffset(orig, h.FirstOffset)
		if !bytes.Equal(orig, wr.Data) {
			t.Fatalf("write %d: stored bytes differ from the appended batch beyond the base offset", i)
		}
	}
	if got := read(t, l, 0, l.LogEndOffset(), math.MaxInt32, false); !slices.Equal(got, span(0, 6)) {
		t.Fatalf("read back %v", got)
	}
}

func TestRead(t *testing.T) {
	// Four batches of two records, two batches per segment:
	// [0-1 2-3] [4-5 6-7].
	b := int64(len(build(t0, 2, "v")))
	l := partlog.New(dir, cfg(2*b, 7*day, -1, -1))
	for i := 0; i < 4; i++ {
		add(t, l, build(t0, 2, "v"), t0)
	}
	if segs := l.Segments(); len(segs) != 2 || segs[1].Base != 4 {
		t.Fatalf("segments %+v", segs)
	}
	big := math.MaxInt32
	for _, tc := range []struct {
		offset, upTo int64
		maxBytes     int
		minOne       bool
		want         []int64
	}{
		{0, 8, big, false, span(0, 8)},
		{3, 8, big, false, span(2, 8)}, // whole batches: the one holding 3 starts at 2
		{5, 8, big, false, span(4, 8)},
		{2, 8, int(2 * b), false, span(2, 6)}, // across the segment boundary
		{0, 8, int(2 * b), false, span(0, 4)},
		{0, 8, int(2*b) - 1, false, span(0, 2)},
		{0, 8, int(b) - 1, false, nil},       // not even one batch fits
		{0, 8, int(b) - 1, true, span(0, 2)}, // KIP-74: one batch anyway
		{6, 8, 0, true, span(6, 8)},
		{0, 5, big, false, span(0, 4)}, // upTo cuts before the batch holding 5
		{0, 4, big, false, span(0, 4)},
		{0, 3, big, false, span(0, 2)},
		{0, 0, big, true, nil}, // upTo wins over minOne
		{8, 8, big, true, nil}, // at the log end: nothing, no error
	} {
		if got := read(t, l, tc.offset, tc.upTo, tc.maxBytes, tc.minOne); !slices.Equal(got, tc.want) {
			t.Errorf("Read(%d, upTo %d, max %d, minOne %v) = %v, want %v", tc.offset, tc.upTo, tc.maxBytes, tc.minOne, got, tc.want)
		}
	}
	for _, off := range []int64{-1, 9, math.MaxInt64} {
		if data, err := l.Read(off, 8, big, true); !partlog.IsOutOfRange(err) || data != nil {
			t.Errorf("Read(%d): %d bytes, %v", off, len(data), err)
		}
	}
	// The returned bytes are a copy: scribbling on them leaves the log intact.
	data, _ := l.Read(0, 8, big, false)
	for i := range data {
		data[i] = 0xee
	}
	if got := read(t, l, 0, 8, big, false); !slices.Equal(got, span(0, 8)) {
		t.Fatalf("log changed through a Read result: %v", got)
	}
}

func TestBatches(t *testing.T) {
	l := singles(t, partlog.DefaultConfig(), 2, 5, t0) // [0 1] [2 3] [4]
	collect := func(from int64, limit int) []int64 {
		var bases []int64
		l.Batches(from, func(b partlog.Batch) bool {
			if h := header(t, b.Raw); h.FirstOffset != b.Base || b.Last != b.Base || b.MaxTimestamp != t0 {
				t.Fatalf("batch %+v does not match its header (base %d)", b, h.FirstOffset)
			}
			bases = append(bases, b.Base)
			return len(bases) < limit
		})
		return bases
	}
	for _, tc := range []struct {
		from  int64
		limit int
		want  []int64
	}{
		{0, 10, []int64{0, 1, 2, 3, 4}},
		{3, 10, []int64{3, 4}},
		{0, 2, []int64{0, 1}},
		{5, 10, nil},
	} {
		if got := collect(tc.from, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("Batches(%d) limit %d: %v, want %v", tc.from, tc.limit, got, tc.want)
		}
	}
}

func TestOffsetForTimestampAndMaxTimestamp(t *testing.T) {
	l := partlog.New(dir, cfg(1<<30, 7*day, -1, -1))
	add(t, l, buildTS(t0+100, t0+100), t0)         // 0, 1
	add(t, l, buildTS(t0+200, t0+400, t0+300), t0) // 2, 3, 4
	add(t, l, buildTS(t0+250), t0)                 // 5
	add(t, l, buildTS(t0+400), t0)                 // 6: ties the max; the first one wins
	gz := record.Build(record.Batch{Compression: record.Gzip, Records: []record.Record{
		{Timestamp: t0 + 500, Value: []byte("a")}, {Timestamp: t0 + 600, Value: []byte("b")},
	}})
	add(t, l, gz, t0) // 7, 8
	lat := buildTS(t0+1, t0+2)
	record.SetLogAppendTime(lat, t0+700)
	add(t, l, lat, t0) // 9, 10 both at t0+700
	end := l.LogEndOffset()
	if end != 11 {
		t.Fatalf("log end %d", end)
	}
	for _, tc := range []struct {
		ts, upTo, wantOff, wantTs int64
	}{
		{0, end, 0, t0 + 100},
		{t0 + 100, end, 0, t0 + 100},
		{t0 + 101, end, 2, t0 + 200},
		{t0 + 201, end, 3, t0 + 400}, // the first offset at or after, not the closest timestamp
		{t0 + 350, end, 3, t0 + 400},
		{t0 + 401, end, 7, t0 + 500},
		{t0 + 501, end, 8, t0 + 600}, // inside a gzip batch
		{t0 + 601, end, 9, t0 + 700}, // LogAppendTime: every record has the batch time
		{t0 + 701, end, -1, -1},
		{t0 + 201, 2, -1, -1}, // the batch holding a match is at or above upTo
		{t0 + 401, 7, -1, -1},
	} {
		if o, ts := l.OffsetForTimestamp(tc.ts, tc.upTo); o != tc.wantOff || ts != tc.wantTs {
			t.Errorf("OffsetForTimestamp(%d, upTo %d) = %d, %d; want %d, %d", tc.ts-t0, tc.upTo, o, ts-t0, tc.wantOff, tc.wantTs-t0)
		}
	}
	for _, tc := range []struct {
		upTo, wantOff, wantTs int64
	}{
		{end, 9, t0 + 700},
		{9, 8, t0 + 600},
		{7, 3, t0 + 400}, // offset 6 ties with 3: the first one
		{2, 0, t0 + 100},
		{0, -1, -1},
	} {
		if o, ts := l.MaxTimestamp(tc.upTo); o != tc.wantOff || ts != tc.wantTs {
			t.Errorf("MaxTimestamp(upTo %d) = %d, %d; want %d, %d", tc.upTo, o, ts-t0, tc.wantOff, tc.wantTs-t0)
		}
	}
}

func TestOffsetForTimestampAfterRetention(t *testing.T) {
	l := singles(t, cfg(0, 7*day, 1000, -1), 1, 3, t0)
	add(t, l, build(t0+5000, 1, "v"), t0+5000) // offset 3, young
	if d := l.ApplyRetention(t0+5000, 4); len(d) != 3 {
		t.Fatalf("deleted %+v", d)
	}
	if o, ts := l.OffsetForTimestamp(0, 4); o != 3 || ts != t0+5000 {
		t.Fatalf("OffsetForTimestamp below the log start: %d %d", o, ts)
	}
	if o, ts := l.MaxTimestamp(4); o != 3 || ts != t0+5000 {
		t.Fatalf("MaxTimestamp after retention: %d %d", o, ts)
	}
}

func TestRollOnSegmentBytes(t *testing.T) {
	l := partlog.New(dir, cfg(2*one, 7*day, -1, -1))
	l.Writes()
	for i, wantRolled := range []bool{false, false, true, false, true} {
		base, _, rolled := add(t, l, build(t0, 1, "v"), t0)
		if base != int64(i) || rolled != wantRolled {
			t.Fatalf("append %d: base %d rolled %v, want rolled %v", i, base, rolled, wantRolled)
		}
		w := l.Writes()
		if rolled {
			// The new segment object is created before the batch goes in.
			if len(w) != 2 || w[0].Op != storage.OpAppend || w[0].Name != segName(base) || len(w[0].Data) != 0 ||
				w[1].Op != storage.OpAppend || w[1].Name != segName(base) || len(w[1].Data) != int(one) {
				t.Fatalf("append %d: roll writes %+v", i, w)
			}
		} else if len(w) != 1 || w[0].Name != segName(base&^1) {
			t.Fatalf("append %d: writes %+v", i, w)
		}
	}
	want := []partlog.SegmentInfo{
		{Base: 0, Next: 2, Bytes: 2 * one, Batches: 2, MaxTimestamp: t0},
		{Base: 2, Next: 4, Bytes: 2 * one, Batches: 2, MaxTimestamp: t0},
		{Base: 4, Next: 5, Bytes: one, Batches: 1, MaxTimestamp: t0},
	}
	if got := l.Segments(); !slices.Equal(got, want) {
		t.Fatalf("segments %+v, want %+v", got, want)
	}

	// A batch larger than segment.bytes still goes in (never an empty
	// segment left behind): one batch per segment.
	l = partlog.New(dir, cfg(one/2, 7*day, -1, -1))
	for i := 0; i < 3; i++ {
		if _, _, rolled := add(t, l, build(t0, 1, "v"), t0); rolled != (i > 0) {
			t.Fatalf("oversized batch %d: rolled %v", i, rolled)
		}
	}
	for _, s := range l.Segments() {
		if s.Batches != 1 || s.Next != s.Base+1 {
			t.Fatalf("oversized batches: segments %+v", l.Segments())
		}
	}
}

func TestRollOnSegmentMs(t *testing.T) {
	l := partlog.New(dir, cfg(1<<30, 1000, -1, -1))
	for _, tc := range []struct {
		ts     int64
		rolled bool
	}{
		{t0, false},
		{t0 + 1000, false}, // exactly segment.ms after the first batch: not yet
		{t0 + 1001, true},
		{t0 + 1500, false}, // the new segment's clock starts at its first batch
		{t0 + 2002, true},
	} {
		if _, _, rolled := add(t, l, build(tc.ts, 1, "v"), tc.ts); rolled != tc.rolled {
			t.Fatalf("append at +%d: rolled %v, want %v", tc.ts-t0, rolled, tc.rolled)
		}
	}
	if segs := l.Segments(); len(segs) != 3 || segs[1].Base != 2 || segs[2].Base != 4 {
		t.Fatalf("segments %+v", segs)
	}
	// segment.ms -1 is not a Kafka value, but the log treats any negative
	// value as "never roll on time".
	l = partlog.New(dir, cfg(1<<30, -1, -1, -1))
	add(t, l, build(t0, 1, "v"), t0)
	if _, _, rolled := add(t, l, build(t0+100*day, 1, "v"), t0+100*day); rolled {
		t.Fatal("rolled with segment.ms < 0")
	}
}

// Kafka rolls on time when the incoming batch's max timestamp is more than
// segment.ms after the max timestamp of the segment's first batch; the broker
// clock matters only when that first batch has no timestamp
// (LogSegment.timeWaitedForRoll, UnifiedLog.append passes
// appendInfo.maxTimestamp). Replaying week-old data must not give every batch
// its own segment.
func TestSegmentMsComparesBatchTimestamps(t *testing.T) {
	l := partlog.New(dir, cfg(1<<30, 1000, -1, -1))
	old := t0 - 30*day
	for i := int64(0); i < 3; i++ {
		if _, _, rolled := add(t, l, build(old+i, 1, "v"), t0+i); rolled {
			t.Errorf("append %d of old records 1 ms apart rolled a segment (segment.ms=1000)", i)
		}
	}
	if n := len(l.Segments()); n != 1 {
		t.Errorf("%d segments for 3 batches within 2 ms of each other, want 1", n)
	}
}

// Records may carry no timestamp (-1, RecordBatch.NO_TIMESTAMP): the broker
// accepts them with CreateTime. Kafka then measures segment.ms from the
// segment's creation on the broker clock, not from timestamp -1.
func TestNoTimestampBatchesDoNotRollEveryAppend(t *testing.T) {
	l := partlog.New(dir, partlog.DefaultConfig())
	for i := int64(0); i < 3; i++ {
		if _, _, rolled := add(t, l, build(-1, 1, "v"), t0+i); rolled {
			t.Errorf("append %d: a batch without timestamps rolled a segment 1 ms after the previous one (segment.ms = 7 days)", i)
		}
	}
	if n := len(l.Segments()); n != 1 {
		t.Errorf("%d segments, want 1", n)
	}
	// ... and roll once segment.ms has passed on the broker clock since the
	// segment was created.
	l = partlog.New(dir, cfg(1<<30, 1000, -1, -1))
	add(t, l, build(-1, 1, "v"), t0)
	if _, _, rolled := add(t, l, build(-1, 1, "v"), t0+1000); rolled {
		t.Error("rolled exactly segment.ms after the segment was created")
	}
	if _, _, rolled := add(t, l, build(-1, 1, "v"), t0+1001); !rolled {
		t.Error("no roll segment.ms + 1 after the segment was created")
	}
}

// Kafka's retention.ms uses a segment's largest record timestamp, or the
// segment file's last modification time when no record has one
// (LogSegment.largestTimestamp). A segment of timestamp-less records
// appended a moment ago must not be expired as if it were from 1970.
func TestRetentionMsKeepsBatchesWithoutTimestamps(t *testing.T) {
	l := partlog.New(dir, partlog.DefaultConfig())
	add(t, l, build(-1, 2, "v"), t0)
	if d := l.ApplyRetention(t0+1000, l.LogEndOffset()); len(d) != 0 {
		t.Fatalf("retention.ms=7d deleted a segment written 1 s ago: %+v", d)
	}
	// The last append counts, as a file's modification time would.
	add(t, l, build(-1, 1, "v"), t0+day)
	if d := l.ApplyRetention(t0+8*day, l.LogEndOffset()); len(d) != 0 {
		t.Fatalf("deleted 7 days after the first append but 6 after the last: %+v", d)
	}
	if d := l.ApplyRetention(t0+8*day+1, l.LogEndOffset()); len(d) != 1 || d[0].Reason != "retention.ms" {
		t.Fatalf("not deleted retention.ms after the last append: %+v", d)
	}
}

func TestRetentionByTime(t *testing.T) {
	l := partlog.New(dir, cfg(one, 7*day, 1000, -1)) // one batch per segment
	for _, ts := range []int64{t0, t0 + 500, t0 + 1500} {
		add(t, l, build(ts, 1, "v"), ts)
	}
	l.Writes()
	if d := l.ApplyRetention(t0+1000, 3); len(d) != 0 {
		t.Fatalf("deleted at exactly retention.ms: %+v", d)
	}
	d := l.ApplyRetention(t0+1001, 3)
	if !slices.Equal(d, []partlog.Deletion{{Base: 0, Next: 1, Reason: "retention.ms"}}) {
		t.Fatalf("deleted %+v", d)
	}
	if w := l.Writes(); len(w) != 1 || w[0].Op != storage.OpRemove || w[0].Name != segName(0) {
		t.Fatalf("writes %+v", w)
	}
	if l.LogStartOffset() != 1 || l.LogEndOffset() != 3 || l.Size() != 2*one {
		t.Fatalf("start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	d = l.ApplyRetention(t0+2000, 3)
	if !slices.Equal(d, []partlog.Deletion{{Base: 1, Next: 2, Reason: "retention.ms"}}) {
		t.Fatalf("second pass deleted %+v", d)
	}
	for _, off := range []int64{0, 1} {
		if _, err := l.Read(off, 3, 1<<20, true); !partlog.IsOutOfRange(err) {
			t.Fatalf("Read(%d) below log start: %v", off, err)
		}
	}
	if got := read(t, l, 2, 3, 1<<20, true); !slices.Equal(got, []int64{2}) {
		t.Fatalf("read after retention: %v", got)
	}
}

// UnifiedLog.deletableSegments scans oldest first and stops at the first
// segment it keeps, even if a later one is older.
func TestRetentionStopsAtFirstKeptSegment(t *testing.T) {
	l := partlog.New(dir, cfg(one, 7*day, 1000, -1))
	add(t, l, build(t0+5000, 1, "v"), t0) // young
	add(t, l, build(t0, 1, "v"), t0)      // old
	add(t, l, build(t0+5000, 1, "v"), t0)
	if d := l.ApplyRetention(t0+3000, 3); len(d) != 0 {
		t.Fatalf("deleted past a kept segment: %+v", d)
	}
}

func TestRetentionNeverReachesHighWatermark(t *testing.T) {
	old := t0 - 30*day
	l := singles(t, cfg(0, 7*day, 1000, 0), 1, 3, old) // [0] [1] [2], all expired by time and by size
	if d := l.ApplyRetention(t0, 0); len(d) != 0 {
		t.Fatalf("hw 0: deleted %+v", d)
	}
	d := l.ApplyRetention(t0, 1)
	if len(d) != 1 || d[0].Base != 0 || d[0].Next != 1 {
		t.Fatalf("hw 1: deleted %+v", d)
	}
	if l.LogStartOffset() != 1 {
		t.Fatalf("log start %d", l.LogStartOffset())
	}

	// A segment holding the high watermark stays even if older offsets in
	// it are committed.
	l = partlog.New(dir, cfg(1<<30, 7*day, 1000, -1))
	add(t, l, build(old, 3, "v"), old) // 0..2
	if d := l.ApplyRetention(t0, 2); len(d) != 0 {
		t.Fatalf("deleted a segment holding offset 2 with hw 2: %+v", d)
	}
}

func TestRetentionRollsBeforeDeletingEverything(t *testing.T) {
	store := storage.NewMemory()
	old := t0 - 30*day
	l := partlog.New(dir, partlog.DefaultConfig())
	add(t, l, build(old, 2, "v"), old)
	add(t, l, build(old, 2, "v"), old) // one segment, offsets 0..3
	persist(t, store, l)

	d := l.ApplyRetention(t0, 4)
	if !slices.Equal(d, []partlog.Deletion{{Base: 0, Next: 4, Reason: "retention.ms"}}) {
		t.Fatalf("deleted %+v", d)
	}
	w := persist(t, store, l)
	if len(w) != 2 || w[0].Op != storage.OpAppend || w[0].Name != segName(4) || len(w[0].Data) != 0 ||
		w[1].Op != storage.OpRemove || w[1].Name != segName(0) {
		t.Fatalf("writes %+v: want the new active segment created, then the old one removed", w)
	}
	if l.LogStartOffset() != 4 || l.LogEndOffset() != 4 || l.Size() != 0 {
		t.Fatalf("start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if got := l.Segments(); !slices.Equal(got, []partlog.SegmentInfo{{Base: 4, Next: 4, MaxTimestamp: -1}}) {
		t.Fatalf("segments %+v", got)
	}
	if data, err := l.Read(4, 4, 1<<20, true); err != nil || len(data) != 0 {
		t.Fatalf("read at the end: %d bytes %v", len(data), err)
	}
	// Nothing more to delete, and no roll loop on the empty segment.
	if d := l.ApplyRetention(t0+100*day, 4); len(d) != 0 || len(l.Writes()) != 0 {
		t.Fatalf("second pass deleted %+v", d)
	}
	// Offsets keep counting, in the object created by the roll.
	if base, _, rolled := add(t, l, build(t0, 1, "v"), t0); base != 4 || rolled {
		t.Fatalf("next append at %d rolled %v", base, rolled)
	}
	persist(t, store, l)
	if names, _ := store.List(dir + "/"); !slices.Equal(names, []string{segName(4)}) {
		t.Fatalf("store holds %v", names)
	}
	r, recs, err := partlog.Open(store, dir, partlog.DefaultConfig())
	if err != nil || len(recs) != 0 || r.LogStartOffset() != 4 || r.LogEndOffset() != 5 {
		t.Fatalf("reopened: %v %+v start %d end %d", err, recs, r.LogStartOffset(), r.LogEndOffset())
	}
}

func TestRetentionBySize(t *testing.T) {
	for _, tc := range []struct {
		limit     int64
		hw        int64
		wantStart int64
	}{
		{2 * one, 5, 3},   // Kafka deletes while size - segment >= retention.bytes
		{2*one + 1, 5, 2}, // never part of a segment: 3 segments stay, over the limit
		{5 * one, 5, 0},   // at the limit: nothing
		{0, 5, 5},         // everything: roll first
		{0, 2, 2},         // ... but never at or above the high watermark
		{4*one + 1, 5, 0}, // less than one segment over
		{4*one - 1, 5, 1}, // just over one segment
		{-1, 5, 0},        // no limit
		{math.MaxInt64, 5, 0},
	} {
		t.Run(fmt.Sprintf("limit=%d,hw=%d", tc.limit, tc.hw), func(t *testing.T) {
			l := singles(t, cfg(0, 7*day, -1, tc.limit), 1, 5, t0) // five one-batch segments
			d := l.ApplyRetention(t0, tc.hw)
			if l.LogStartOffset() != tc.wantStart || l.LogEndOffset() != 5 {
				t.Fatalf("start %d end %d, want start %d", l.LogStartOffset(), l.LogEndOffset(), tc.wantStart)
			}
			if int64(len(d)) != tc.wantStart {
				t.Fatalf("deleted %+v", d)
			}
			for i, del := range d {
				if del != (partlog.Deletion{Base: int64(i), Next: int64(i) + 1, Reason: "retention.bytes"}) {
					t.Fatalf("deletion %d: %+v", i, del)
				}
			}
			if l.Size() != (5-tc.wantStart)*one {
				t.Fatalf("size %d", l.Size())
			}
		})
	}
}

func TestRetentionDisabled(t *testing.T) {
	l := singles(t, cfg(0, 7*day, -1, -1), 1, 3, t0-1000*day)
	if d := l.ApplyRetention(t0, 3); len(d) != 0 {
		t.Fatalf("retention.ms=-1 retention.bytes=-1 deleted %+v", d)
	}
}

// state is everything observable about a log, for comparing a log with its
// reopened copy.
func state(t *testing.T, l *partlog.Log) string {
	t.Helper()
	data, err := l.Read(l.LogStartOffset(), l.LogEndOffset(), math.MaxInt32, false)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("start %d end %d size %d segments %+v data %x", l.LogStartOffset(), l.LogEndOffset(), l.Size(), l.Segments(), data)
}

func TestOpenRestoresWhatWritesDescribe(t *testing.T) {
	store := storage.NewMemory()
	c := cfg(3*one, 7*day, 1000, -1)
	l := partlog.New(dir, c)
	for i := int64(0); i < 8; i++ {
		add(t, l, build(t0+i*100, 1, "v"), t0+i*100)
	}
	l.ApplyRetention(t0+1500, 8) // the first segment [0, 3) expires
	if l.LogStartOffset() != 3 {
		t.Fatalf("log start %d", l.LogStartOffset())
	}
	persist(t, store, l)
	// A neighbour partition in the same store is not this log's business.
	other := partlog.New("logs/t-1", c)
	add(t, other, build(t0, 1, "v"), t0)
	if err := storage.Apply(store, other.Writes()); err != nil {
		t.Fatal(err)
	}

	r, recs, err := partlog.Open(store, dir, c)
	if err != nil || len(recs) != 0 {
		t.Fatalf("Open: %v %+v", err, recs)
	}
	if w := r.Writes(); len(w) != 0 {
		t.Fatalf("clean open queued writes %+v", w)
	}
	if got, want := state(t, r), state(t, l); got != want {
		t.Fatalf("reopened\n%s\nwant\n%s", got, want)
	}
	// Both continue identically: same offsets, same objects, and the
	// reopened log rolls where the original does.
	for _, x := range []*partlog.Log{l, r} {
		for i, want := range []bool{false, true} {
			base, _, rolled := add(t, x, build(t0+900, 1, "v"), t0+900)
			if base != int64(8+i) || rolled != want {
				t.Fatalf("append %d after reopen: base %d rolled %v", i, base, rolled)
			}
		}
	}
	wl, wr := l.Writes(), r.Writes()
	if fmt.Sprint(wl) != fmt.Sprint(wr) {
		t.Fatalf("writes differ after reopen:\n%v\n%v", wl, wr)
	}
}

func TestOpenEmptyStore(t *testing.T) {
	l, recs, err := partlog.Open(storage.NewMemory(), dir, partlog.DefaultConfig())
	if err != nil || len(recs) != 0 || l.LogEndOffset() != 0 || l.LogStartOffset() != 0 {
		t.Fatalf("Open on an empty store: %v %+v", err, recs)
	}
	if w := l.Writes(); len(w) != 2 || w[1].Op != storage.OpAppend || w[1].Name != segName(0) {
		t.Fatalf("writes %+v: the first segment must be created as New does", w)
	}
}

// damaged builds a persisted log of single-record batches, perSeg per
// segment, lets damage change the store, and opens it again.
func damaged(t *testing.T, perSeg int64, n int, damage func(store *storage.Memory)) (*storage.Memory, *partlog.Log, []partlog.Recovery, []storage.Write) {
	t.Helper()
	store := storage.NewMemory()
	l := singles(t, cfg(0, 7*day, -1, -1), perSeg, n, t0)
	persist(t, store, l)
	damage(store)
	r, recs, err := partlog.Open(store, dir, cfg(perSeg*one, 7*day, -1, -1))
	if err != nil {
		t.Fatal(err)
	}
	return store, r, recs, r.Writes()
}

func mutate(t *testing.T, store *storage.Memory, name string, fn func([]byte) []byte) {
	t.Helper()
	data, err := store.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(name, fn(data)); err != nil {
		t.Fatal(err)
	}
}

// checkRecovered applies the recovery writes and checks that a second Open
// finds the same log and nothing to recover, and that appends after recovery
// survive yet another Open.
func checkRecovered(t *testing.T, store *storage.Memory, r *partlog.Log, w []storage.Write, perSeg int64) {
	t.Helper()
	if err := storage.Apply(store, w); err != nil {
		t.Fatal(err)
	}
	c := cfg(perSeg*one, 7*day, -1, -1)
	again, recs, err := partlog.Open(store, dir, c)
	if err != nil || len(recs) != 0 {
		t.Fatalf("second Open: %v, recoveries %+v", err, recs)
	}
	if got, want := state(t, again), state(t, r); got != want {
		t.Fatalf("second Open\n%s\nwant\n%s", got, want)
	}
	end := r.LogEndOffset()
	if base, _, _ := add(t, r, build(t0, 1, "v"), t0); base != end {
		t.Fatalf("append after recovery at %d, want %d", base, end)
	}
	persist(t, store, r)
	third, recs, err := partlog.Open(store, dir, c)
	if err != nil || len(recs) != 0 {
		t.Fatalf("Open after appending to a recovered log: %v, recoveries %+v", err, recs)
	}
	if got, want := state(t, third), state(t, r); got != want {
		t.Fatalf("Open after appending to a recovered log\n%s\nwant\n%s", got, want)
	}
	if got := read(t, third, third.LogStartOffset(), third.LogEndOffset(), math.MaxInt32, false); !slices.Equal(got, span(third.LogStartOffset(), end+1)) {
		t.Fatalf("offsets after recovery and append: %v", got)
	}
}

func TestOpenTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep int64 // bytes of the third batch left
	}{
		{"cut in the records", one - 5},
		{"cut in the header", 20},
		{"cut in the length", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, r, recs, w := damaged(t, 10, 3, func(s *storage.Memory) {
				mutate(t, s, segName(0), func(b []byte) []byte { return b[:2*one+tc.keep] })
			})
			want := []partlog.Recovery{{Segment: segName(0), TruncatedBytes: tc.keep, NextOffset: 2, Reason: recs[0].Reason}}
			if !slices.Equal(recs, want) || recs[0].Reason == "" {
				t.Fatalf("recoveries %+v, want %+v", recs, want)
			}
			if !slices.EqualFunc(w, []storage.Write{{Op: storage.OpTruncate, Name: segName(0), Size: 2 * one}}, writeEq) {
				t.Fatalf("writes %+v", w)
			}
			if r.LogEndOffset() != 2 || r.Size() != 2*one {
				t.Fatalf("end %d size %d", r.LogEndOffset(), r.Size())
			}
			checkRecovered(t, store, r, w, 10)
		})
	}
	// Trailing garbage too short to be a batch header.
	t.Run("garbage tail", func(t *testing.T) {
		store, r, recs, w := damaged(t, 10, 3, func(s *storage.Memory) {
			mutate(t, s, segName(0), func(b []byte) []byte { return append(b, 0, 0, 0, 9, 1, 2) })
		})
		if len(recs) != 1 || recs[0].TruncatedBytes != 6 || recs[0].NextOffset != 3 || r.LogEndOffset() != 3 {
			t.Fatalf("recoveries %+v end %d", recs, r.LogEndOffset())
		}
		checkRecovered(t, store, r, w, 10)
	})
}

func writeEq(a, b storage.Write) bool {
	return a.Op == b.Op && a.Name == b.Name && a.Size == b.Size && bytes.Equal(a.Data, b.Data)
}

func TestOpenBadCRCInLastSegment(t *testing.T) {
	// Segments [0 1 2 3] [4 5 6 7]; a bit flips in the record bytes of
	// offset 5: the last segment keeps offset 4 only.
	store, r, recs, w := damaged(t, 4, 8, func(s *storage.Memory) {
		mutate(t, s, segName(4), func(b []byte) []byte { b[one+one-3] ^= 0x40; return b })
	})
	if len(recs) != 1 || recs[0].Segment != segName(4) || recs[0].TruncatedBytes != 3*one || recs[0].NextOffset != 5 || recs[0].Reason == "" {
		t.Fatalf("recoveries %+v", recs)
	}
	if !slices.EqualFunc(w, []storage.Write{{Op: storage.OpTruncate, Name: segName(4), Size: one}}, writeEq) {
		t.Fatalf("writes %+v", w)
	}
	if r.LogStartOffset() != 0 || r.LogEndOffset() != 5 || len(r.Segments()) != 2 {
		t.Fatalf("start %d end %d segments %+v", r.LogStartOffset(), r.LogEndOffset(), r.Segments())
	}
	checkRecovered(t, store, r, w, 4)
}

func TestOpenCorruptNonLastSegment(t *testing.T) {
	// Segments [0 1] [2 3] [4 5]; the CRC of offset 3 breaks.
	store, r, recs, w := damaged(t, 2, 6, func(s *storage.Memory) {
		mutate(t, s, segName(2), func(b []byte) []byte { b[one+25] ^= 1; return b })
	})
	if len(recs) != 2 ||
		recs[0].Segment != segName(2) || recs[0].TruncatedBytes != one || recs[0].NextOffset != 3 || recs[0].Reason == "" ||
		recs[1].Segment != segName(4) || recs[1].NextOffset != 3 || recs[1].Reason == "" {
		t.Fatalf("recoveries %+v", recs)
	}
	want := []storage.Write{{Op: storage.OpTruncate, Name: segName(2), Size: one}, {Op: storage.OpRemove, Name: segName(4)}}
	if !slices.EqualFunc(w, want, writeEq) {
		t.Fatalf("writes %+v, want %+v", w, want)
	}
	if r.LogEndOffset() != 3 || !slices.Equal(r.Segments(), []partlog.SegmentInfo{
		{Base: 0, Next: 2, Bytes: 2 * one, Batches: 2, MaxTimestamp: t0},
		{Base: 2, Next: 3, Bytes: one, Batches: 1, MaxTimestamp: t0},
	}) {
		t.Fatalf("end %d segments %+v", r.LogEndOffset(), r.Segments())
	}
	checkRecovered(t, store, r, w, 2)
	if names, _ := store.List(dir + "/"); !slices.Equal(names, []string{segName(0), segName(2)}) {
		t.Fatalf("store holds %v", names)
	}
}

func TestOpenFirstSegmentUnreadable(t *testing.T) {
	// Retention moved the log start to 2; then the first remaining segment
	// is garbage from its first byte.
	store := storage.NewMemory()
	l := singles(t, cfg(0, 7*day, 1, -1), 2, 6, t0)
	l.ApplyRetention(t0+10, 2)
	persist(t, store, l)
	mutate(t, store, segName(2), func(b []byte) []byte { b[30] ^= 1; return b })
	r, recs, err := partlog.Open(store, dir, cfg(2*one, 7*day, 1, -1))
	if err != nil || len(recs) != 2 || recs[0].TruncatedBytes != 2*one {
		t.Fatalf("Open: %v %+v", err, recs)
	}
	if r.LogStartOffset() != 2 || r.LogEndOffset() != 2 || r.Size() != 0 {
		t.Fatalf("start %d end %d size %d", r.LogStartOffset(), r.LogEndOffset(), r.Size())
	}
	checkRecovered(t, store, r, r.Writes(), 2)
}

func TestOpenBatchAtWrongOffset(t *testing.T) {
	// A valid batch whose base offset is below the next offset (a segment
	// object written by something else, or a stale copy). A batch after a
	// gap is no damage: compaction leaves gaps.
	store, r, recs, w := damaged(t, 10, 2, func(s *storage.Memory) {
		b := build(t0, 1, "v")
		record.SetBaseOffset(b, 1) // outside the CRC: still a valid batch
		if err := s.Append(segName(0), b); err != nil {
			t.Fatal(err)
		}
	})
	if len(recs) != 1 || recs[0].TruncatedBytes != one || recs[0].NextOffset != 2 || r.LogEndOffset() != 2 {
		t.Fatalf("recoveries %+v end %d", recs, r.LogEndOffset())
	}
	checkRecovered(t, store, r, w, 10)
}

// A segment that starts after the end of the previous one is what
// compaction leaves when it removes the last batches of a segment: Open
// keeps it, Read skips the gap, and the log end is the last segment's.
// (Kafka's recovery does not require contiguous offsets either; a lost
// middle segment looks the same and cannot be told apart.)
func TestOpenGapBetweenSegments(t *testing.T) {
	_, r, recs, w := damaged(t, 10, 3, func(s *storage.Memory) {
		for off := int64(10); off < 12; off++ {
			b := build(t0, 1, "v")
			record.SetBaseOffset(b, off)
			if err := s.Append(segName(10), b); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(recs) != 0 || len(w) != 0 {
		t.Errorf("recoveries %+v writes %+v", recs, w)
	}
	if r.LogEndOffset() != 12 {
		t.Errorf("log end %d, want 12", r.LogEndOffset())
	}
	if got := read(t, r, 5, r.LogEndOffset(), 1<<20, true); !slices.Equal(got, []int64{10, 11}) {
		t.Errorf("Read(5) inside the gap: %v, want [10 11]", got)
	}
	if got := read(t, r, 0, r.LogEndOffset(), 1<<20, true); !slices.Equal(got, []int64{0, 1, 2, 10, 11}) {
		t.Errorf("Read(0): %v", got)
	}
}

func TestOpenIgnoresUnrelatedObjects(t *testing.T) {
	unrelated := map[string][]byte{
		dir + "/notes.txt":                        []byte("hello"),
		dir + "/abc.log":                          []byte("not a segment"),
		dir + "/-0000000000000000001.log":         []byte("negative base"),
		dir + "/00000000000000000000.index":       {1, 2, 3},
		dir + "/00000000000000000000.log.deleted": {4, 5},
		dir + "/sub/00000000000000000000.log":     build(t0, 1, "nested"),
		dir + "0/00000000000000000000.log":        build(t0, 1, "sibling with a common prefix"),
		"logs/t-0.log":                            []byte("next to the directory"),
	}
	store, r, recs, w := damaged(t, 10, 2, func(s *storage.Memory) {
		for name, data := range unrelated {
			if err := s.Put(name, data); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(recs) != 0 || len(w) != 0 || r.LogEndOffset() != 2 || r.Size() != 2*one {
		t.Fatalf("recoveries %+v writes %+v end %d size %d", recs, w, r.LogEndOffset(), r.Size())
	}
	checkRecovered(t, store, r, w, 10)
	for name, data := range unrelated {
		if got, err := store.Read(name); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
}

// Open accepts any "<number>.log" as a segment (as Kafka's LogLoader does),
// but appends and removals always use the 20-digit name, so a segment named
// otherwise is read from one object and written to another. Either ignore
// such names or keep the name that was read; the observable contract is that
// a reopened log equals the log that wrote the store.
func TestOpenNonCanonicalSegmentName(t *testing.T) {
	store, r, recs, w := damaged(t, 10, 3, func(s *storage.Memory) {
		b := build(t0, 1, "v")
		record.SetBaseOffset(b, 3)
		if err := s.Put(dir+"/3.log", b); err != nil {
			t.Fatal(err)
		}
	})
	if len(recs) != 0 {
		t.Fatalf("recoveries %+v", recs)
	}
	checkRecovered(t, store, r, w, 10)
}

// The same defect when a segment starts below the end of the previous one
// (an overlap, e.g. a stale copy of an old segment): Open keeps it as an
// empty active segment at its own base, so the log end moves backwards from
// 3 to 2 and the next append reuses offset 2, which is still stored in the
// first segment. Offsets must never be reused.
func TestOpenOverlappingSegments(t *testing.T) {
	_, r, recs, _ := damaged(t, 10, 3, func(s *storage.Memory) {
		b := build(t0, 1, "v")
		record.SetBaseOffset(b, 2)
		if err := s.Put(segName(2), b); err != nil {
			t.Fatal(err)
		}
	})
	if len(recs) != 1 || recs[0].Segment != segName(2) || recs[0].NextOffset != 3 {
		t.Errorf("recoveries %+v", recs)
	}
	if r.LogEndOffset() != 3 {
		t.Errorf("log end %d, want 3: offsets 0..2 are in the first segment", r.LogEndOffset())
	}
	if base, _, _ := add(t, r, build(t0, 1, "v"), t0); base < 3 {
		t.Errorf("append after Open got offset %d, which the first segment already holds", base)
	}
}

// checkingStore is a store that checks what it keeps (as IndexedDB's does):
// reading bad's object gives the bytes before its damage, at keep, and
// storage.ErrCorrupt.
type checkingStore struct {
	*storage.Memory
	bad  string
	keep int
}

func (s checkingStore) Read(name string) ([]byte, error) {
	b, err := s.Memory.Read(name)
	if err != nil || name != s.bad {
		return b, err
	}
	return b[:s.keep], fmt.Errorf("checkingStore: %w", storage.ErrCorrupt)
}

// TestOpenStoreFoundDamage: damage the store finds (storage.ErrCorrupt) is
// recovered like a torn tail: the log keeps what came before it, the later
// segments go, and the replica fetches the rest from its leader.
func TestOpenStoreFoundDamage(t *testing.T) {
	for _, keep := range []int64{2 * one, 2*one + 7} { // on a batch boundary, or in a batch
		mem := storage.NewMemory()
		persist(t, mem, singles(t, cfg(0, 7*day, -1, -1), 4, 8, t0))
		store := checkingStore{Memory: mem, bad: segName(0), keep: int(keep)}
		r, recs, err := partlog.Open(store, dir, cfg(4*one, 7*day, -1, -1))
		if err != nil {
			t.Fatalf("keep %d: open: %v", keep, err)
		}
		if len(recs) == 0 || recs[0].Segment != segName(0) || recs[0].NextOffset != 2 || recs[0].Reason == "" {
			t.Fatalf("keep %d: recoveries %+v", keep, recs)
		}
		if keep == 2*one && !strings.Contains(recs[0].Reason, "corrupt") {
			t.Errorf("keep %d: reason %q, want the store's", keep, recs[0].Reason)
		}
		if r.LogEndOffset() != 2 {
			t.Fatalf("keep %d: log end %d, want 2 (the batches before the damage)", keep, r.LogEndOffset())
		}
		if !slices.ContainsFunc(r.Writes(), func(w storage.Write) bool { return w.Op == storage.OpRemove && w.Name == segName(4) }) {
			t.Errorf("keep %d: writes %+v: the segment after the damage must go", keep, r.Writes())
		}
	}
}
