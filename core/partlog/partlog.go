// Package partlog is one partition's log: an append-only sequence of record
// batches (v2 format) split into segments, with offsets assigned here and never
// reused, time- and size-based retention, compaction (compact.go) and recovery
// of a torn tail.
//
// Every batch is kept in memory (Streamlab logs are small); the store is a
// write-behind copy: the log describes its changes as storage.Writes that the
// host persists before any acknowledgement leaves. Each segment is one store
// object "<dir>/<base offset, 20 digits>.log" holding concatenated batches, as
// in Kafka's log directory (indexes are rebuilt in memory on open).
package partlog

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
)

// Kafka's defaults (LogConfig / ServerLogConfigs).
const (
	DefaultSegmentBytes   = 1 << 30
	DefaultSegmentMs      = 7 * 24 * 60 * 60 * 1000
	DefaultRetentionMs    = 7 * 24 * 60 * 60 * 1000
	DefaultRetentionBytes = -1

	DefaultMinCleanableDirtyRatio = 0.5
	DefaultDeleteRetentionMs      = 24 * 60 * 60 * 1000
	DefaultMinCompactionLagMs     = 0
	DefaultMaxCompactionLagMs     = 1<<63 - 1 // Long.MAX_VALUE
)

// Policy is cleanup.policy: a set of Delete and Compact.
type Policy uint8

const (
	Delete  Policy = 1 << iota // segments expire by retention.ms and retention.bytes
	Compact                    // the cleaner keeps the last record of every key (compact.go)
)

// Deletes reports whether retention deletes segments. The zero Policy is
// Kafka's default, delete.
func (p Policy) Deletes() bool { return p == 0 || p&Delete != 0 }

// Compacts reports whether the log is compacted.
func (p Policy) Compacts() bool { return p&Compact != 0 }

// String is the policy as Kafka lists it: delete, compact or compact,delete.
func (p Policy) String() string {
	switch {
	case p.Compacts() && p.Deletes():
		return "compact,delete"
	case p.Compacts():
		return "compact"
	}
	return "delete"
}

// Config is the subset of topic configs the log enforces.
type Config struct {
	SegmentBytes   int64 // segment.bytes
	SegmentMs      int64 // segment.ms
	RetentionMs    int64 // retention.ms; -1 keeps forever
	RetentionBytes int64 // retention.bytes; -1 means no size limit

	CleanupPolicy          Policy  // cleanup.policy
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio
	DeleteRetentionMs      int64   // delete.retention.ms: how long tombstones outlive their first cleaning
	MinCompactionLagMs     int64   // min.compaction.lag.ms
	MaxCompactionLagMs     int64   // max.compaction.lag.ms
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes: DefaultSegmentBytes, SegmentMs: DefaultSegmentMs,
		RetentionMs: DefaultRetentionMs, RetentionBytes: DefaultRetentionBytes,
		CleanupPolicy:          Delete,
		MinCleanableDirtyRatio: DefaultMinCleanableDirtyRatio,
		DeleteRetentionMs:      DefaultDeleteRetentionMs,
		MinCompactionLagMs:     DefaultMinCompactionLagMs,
		MaxCompactionLagMs:     DefaultMaxCompactionLagMs,
	}
}

// Batch is one stored record batch.
type Batch struct {
	Base, Last   int64 // first and last offset
	MaxTimestamp int64
	Epoch        int32 // partitionLeaderEpoch: the leader epoch that wrote it
	Raw          []byte
}

type segment struct {
	name    string // its store object, l.segName(base), once appended to
	base    int64
	next    int64 // offset after the last batch (== base when empty)
	size    int64
	batches []Batch
	// created and modified are broker-clock times Kafka takes from the
	// file system (segment creation, mtime); they matter only for batches
	// without timestamps. -1 until first known: a recovered segment counts
	// from when the broker first looks at it.
	created, modified int64
}

// largestTimestamp is what retention.ms compares with: the largest record
// timestamp, or the last modification time if no record has one
// (LogSegment.largestTimestamp).
func (s *segment) largestTimestamp(now int64) int64 {
	if ts := s.maxTimestamp(); ts >= 0 {
		return ts
	}
	if s.modified < 0 {
		s.modified = now
	}
	return s.modified
}

