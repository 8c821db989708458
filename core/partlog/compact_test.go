package partlog_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
)

// kv makes a record from "k=v"; "k" alone is a tombstone (null value) and
// "=v" has a null key.
func kv(ts int64, spec string) record.Record {
	k, v, hasValue := strings.Cut(spec, "=")
	r := record.Record{Timestamp: ts, Key: []byte(k)}
	if k == "" {
		r.Key = nil
	}
	if hasValue {
		r.Value = []byte(v)
	}
	return r
}

func kvBatch(ts int64, specs ...string) []byte {
	return kvProducerBatch(nil, ts, specs...)
}

func kvProducerBatch(p *record.Producer, ts int64, specs ...string) []byte {
	recs := make([]record.Record, len(specs))
	for i, s := range specs {
		recs[i] = kv(ts, s)
	}
	return record.Build(record.Batch{Producer: p, Records: recs})
}

// compactCfg is cleanup.policy=compact with Kafka's defaults otherwise, no
// time-based roll, and segments of segBytes.
func compactCfg(segBytes int64) partlog.Config {
	c := partlog.DefaultConfig()
	c.CleanupPolicy = partlog.Compact
	c.SegmentBytes, c.SegmentMs = segBytes, -1
	return c
}

// contents lists every record of the log as "offset:key=value" ("offset:key"
// for a tombstone).
func contents(t *testing.T, l *partlog.Log) []string {
	t.Helper()
	var out []string
	l.Batches(l.LogStartOffset(), func(b partlog.Batch) bool {
		h := header(t, b.Raw)
		if h.FirstOffset != b.Base || h.FirstOffset+int64(h.LastOffsetDelta) != b.Last {
			t.Fatalf("batch [%d, %d] has header [%d +%d]", b.Base, b.Last, h.FirstOffset, h.LastOffsetDelta)
		}
		recs, err := record.StoredRecords(h)
		if err != nil {
			t.Fatalf("batch at %d: %v", b.Base, err)
		}
		for _, r := range recs {
			s := fmt.Sprintf("%d:%s", b.Base+int64(r.OffsetDelta), r.Key)
			if r.Value != nil {
				s += "=" + string(r.Value)
			}
			out = append(out, s)
		}
		return true
	})
	return out
}

// sizeOf is the size of a batch, to size segments in batches.
func sizeOf(raw []byte) int64 { return int64(len(raw)) }

