package partlog_test

import (
	"math"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/record/recordtest"
	"github.com/streamlab/streamlab/core/storage"
)

// Fuzz mode bits.
const (
	fuzzTwoSegments = 1 << iota // store b as a second segment
	fuzzFixCRC                  // recompute batch CRCs so damage reaches the decoders
)

// contiguousEnd is the offset after the leading batches of seg whose offsets
// follow each other from base: where a second segment can start without a
// gap. It only steers the fuzzer; Open decides for itself.
func contiguousEnd(seg []byte, base int64) int64 {
	next := base
	record.Iterate(seg, func(h kmsg.RecordBatch, _ []byte) bool {
		if h.FirstOffset != next || h.LastOffsetDelta < 0 {
			return false
		}
		next = h.FirstOffset + int64(h.LastOffsetDelta) + 1
		return true
	})
	return next
}

func fuzzSeeds(f *testing.F) {
	// A valid two-segment log: [0 1 2] [3 4].
	l := partlog.New(dir, cfg(3*one, 7*day, -1, -1))
	for i := 0; i < 5; i++ {
		l.Append(build(t0, 1, "v"), mustHeader(build(t0, 1, "v")), t0)
	}
	store := storage.NewMemory()
	storage.Apply(store, l.Writes())
	seg0, _ := store.Read(segName(0))
	seg3, _ := store.Read(segName(3))

	flip := func(b []byte, i int) []byte { b = append([]byte(nil), b...); b[i] ^= 1; return b }
	multi := func() []byte { // one batch of three records, then a gzip batch
		l := partlog.New(dir, partlog.DefaultConfig())
		l.Append(buildTS(t0, t0+1, t0+2), mustHeader(buildTS(t0, t0+1, t0+2)), t0)
		gz := record.Build(record.Batch{Compression: record.Gzip, Records: []record.Record{{Timestamp: t0, Value: []byte("z")}}})
		l.Append(gz, mustHeader(gz), t0)
		s := storage.NewMemory()
		storage.Apply(s, l.Writes())
		b, _ := s.Read(segName(0))
		return b
	}()

	f.Add(seg0, seg3, uint8(fuzzTwoSegments), int16(0))               // valid
	f.Add(seg0, []byte(nil), uint8(0), int16(0))                      // one valid segment
	f.Add([]byte(nil), []byte(nil), uint8(fuzzTwoSegments), int16(0)) // two empty segments
	f.Add(multi, []byte(nil), uint8(0), int16(0))
	f.Add(seg0[:len(seg0)-4], seg3, uint8(fuzzTwoSegments), int16(0)) // torn non-last
	f.Add(seg0, seg3[:len(seg3)-4], uint8(fuzzTwoSegments), int16(0)) // torn tail
	f.Add(flip(seg0, 30), seg3, uint8(fuzzTwoSegments), int16(0))     // bad CRC
	f.Add(flip(seg0, 30), seg3, uint8(fuzzTwoSegments|fuzzFixCRC), int16(0))
	f.Add(seg0, flip(seg3, int(one)+40), uint8(fuzzTwoSegments), int16(0))
	f.Add(flip(multi, 9), []byte(nil), uint8(fuzzFixCRC), int16(0))  // batch length changed, CRC fixed
	f.Add(flip(multi, 24), []byte(nil), uint8(fuzzFixCRC), int16(0)) // lastOffsetDelta changed, CRC fixed
	f.Add(seg0, seg3, uint8(fuzzTwoSegments), int16(-1))             // overlapping bases
	f.Add(seg0, []byte("garbage"), uint8(fuzzTwoSegments), int16(0))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), seg3, uint8(fuzzTwoSegments), int16(0))
}

func mustHeader(raw []byte) kmsg.RecordBatch {
	h, _, err := record.ParseBatch(raw)
	if err != nil {
		panic(err)
	}
	return h
}