func (s *segment) maxTimestamp() int64 {
	ts := int64(-1)
	for _, b := range s.batches {
		ts = max(ts, b.MaxTimestamp)
	}
	return ts
}

// SegmentInfo describes a segment for the UI.
type SegmentInfo struct {
	Base, Next   int64
	Bytes        int64
	Batches      int
	MaxTimestamp int64
}

// Deletion describes a segment removed by retention.
type Deletion struct {
	Base, Next int64
	Reason     string // retention.ms or retention.bytes
}

// Recovery describes a torn or corrupt tail cut off by Open.
type Recovery struct {
	Segment        string
	TruncatedBytes int64
	NextOffset     int64
	Reason         string
}

// Log is a partition log.
type Log struct {
	dir      string
	cfg      Config
	segs     []*segment // never empty: the last one is the active segment
	logStart int64
	epochs   []epochStart // leader epoch cache, see epochs.go
	size     int64
	// cleaned is the cleaner checkpoint: offsets below it were cleaned
	// (compact.go). It may lag behind the log start, or be ahead of the log
	// end after damage; the cleaner clamps it.
	cleaned int64
	writes  []storage.Write
}

// New creates an empty log whose first offset is 0. A cleaner checkpoint
// left by a deleted log of the same directory goes.
func New(dir string, cfg Config) *Log {
	l := &Log{dir: dir, cfg: cfg}
	l.segs = []*segment{{created: -1, modified: -1}}
	l.writes = append(l.writes,
		storage.Write{Op: storage.OpRemove, Name: l.checkpointName()},
		storage.Write{Op: storage.OpAppend, Name: l.segName(0)})
	return l
}

// Open rebuilds a log from store. A segment that ends in an invalid batch
// (torn write, bad CRC) is cut at the last valid batch and every later segment
// is dropped, as Kafka's recovery does; each cut is reported as a Recovery and
// its writes are queued like any other change.
//
// Offsets may have gaps, between batches and between segments: compaction
// removes batches (Kafka's recovery does not require contiguous offsets
// either). A segment that starts below the end of the one before it is the
// leftover of an interrupted cleaning (compact.go): the cleaned segment
// before it already holds what survived of it, so it alone is removed.
func Open(store storage.Store, dir string, cfg Config) (*Log, []Recovery, error) {
	names, err := store.List(dir + "/")
	if err != nil {
		return nil, nil, err
	}
	return OpenNames(store, dir, names, cfg)
}