func TestCompact(t *testing.T) {
	// Every batch is one record of the same size; segments hold perSeg of
	// them; the last batch is in the active segment.
	unit := sizeOf(kvBatch(t0, "k1=a"))
	for _, tc := range []struct {
		name    string
		perSeg  int64
		recs    []string
		hw      int64 // -1: the log end
		want    []string
		removed int
		noPass  bool
	}{
		{
			name:   "latest value per key, offsets kept, active segment untouched",
			perSeg: 1,
			recs:   []string{"k1=a", "k2=b", "k1=c", "k3=d", "k2=e", "k1=f"},
			hw:     -1,
			// k1=c stays: k1=f is in the active segment, which is not
			// cleaned and not in the offset map.
			want:    []string{"2:k1=c", "3:k3=d", "4:k2=e", "5:k1=f"},
			removed: 2,
		},
		{
			name:    "segments grouped up to segment.bytes",
			perSeg:  2,
			recs:    []string{"k1=a", "k2=b", "k1=c", "k2=d", "k1=e", "k3=f", "k9=z"},
			hw:      -1,
			want:    []string{"3:k2=d", "4:k1=e", "5:k3=f", "6:k9=z"},
			removed: 3,
		},
		{
			name:    "never at or above the high watermark",
			perSeg:  1,
			recs:    []string{"k1=a", "k1=b", "k1=c", "k1=d", "k9=z"},
			hw:      3, // segments [0] [1] [2] end at or below 3
			want:    []string{"2:k1=c", "3:k1=d", "4:k9=z"},
			removed: 2,
		},
		{
			name:    "records without a key are dropped",
			perSeg:  1,
			recs:    []string{"=x", "k1=a", "=y", "k9=z"},
			hw:      -1,
			want:    []string{"1:k1=a", "3:k9=z"},
			removed: 2,
		},
		{
			name:   "duplicates only in the active segment: no pass",
			perSeg: 100,
			recs:   []string{"k1=a", "k1=b", "k1=c"},
			hw:     -1,
			want:   []string{"0:k1=a", "1:k1=b", "2:k1=c"},
			noPass: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := partlog.New(dir, compactCfg(tc.perSeg*unit))
			for _, r := range tc.recs {
				add(t, l, kvBatch(t0, r), t0)
			}
			hw := tc.hw
			if hw < 0 {
				hw = l.LogEndOffset()
			}
			end, segs := l.LogEndOffset(), len(l.Segments())
			l.Writes()
			c, ok := l.Compact(t0, hw)
			if ok == tc.noPass {
				t.Fatalf("pass ran: %v, want %v (%+v)", ok, !tc.noPass, c)
			}
			if got := contents(t, l); !slices.Equal(got, tc.want) {
				t.Fatalf("after cleaning %v, want %v", got, tc.want)
			}
			if c.RecordsRemoved != tc.removed || len(c.Removed) != tc.removed {
				t.Fatalf("removed %d %v, want %d", c.RecordsRemoved, c.Removed, tc.removed)
			}
			if l.LogEndOffset() != end || l.LogStartOffset() != 0 {
				t.Fatalf("log [%d, %d), want [0, %d)", l.LogStartOffset(), l.LogEndOffset(), end)
			}
			if w := l.Writes(); !ok && (len(w) != 0 || len(l.Segments()) != segs) {
				t.Fatalf("no pass, but the log changed: %+v", w)
			}
			checkReopen(t, l)
		})
	}
}

// checkReopen persists l into a fresh store, reopens it, and compares.
func checkReopen(t *testing.T, l *partlog.Log) *partlog.Log {
	t.Helper()
	store := storage.NewMemory()
	// Write the log as it is now: one Put per segment.
	for _, s := range l.Segments() {
		var data []byte
		l.Batches(s.Base, func(b partlog.Batch) bool {
			if b.Base >= s.Next {
				return false
			}
			data = append(data, b.Raw...)
			return true
		})
		if err := store.Put(segName(s.Base), data); err != nil {
			t.Fatal(err)
		}
	}
	r, recs, err := partlog.Open(store, dir, compactCfg(1<<20))
	if err != nil || len(recs) != 0 {
		t.Fatalf("reopen: %v %+v", err, recs)
	}
	if got, want := contents(t, r), contents(t, l); !slices.Equal(got, want) {
		t.Fatalf("reopened %v, want %v", got, want)
	}
	if r.LogEndOffset() != l.LogEndOffset() || r.LogStartOffset() != l.LogStartOffset() {
		t.Fatalf("reopened [%d, %d), want [%d, %d)", r.LogStartOffset(), r.LogEndOffset(), l.LogStartOffset(), l.LogEndOffset())
	}
	return r
}