// FuzzOpen stores arbitrary bytes as one or two segment objects and opens
// them: Open must not fail or panic, must present a log whose offsets are
// consistent and whose batches all parse, and must leave, once its recovery
// writes are applied, a store that opens to the same log with nothing more to
// recover, and that keeps what is appended next.
//
// The second segment's base is the offset where the first one's valid
// batches end plus gap, so that most inputs test contiguous segments; a
// non-zero gap tests a hole or an overlap between segments.
func FuzzOpen(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, a, b []byte, mode uint8, gap int16) {
		if mode&fuzzFixCRC != 0 {
			a, b = recordtest.FixCRCs(slices.Clone(a)), recordtest.FixCRCs(slices.Clone(b))
		}
		store := storage.NewMemory()
		if err := store.Put(segName(0), a); err != nil {
			t.Fatal(err)
		}
		if mode&fuzzTwoSegments != 0 {
			base := contiguousEnd(a, 0) + int64(gap)
			if base == 0 {
				return // same object
			}
			// A negative base gives a name Open must ignore.
			if err := store.Put(segName(base), b); err != nil {
				t.Fatal(err)
			}
		}
		c := cfg(1<<20, 7*day, -1, -1)
		l, _, err := partlog.Open(store, dir, c)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		checkLog(t, l)
		// Queries on whatever was found must not panic.
		l.OffsetForTimestamp(0, l.LogEndOffset())
		l.OffsetForTimestamp(t0, l.LogEndOffset())
		l.MaxTimestamp(l.LogEndOffset())
		want := state(t, l)

		if err := storage.Apply(store, l.Writes()); err != nil {
			t.Fatalf("applying recovery writes: %v", err)
		}
		again, recs, err := partlog.Open(store, dir, c)
		if err != nil || len(recs) != 0 {
			t.Fatalf("second Open: %v, recoveries %+v", err, recs)
		}
		if got := state(t, again); got != want {
			t.Fatalf("second Open\n%s\nwant\n%s", got, want)
		}
		if w := again.Writes(); len(w) != 0 {
			t.Fatalf("clean Open queued writes %+v", w)
		}

		end := l.LogEndOffset()
		if base, _, _ := l.Append(build(t0, 1, "v"), mustHeader(build(t0, 1, "v")), t0); base != end {
			t.Fatalf("append at %d, want the log end %d", base, end)
		}
		if err := storage.Apply(store, l.Writes()); err != nil {
			t.Fatal(err)
		}
		third, recs, err := partlog.Open(store, dir, c)
		if err != nil || len(recs) != 0 {
			t.Fatalf("Open after an append: %v, recoveries %+v", err, recs)
		}
		if got, want := state(t, third), state(t, l); got != want {
			t.Fatalf("Open after an append\n%s\nwant\n%s", got, want)
		}
	})
}

// checkLog verifies a log's invariants: start <= end, Read from the start
// returns whole batches that parse, hold offsets in [start, end) in order
// (with gaps, as compaction leaves them), and add up to Size; Segments agree.
func checkLog(t *testing.T, l *partlog.Log) {
	t.Helper()
	start, end := l.LogStartOffset(), l.LogEndOffset()
	if start > end {
		t.Fatalf("log start %d > log end %d", start, end)
	}
	data, err := l.Read(start, end, math.MaxInt32, false)
	if err != nil {
		t.Fatalf("Read(%d): %v", start, err)
	}
	if int64(len(data)) != l.Size() {
		t.Fatalf("Read returned %d bytes, size %d", len(data), l.Size())
	}
	next := start
	for rest := data; len(rest) > 0; {
		h, n, err := record.ParseBatch(rest)
		if err != nil {
			t.Fatalf("batch at %d does not parse: %v", next, err)
		}
		if h.FirstOffset < next || h.LastOffsetDelta < 0 {
			t.Fatalf("batch [%d +%d] where %d or later was expected", h.FirstOffset, h.LastOffsetDelta, next)
		}
		next = h.FirstOffset + int64(h.LastOffsetDelta) + 1
		rest = rest[n:]
	}
	if next > end {
		t.Fatalf("batches end at %d, log end %d", next, end)
	}
	segs := l.Segments()
	if len(segs) == 0 || segs[0].Base != start || segs[len(segs)-1].Next != end {
		t.Fatalf("segments %+v for [%d, %d)", segs, start, end)
	}
	var size int64
	for i, s := range segs {
		size += s.Bytes
		if s.Next < s.Base || (i > 0 && s.Base < segs[i-1].Next) {
			t.Fatalf("segments %+v", segs)
		}
	}
	if size != l.Size() {
		t.Fatalf("segments hold %d bytes, size %d", size, l.Size())
	}
}