// OpenNames is Open for a caller that already listed the store: names may hold
// objects of other directories, which are ignored. A broker with many
// partitions lists once instead of once per partition.
func OpenNames(store storage.Store, dir string, names []string, cfg Config) (*Log, []Recovery, error) {
	type obj struct {
		name string
		base int64
	}
	var objs []obj
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, dir+"/")
		if !ok || !strings.HasSuffix(rest, ".log") || strings.Contains(rest, "/") {
			continue
		}
		base, err := strconv.ParseInt(strings.TrimSuffix(rest, ".log"), 10, 64)
		if err != nil || base < 0 || rest != fmt.Sprintf("%020d.log", base) {
			continue // not a segment we wrote: leave it alone
		}
		objs = append(objs, obj{n, base})
	}
	if len(objs) == 0 {
		return New(dir, cfg), nil, nil
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].base < objs[j].base })

	l := &Log{dir: dir, cfg: cfg, logStart: objs[0].base}
	var recs []Recovery
	// drop removes objects that cannot follow the recovered log.
	drop := func(rest []obj, next int64, reason string) {
		for _, o := range rest {
			l.writes = append(l.writes, storage.Write{Op: storage.OpRemove, Name: o.name})
			recs = append(recs, Recovery{Segment: o.name, NextOffset: next, Reason: reason})
		}
	}
	for i, o := range objs {
		if i > 0 && o.base < l.active().next {
			next := l.active().next
			drop(objs[i:i+1], next, fmt.Sprintf("segment starts at %d but the segment before it ends at %d: left over from an interrupted cleaning", o.base, next))
			continue
		}
		data, err := store.Read(o.name)
		// A store that checks what it keeps returns the part before the
		// damage: recovered like a torn tail.
		var damage error
		if errors.Is(err, storage.ErrCorrupt) {
			damage = err
		} else if err != nil {
			return nil, nil, err
		}
		seg := &segment{base: o.base, next: o.base, created: -1, modified: -1}
		var reason string
		_, err = record.Iterate(data, func(h kmsg.RecordBatch, raw []byte) bool {
			if h.FirstOffset < seg.next || h.LastOffsetDelta < 0 {
				reason = fmt.Sprintf("batch at offset %d where %d or later was expected", h.FirstOffset, seg.next)
				return false
			}
			last := h.FirstOffset + int64(h.LastOffsetDelta)
			seg.batches = append(seg.batches, Batch{Base: h.FirstOffset, Last: last, MaxTimestamp: h.MaxTimestamp, Epoch: h.PartitionLeaderEpoch, Raw: raw})
			l.noteEpoch(h.PartitionLeaderEpoch, h.FirstOffset)
			seg.next = last + 1
			seg.size += int64(len(raw))
			return true
		})
		if reason == "" && err != nil {
			reason = err.Error()
		}
		if reason == "" && damage != nil {
			reason = damage.Error()
		}
		l.segs = append(l.segs, seg)
		l.size += seg.size
		if reason != "" || seg.size < int64(len(data)) {
			if reason == "" {
				reason = "invalid batch"
			}
			l.writes = append(l.writes, storage.Write{Op: storage.OpTruncate, Name: o.name, Size: seg.size})
			recs = append(recs, Recovery{Segment: o.name, TruncatedBytes: int64(len(data)) - seg.size, NextOffset: seg.next, Reason: reason})
			drop(objs[i+1:], seg.next, "follows a truncated segment")
			break
		}
	}
	if err := l.readCheckpoint(store, names); err != nil {
		return nil, nil, err
	}
	return l, recs, nil
}

// Writes returns and forgets the store changes made since the last call.
func (l *Log) Writes() []storage.Write {
	w := l.writes
	l.writes = nil
	return w
}

// LogStartOffset is the first offset still in the log.
func (l *Log) LogStartOffset() int64 { return l.logStart }

// LogEndOffset is the offset the next batch will get.
func (l *Log) LogEndOffset() int64 { return l.active().next }

// Size is the number of bytes in all segments.
func (l *Log) Size() int64 { return l.size }

// Segments describes the segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = SegmentInfo{Base: s.base, Next: s.next, Bytes: s.size, Batches: len(s.batches), MaxTimestamp: s.maxTimestamp()}
	}
	return out
}

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

func (l *Log) segName(base int64) string { return fmt.Sprintf("%s/%020d.log", l.dir, base) }

// Append stores one validated batch as a leader does, giving it the next
// offsets (the batch's base offset field is overwritten; it is outside the
// CRC) and recording h.PartitionLeaderEpoch in the epoch cache. now is the
// broker's clock, used for segment.ms. The log owns raw afterwards.
func (l *Log) Append(raw []byte, h kmsg.RecordBatch, now int64) (base, last int64, rolled bool) {
	base = l.LogEndOffset()
	record.SetBaseOffset(raw, base)
	rolled = l.appendAt(raw, h, base, now)
	return base, base + int64(h.LastOffsetDelta), rolled
}

// AppendReplicated stores a batch fetched from the leader as a follower does:
// its offsets are the leader's and must start at or after the log end (after
// it when the leader's log is compacted; Kafka's follower append checks only
// that offsets do not go backwards, UnexpectedAppendOffsetException).
func (l *Log) AppendReplicated(raw []byte, h kmsg.RecordBatch, now int64) (rolled bool, err error) {
	if h.FirstOffset < l.LogEndOffset() {
		return false, fmt.Errorf("partlog: replicated batch at offset %d, log end is %d", h.FirstOffset, l.LogEndOffset())
	}
	return l.appendAt(raw, h, h.FirstOffset, now), nil
}