func TestCompactTombstones(t *testing.T) {
	l := partlog.New(dir, compactCfg(1))
	for _, r := range []string{"k1=a", "k2=b", "k1", "k3=c", "k9=z"} {
		add(t, l, kvBatch(t0, r), t0)
	}
	c, ok := l.Compact(t0, l.LogEndOffset())
	if !ok || c.Reason != "min.cleanable.dirty.ratio" || c.TombstonesRemoved != 0 {
		t.Fatalf("first pass %v %+v", ok, c)
	}
	// The tombstone stays for delete.retention.ms (1 day) after this first
	// cleaning; the value it deletes goes at once.
	want := []string{"1:k2=b", "2:k1", "3:k3=c", "4:k9=z"}
	if got := contents(t, l); !slices.Equal(got, want) {
		t.Fatalf("after the first pass %v, want %v", got, want)
	}
	// Its batch carries the delete horizon (KIP-534); record timestamps are
	// unchanged.
	l.Batches(2, func(b partlog.Batch) bool {
		h := header(t, b.Raw)
		recs, _ := record.StoredRecords(h)
		if h.Attributes&record.AttrDeleteHorizon == 0 || h.FirstTimestamp != t0+day || record.RecordTimestamp(h, recs[0]) != t0 || h.MaxTimestamp != t0 {
			t.Fatalf("tombstone batch attributes %#x base timestamp %d", h.Attributes, h.FirstTimestamp)
		}
		return false
	})
	if c, ok := l.Compact(t0+day-1, l.LogEndOffset()); ok {
		t.Fatalf("a pass before the horizon: %+v", c)
	}
	c, ok = l.Compact(t0+day, l.LogEndOffset())
	if !ok || c.Reason != "delete.retention.ms" || c.TombstonesRemoved != 1 || !slices.Equal(c.Removed, []int64{2}) {
		t.Fatalf("pass at the horizon %v %+v", ok, c)
	}
	want = []string{"1:k2=b", "3:k3=c", "4:k9=z"}
	if got := contents(t, l); !slices.Equal(got, want) {
		t.Fatalf("after the horizon %v, want %v", got, want)
	}
	if c, ok := l.Compact(t0+2*day, l.LogEndOffset()); ok {
		t.Fatalf("a pass with nothing to do: %+v", c)
	}
	checkReopen(t, l)
}