func (l *Log) appendAt(raw []byte, h kmsg.RecordBatch, base, now int64) (rolled bool) {
	seg := l.active()
	if seg.created < 0 {
		seg.created = now
	}
	if len(seg.batches) > 0 && (seg.size+int64(len(raw)) > l.cfg.SegmentBytes || (l.cfg.SegmentMs >= 0 && seg.waited(now, h.MaxTimestamp) > l.cfg.SegmentMs)) {
		// Kafka rolls on size (segment.bytes) or on age (segment.ms,
		// LogSegment.shouldRoll).
		l.roll(now)
		seg = l.active()
		rolled = true
	}
	seg.modified = now
	last := base + int64(h.LastOffsetDelta)
	seg.batches = append(seg.batches, Batch{Base: base, Last: last, MaxTimestamp: h.MaxTimestamp, Epoch: h.PartitionLeaderEpoch, Raw: raw})
	l.noteEpoch(h.PartitionLeaderEpoch, base)
	seg.next = last + 1
	seg.size += int64(len(raw))
	l.size += int64(len(raw))
	if seg.name == "" {
		seg.name = l.segName(seg.base) // formatted once, not per append
	}
	l.writes = append(l.writes, storage.Write{Op: storage.OpAppend, Name: seg.name, Data: raw})
	return rolled
}

// waited is how old the segment is for segment.ms: the incoming batch's
// timestamp minus the first batch's, or broker time since creation when the
// first batch has no timestamp (LogSegment.timeWaitedForRoll).
func (s *segment) waited(now, incomingTs int64) int64 {
	if first := s.batches[0].MaxTimestamp; first >= 0 {
		return incomingTs - first
	}
	return now - s.created
}

// roll starts a new, empty active segment at the log end offset.
func (l *Log) roll(now int64) {
	next := l.active().next
	l.segs = append(l.segs, &segment{base: next, next: next, created: now, modified: now})
	l.writes = append(l.writes, storage.Write{Op: storage.OpAppend, Name: l.segName(next)})
}

// ErrOffsetOutOfRange is returned by Read for an offset outside
// [LogStartOffset, LogEndOffset].
var ErrOffsetOutOfRange = kerr.OffsetOutOfRange

// Read returns whole batches starting with the one that holds offset, stopping
// before upTo (the high watermark for consumers) and before maxBytes is
// exceeded, except that with minOne the first batch is returned even if it is
// larger than maxBytes so that a consumer can always make progress (KIP-74).
// Reading at the log end returns nothing.
//
// A single batch is returned as stored, without a copy (a producer's batches
// are often as large as a fetch's limit): the result must not be modified.
// Stored batches never are, so it stays valid after later appends,
// truncations, retention and compaction.
func (l *Log) Read(offset, upTo int64, maxBytes int, minOne bool) ([]byte, error) {
	if offset < l.logStart || offset > l.LogEndOffset() {
		return nil, ErrOffsetOutOfRange
	}
	// Two passes: pick the batches, then copy them into one buffer of the
	// right size (a 1 MiB fetch would otherwise reallocate as it grows).
	var first []byte
	var picked []Batch
	size := 0
	l.Batches(offset, func(b Batch) bool {
		if b.Last >= upTo || (size+len(b.Raw) > maxBytes && !(minOne && size == 0)) {
			return false
		}
		if first == nil {
			first = b.Raw
		} else {
			picked = append(picked, b)
		}
		size += len(b.Raw)
		return true
	})
	switch {
	case size == 0:
		return nil, nil
	case len(picked) == 0:
		return first[:len(first):len(first)], nil
	}
	out := make([]byte, 0, size)
	out = append(out, first...)
	for _, b := range picked {
		out = append(out, b.Raw...)
	}
	return out, nil
}

// Batches calls fn for every batch from offset on, oldest first, until fn
// returns false.
func (l *Log) Batches(offset int64, fn func(Batch) bool) {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].next > offset })
	for ; i < len(l.segs); i++ {
		bs := l.segs[i].batches
		j := sort.Search(len(bs), func(j int) bool { return bs[j].Last >= offset })
		for ; j < len(bs); j++ {
			if !fn(bs[j]) {
				return
			}
		}
	}
}

// OffsetForTimestamp returns the first offset whose record timestamp is >= ts
// and that timestamp, or (-1, -1) if there is none below upTo (ListOffsets).
func (l *Log) OffsetForTimestamp(ts, upTo int64) (offset, timestamp int64) {
	offset, timestamp = -1, -1
	l.Batches(l.logStart, func(b Batch) bool {
		if b.Base >= upTo {
			return false
		}
		if b.MaxTimestamp < ts {
			return true
		}
		h, _, err := record.ParseBatch(b.Raw)
		if err == nil {
			if recs, err := record.StoredRecords(h); err == nil {
				for _, r := range recs {
					o, t := b.Base+int64(r.OffsetDelta), record.RecordTimestamp(h, r)
					if t >= ts && o >= l.logStart && o < upTo {
						offset, timestamp = o, t
						return false
					}
				}
				// Compaction may have removed the records that made
				// maxTimestamp, or all of them: look further.
				return true
			}
		}
		// A batch we cannot decode (compression we do not support): its
		// base offset is the best answer, as Kafka's time index would give.
		offset, timestamp = max(b.Base, l.logStart), b.MaxTimestamp
		return false
	})
	return offset, timestamp
}

// MaxTimestamp returns the offset and timestamp of the record with the largest
// timestamp (ListOffsets -3, KIP-734), or (-1, -1) for an empty log.
func (l *Log) MaxTimestamp(upTo int64) (offset, timestamp int64) {
	offset, timestamp = -1, -1
	l.Batches(l.logStart, func(b Batch) bool {
		if b.Base >= upTo {
			return false
		}
		if b.MaxTimestamp > timestamp && recordCount(b.Raw) != 0 { // an empty batch left by compaction holds no record
			offset, timestamp = b.Last, b.MaxTimestamp
			if h, _, err := record.ParseBatch(b.Raw); err == nil {
				if recs, err := record.StoredRecords(h); err == nil {
					for _, r := range recs {
						if record.RecordTimestamp(h, r) == b.MaxTimestamp {
							offset = b.Base + int64(r.OffsetDelta)
							break
						}
					}
				}
			}
		}
		return true
	})
	return offset, timestamp
}

// ApplyRetention deletes the oldest segments that breach retention.ms or
// retention.bytes, never a segment holding offsets at or above hw, and
// returns what it deleted. It follows UnifiedLog.deletableSegments: segments
// are considered oldest first and the scan stops at the first one kept; a
// segment's offsets end where the next one starts (compaction leaves gaps);
// if every segment goes, a new empty active segment is rolled first so that
// offsets keep counting. A log whose cleanup.policy lacks delete keeps every
// segment.
func (l *Log) ApplyRetention(now, hw int64) []Deletion {
	if !l.cfg.CleanupPolicy.Deletes() {
		return nil
	}
	var out []Deletion
	sizeExcess := int64(-1)
	if l.cfg.RetentionBytes >= 0 {
		sizeExcess = l.size - l.cfg.RetentionBytes
	}
	for len(l.segs) > 0 {
		s := l.segs[0]
		upper := l.LogEndOffset()
		if len(l.segs) > 1 {
			upper = l.segs[1].base
		}
		if (len(l.segs) == 1 && len(s.batches) == 0) || upper > hw {
			break
		}
		var reason string
		switch {
		case l.cfg.RetentionMs >= 0 && now-s.largestTimestamp(now) > l.cfg.RetentionMs:
			reason = "retention.ms"
		case sizeExcess >= s.size:
			reason = "retention.bytes"
		}
		if reason == "" {
			break
		}
		if len(l.segs) == 1 {
			l.roll(now)
		}
		sizeExcess -= s.size
		l.size -= s.size
		l.segs = l.segs[1:]
		l.logStart = l.segs[0].base
		l.writes = append(l.writes, storage.Write{Op: storage.OpRemove, Name: l.segName(s.base)})
		out = append(out, Deletion{Base: s.base, Next: upper, Reason: reason})
	}
	l.trimEpochsBefore(l.logStart)
	return out
}

// IsOutOfRange reports whether err means the offset is outside the log.
func IsOutOfRange(err error) bool { return errors.Is(err, kerr.OffsetOutOfRange) }