func TestCompactKeepsProducerState(t *testing.T) {
	l := partlog.New(dir, compactCfg(1))
	batches := [][]byte{
		kvProducerBatch(&record.Producer{ID: 7, Epoch: 1, BaseSequence: 0}, t0, "k1=a", "k2=b"),
		kvProducerBatch(&record.Producer{ID: 7, Epoch: 1, BaseSequence: 2}, t0, "k1=c", "k2=d", "k3=e"),
		kvProducerBatch(&record.Producer{ID: 8, Epoch: 0, BaseSequence: 0}, t0, "k1=f", "k2=g"),
		kvProducerBatch(&record.Producer{ID: 8, Epoch: 0, BaseSequence: 2}, t0, "k3=h"),
		kvProducerBatch(&record.Producer{ID: 9, Epoch: 0, BaseSequence: 0}, t0, "k9=z"),
	}
	for _, b := range batches {
		add(t, l, b, t0)
	}
	if _, ok := l.Compact(t0, l.LogEndOffset()); !ok {
		t.Fatal("no pass")
	}
	// Producer 7's first batch goes; its last one stays, empty, with its
	// offsets and sequence (BatchRetention.RETAIN_EMPTY); producer 8's
	// batches keep their headers.
	type hdr struct {
		base      int64
		lastDelta int32
		pid       int64
		epoch     int16
		seq       int32
		n         int32
	}
	var got []hdr
	l.Batches(0, func(b partlog.Batch) bool {
		h := header(t, b.Raw)
		got = append(got, hdr{h.FirstOffset, h.LastOffsetDelta, h.ProducerID, h.ProducerEpoch, h.FirstSequence, h.NumRecords})
		return true
	})
	want := []hdr{{2, 2, 7, 1, 2, 0}, {5, 1, 8, 0, 0, 2}, {7, 0, 8, 0, 2, 1}, {8, 0, 9, 0, 0, 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("batches %+v, want %+v", got, want)
	}
	if got, want := contents(t, l), []string{"5:k1=f", "6:k2=g", "7:k3=h", "8:k9=z"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	checkReopen(t, l)
}

func TestCompactKeepsEpochStarts(t *testing.T) {
	l := partlog.New(dir, compactCfg(1))
	for i, spec := range []string{"k1=a", "k1=b", "k1=c", "k1=d", "k9=z"} {
		raw := kvBatch(t0, spec)
		record.SetPartitionLeaderEpoch(raw, int32(1+i/2)) // epochs 1 1 2 2 3
		add(t, l, raw, t0)
	}
	if _, ok := l.Compact(t0, l.LogEndOffset()); !ok {
		t.Fatal("no pass")
	}
	// Offset 2 (k1=c) starts epoch 2: it stays as an empty batch so that
	// the epoch cache rebuilt on open is the same.
	r := checkReopen(t, l)
	for _, e := range []int32{0, 1, 2, 3} {
		ge, go_ := l.EndOffsetForEpoch(e)
		re, ro := r.EndOffsetForEpoch(e)
		if ge != re || go_ != ro {
			t.Fatalf("epoch %d: %d %d before reopen, %d %d after", e, ge, go_, re, ro)
		}
	}
	if got, want := contents(t, l), []string{"3:k1=d", "4:k9=z"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
}

func TestCompactDirtyRatioAndLags(t *testing.T) {
	unit := sizeOf(kvBatch(t0, "k1=a"))
	setup := func(c partlog.Config) *partlog.Log {
		l := partlog.New(dir, c)
		for _, spec := range []string{"k1=a", "k2=a", "k3=a", "k4=a", "k9=z"} {
			add(t, l, kvBatch(t0, spec), t0)
		}
		if _, ok := l.Compact(t0, l.LogEndOffset()); !ok {
			t.Fatal("first pass")
		}
		if l.CleanerCheckpoint() != 4 {
			t.Fatalf("checkpoint %d", l.CleanerCheckpoint())
		}
		// One dirty segment [4] behind four clean ones: ratio 1/5.
		add(t, l, kvBatch(t0+1000, "k1=b"), t0+1000)
		return l
	}
	c := compactCfg(unit)
	l := setup(c)
	if x, ok := l.Compact(t0+2000, l.LogEndOffset()); ok {
		t.Fatalf("ratio 0.2 cleaned at min.cleanable.dirty.ratio 0.5: %+v", x)
	}
	c.MinCleanableDirtyRatio = 0.1
	l = setup(c)
	if x, ok := l.Compact(t0+2000, l.LogEndOffset()); !ok || x.DirtyRatio != 0.2 || x.RecordsRemoved != 0 || x.CleanedUpTo != 5 {
		t.Fatalf("ratio 0.2 at 0.1: %v %+v", ok, x)
	}
	// max.compaction.lag.ms: the dirty segment's first batch (t0) waited
	// longer than the lag.
	c = compactCfg(unit)
	c.MaxCompactionLagMs = 500
	l = setup(c)
	if x, ok := l.Compact(t0+2000, l.LogEndOffset()); !ok || x.Reason != "max.compaction.lag.ms" {
		t.Fatalf("max.compaction.lag.ms: %v %+v", ok, x)
	}
	// min.compaction.lag.ms: a dirty segment with records younger than the
	// lag is not cleaned yet.
	c = compactCfg(unit)
	c.MinCompactionLagMs = 5000
	l = partlog.New(dir, c)
	for _, spec := range []string{"k1=a", "k1=b", "k9=z"} {
		add(t, l, kvBatch(t0, spec), t0)
	}
	if x, ok := l.Compact(t0+4999, l.LogEndOffset()); ok {
		t.Fatalf("cleaned within min.compaction.lag.ms: %+v", x)
	}
	if x, ok := l.Compact(t0+5000, l.LogEndOffset()); !ok || x.RecordsRemoved != 1 {
		t.Fatalf("after min.compaction.lag.ms: %v %+v", ok, x)
	}
}

func TestCompactAndDelete(t *testing.T) {
	unit := sizeOf(kvBatch(t0, "k1=a"))
	for _, p := range []partlog.Policy{partlog.Compact, partlog.Compact | partlog.Delete} {
		c := compactCfg(unit)
		c.CleanupPolicy, c.RetentionMs = p, 1000
		l := partlog.New(dir, c)
		add(t, l, kvBatch(t0, "k1=a"), t0)
		add(t, l, kvBatch(t0, "k2=a"), t0)
		add(t, l, kvBatch(t0+5000, "k1=b"), t0+5000)
		add(t, l, kvBatch(t0+5000, "k9=z"), t0+5000)
		del := l.ApplyRetention(t0+5000, l.LogEndOffset())
		x, ok := l.Compact(t0+5000, l.LogEndOffset())
		switch p.String() {
		case "compact":
			if len(del) != 0 || !ok || !slices.Equal(contents(t, l), []string{"1:k2=a", "2:k1=b", "3:k9=z"}) {
				t.Fatalf("compact: deleted %+v, cleaned %+v, left %v", del, x, contents(t, l))
			}
		case "compact,delete":
			// retention.ms takes [0] and [1]; the cleaner then finds one
			// dirty segment with nothing to remove.
			if len(del) != 2 || l.LogStartOffset() != 2 || !ok || !slices.Equal(contents(t, l), []string{"2:k1=b", "3:k9=z"}) {
				t.Fatalf("compact,delete: deleted %+v, cleaned %+v, left %v", del, x, contents(t, l))
			}
		default:
			t.Fatal(p)
		}
	}
	// A delete-only log is never compacted.
	c := compactCfg(unit)
	c.CleanupPolicy = partlog.Delete
	l := partlog.New(dir, c)
	for _, spec := range []string{"k1=a", "k1=b", "k9=z"} {
		add(t, l, kvBatch(t0, spec), t0)
	}
	if x, ok := l.Compact(t0, l.LogEndOffset()); ok {
		t.Fatalf("delete policy compacted: %+v", x)
	}
}

func TestCompactGzipAndHeaders(t *testing.T) {
	l := partlog.New(dir, compactCfg(1))
	gz := record.Build(record.Batch{Compression: record.Gzip, Records: []record.Record{
		{Timestamp: t0, Key: []byte("k1"), Value: []byte("a")},
		{Timestamp: t0 + 7, Key: []byte("k2"), Value: []byte("b"), Headers: []kmsg.Header{{Key: "h", Value: []byte("v")}, {Key: "n"}}},
	}})
	add(t, l, gz, t0)
	add(t, l, kvBatch(t0, "k1=c"), t0)
	add(t, l, kvBatch(t0, "k9=z"), t0)
	if _, ok := l.Compact(t0, l.LogEndOffset()); !ok {
		t.Fatal("no pass")
	}
	l.Batches(0, func(b partlog.Batch) bool {
		h := header(t, b.Raw)
		recs, err := record.StoredRecords(h)
		if err != nil || record.CompressionOf(h.Attributes) != record.Gzip || len(recs) != 1 || h.LastOffsetDelta != 1 {
			t.Fatalf("cleaned gzip batch: %v, %v, %d records, last delta %d", err, record.CompressionOf(h.Attributes), len(recs), h.LastOffsetDelta)
		}
		r := recs[0]
		if r.OffsetDelta != 1 || string(r.Key) != "k2" || record.RecordTimestamp(h, r) != t0+7 || h.MaxTimestamp != t0+7 ||
			len(r.Headers) != 2 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "v" || r.Headers[1].Value != nil {
			t.Fatalf("kept record %+v in %+v", r, h)
		}
		return false
	})
	checkReopen(t, l)
}

func TestCompactedLogQueries(t *testing.T) {
	l := partlog.New(dir, compactCfg(1))
	for i, spec := range []string{"k1=a", "k2=a", "k1=b", "k2=b", "k9=z"} {
		add(t, l, kvBatch(t0+int64(i)*10, spec), t0)
	}
	l.Compact(t0, l.LogEndOffset())
	// Offsets 0 and 1 are gone: reads and timestamps skip the gap.
	if got := read(t, l, 0, l.LogEndOffset(), 1<<20, true); !slices.Equal(got, []int64{2, 3, 4}) {
		t.Fatalf("Read(0) %v", got)
	}
	if got := read(t, l, 1, l.LogEndOffset(), 1, true); !slices.Equal(got, []int64{2}) {
		t.Fatalf("Read(1) one batch %v", got)
	}
	if o, ts := l.OffsetForTimestamp(t0, l.LogEndOffset()); o != 2 || ts != t0+20 {
		t.Fatalf("OffsetForTimestamp(t0) %d %d", o, ts)
	}
	if o, ts := l.MaxTimestamp(l.LogEndOffset()); o != 4 || ts != t0+40 {
		t.Fatalf("MaxTimestamp %d %d", o, ts)
	}
	// A follower truncating below the checkpoint makes what follows dirty.
	if l.CleanerCheckpoint() != 4 {
		t.Fatalf("checkpoint %d", l.CleanerCheckpoint())
	}
	l.Writes()
	l.TruncateTo(3)
	if l.CleanerCheckpoint() != 3 {
		t.Fatalf("checkpoint after truncation %d", l.CleanerCheckpoint())
	}
	if w := l.Writes(); len(w) == 0 || w[len(w)-1].Op != storage.OpPut || w[len(w)-1].Name != dir+"/cleaner-offset-checkpoint" {
		t.Fatalf("writes %+v", w)
	}
}

// snapshot copies every object of s.
func snapshot(t *testing.T, s storage.Store) *storage.Memory {
	t.Helper()
	out := storage.NewMemory()
	names, err := s.List("")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		data, err := s.Read(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Put(n, data); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// latest maps each key to its last record ("offset:key=value") in l.
func latest(t *testing.T, l *partlog.Log) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range contents(t, l) {
		k, _, _ := strings.Cut(r[strings.IndexByte(r, ':')+1:], "=")
		m[k] = r
	}
	return m
}

// TestCompactCrashSafety stops a cleaning pass after every prefix of its
// writes, as a crash would, and reopens: the latest record of every key must
// be there (or, for a key whose last record is a tombstone, nothing newer
// than it), every record must be one the log held, and recovery must leave a
// store that reopens cleanly.
func TestCompactCrashSafety(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	overlaps := 0 // segments left over by a crash in the middle of a group
	for round := 0; round < 20; round++ {
		unit := sizeOf(kvBatch(t0, "k1=a"))
		c := compactCfg(3 * unit)
		store := storage.NewMemory()
		l := partlog.New(dir, c)
		now := t0
		fill := func(n int) {
			for i := 0; i < n; i++ {
				spec := fmt.Sprintf("k%d=%c", rnd.IntN(6), 'a'+rnd.IntN(26))
				if rnd.IntN(5) == 0 {
					spec = fmt.Sprintf("k%d", rnd.IntN(6)) // tombstone
				}
				add(t, l, kvBatch(now, spec), now)
			}
			persist(t, store, l)
		}
		fill(15 + rnd.IntN(10))
		if round%2 == 1 { // a pass before, so that tombstones have horizons and groups merge
			l.Compact(now, l.LogEndOffset())
			persist(t, store, l)
			fill(10 + rnd.IntN(10))
			now += day
		}
		// Clean with larger segments than were written, so that groups of
		// several segments merge into one.
		c.SegmentBytes = int64(3+3*(round%3)) * unit
		var err error
		if l, _, err = partlog.Open(store, dir, c); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, store)
		all := map[string]bool{}
		for _, r := range contents(t, l) {
			all[r] = true
		}
		want := latest(t, l)
		x, ok := l.Compact(now, l.LogEndOffset())
		if !ok {
			t.Fatalf("round %d: no pass", round)
		}
		w := l.Writes()
		if len(w) < 2 {
			t.Fatalf("round %d: writes %+v", round, w)
		}
		after := latest(t, l)
		for k, r := range want {
			if after[k] != r && !(after[k] == "" && !strings.Contains(r, "=")) {
				t.Fatalf("round %d: key %s: %q after cleaning, %q before", round, k, after[k], r)
			}
		}
		for k := 0; k <= len(w); k++ {
			s := snapshot(t, before)
			if err := storage.Apply(s, w[:k]); err != nil {
				t.Fatal(err)
			}
			r, recs, err := partlog.Open(s, dir, c)
			if err != nil {
				t.Fatalf("round %d, %d of %d writes: %v", round, k, len(w), err)
			}
			overlaps += len(recs)
			got := latest(t, r)
			for key, rec := range want {
				tomb := !strings.Contains(rec, "=")
				if got[key] != rec && !(tomb && got[key] == "") {
					t.Fatalf("round %d, crash after %d of %d writes %v: key %s is %q, want %q", round, k, len(w), w[:k], key, got[key], rec)
				}
			}
			for _, rec := range contents(t, r) {
				if !all[rec] {
					t.Fatalf("round %d, %d writes: record %s was never written", round, k, rec)
				}
			}
			if r.LogEndOffset() != l.LogEndOffset() {
				t.Fatalf("round %d, %d writes: log end %d, want %d", round, k, r.LogEndOffset(), l.LogEndOffset())
			}
			if k == len(w) && !slices.Equal(contents(t, r), contents(t, l)) {
				t.Fatalf("round %d: reopened after every write\n%v\nwant\n%v", round, contents(t, r), contents(t, l))
			}
			if err := storage.Apply(s, r.Writes()); err != nil {
				t.Fatal(err)
			}
			again, recs, err := partlog.Open(s, dir, c)
			if err != nil || len(recs) != 0 {
				t.Fatalf("round %d, %d writes: second open %v %+v", round, k, err, recs)
			}
			if state(t, again) != state(t, r) {
				t.Fatalf("round %d, %d writes: second open differs", round, k)
			}
		}
		_ = x
	}
	if overlaps < 20 {
		t.Fatalf("only %d crashes left overlapping segments: the test does not exercise recovery", overlaps)
	}
}

func TestCheckpointSurvivesReopen(t *testing.T) {
	store := storage.NewMemory()
	c := compactCfg(1)
	l := partlog.New(dir, c)
	for _, spec := range []string{"k1=a", "k1=b", "k9=z"} {
		add(t, l, kvBatch(t0, spec), t0)
	}
	l.Compact(t0, l.LogEndOffset())
	persist(t, store, l)
	r, _, err := partlog.Open(store, dir, c)
	if err != nil || r.CleanerCheckpoint() != 2 {
		t.Fatalf("reopened checkpoint %d, %v", r.CleanerCheckpoint(), err)
	}
	if x, ok := r.Compact(t0, r.LogEndOffset()); ok {
		t.Fatalf("reopened log cleaned again: %+v", x)
	}
	// A new log of the same directory (a topic deleted and created again)
	// removes the old checkpoint.
	persist(t, store, partlog.New(dir, c))
	if _, err := store.Read(dir + "/cleaner-offset-checkpoint"); err == nil {
		t.Fatal("checkpoint of a deleted log survived")
	}
	// Damaged checkpoints are ignored.
	for _, data := range []string{"", "0\n1\nt-0 x\n", "0\n1\nt-1 1\n", "0\n1\nt-0 99\n"} {
		s := snapshot(t, store)
		s.Put(dir+"/cleaner-offset-checkpoint", []byte(data))
		r, _, err := partlog.Open(s, dir, c)
		if err != nil || r.CleanerCheckpoint() != r.LogStartOffset() {
			t.Fatalf("checkpoint %q: %d, %v", data, r.CleanerCheckpoint(), err)
		}
	}
}

func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte("0\n1\nt-0 42\n"))
	f.Add([]byte("0\n1\nt-0 -1\n"))
	f.Add([]byte("0\n1\nt-0 +4\n"))
	f.Add([]byte("0\n2\nt-0 4\nt-1 5\n"))
	f.Add([]byte("1\n1\nt-0 9223372036854775807\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		store := storage.NewMemory()
		l := partlog.New(dir, compactCfg(1<<20))
		for _, spec := range []string{"k1=a", "k1=b"} {
			add(t, l, kvBatch(t0, spec), t0)
		}
		persist(t, store, l)
		if err := store.Put(dir+"/cleaner-offset-checkpoint", data); err != nil {
			t.Fatal(err)
		}
		r, _, err := partlog.Open(store, dir, compactCfg(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		cp := r.CleanerCheckpoint()
		if cp < r.LogStartOffset() || cp > r.LogEndOffset() {
			t.Fatalf("checkpoint %d outside [%d, %d]", cp, r.LogStartOffset(), r.LogEndOffset())
		}
		if want := fmt.Sprintf("0\n1\nt-0 %d\n", cp); cp != 0 && string(data) != want {
			t.Fatalf("%q read as %d", data, cp)
		}
		r.Compact(math.MaxInt64/2, r.LogEndOffset())
		checkLog(t, r)
	})
}
