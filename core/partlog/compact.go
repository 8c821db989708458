package partlog

// Log compaction (cleanup.policy=compact), as Kafka's log cleaner does it
// (LogCleaner, LogCleanerManager, Cleaner.doClean / cleanSegments), in one
// pass per call instead of on a cleaner thread:
//
//   - The cleaner checkpoint (cleaner-offset-checkpoint) splits the log into
//     a clean head, already compacted, and a dirty section. A pass runs when
//     the dirty section's share of the cleanable bytes exceeds
//     min.cleanable.dirty.ratio, when a dirty record waited longer than
//     max.compaction.lag.ms, or when tombstones passed their delete horizon
//     (LogCleanerManager.grabFilthiestCompactedLog).
//   - Only whole, closed segments below the first uncleanable offset are
//     cleaned: the active segment never, nor a segment reaching the high
//     watermark (Kafka: the last stable offset), nor a dirty segment younger
//     than min.compaction.lag.ms (LogCleanerManager.cleanableOffsets). Kafka
//     may stop mid-segment at the last stable offset; Streamlab rounds down
//     to a segment boundary.
//   - The offset map holds, for every key of the dirty section, its last
//     offset (OffsetMap; Kafka's SkimpyOffsetMap keeps MD5 hashes in bounded
//     memory and may clean only part of the dirty section per pass, a Go map
//     keeps the keys and maps it all).
//   - Every segment from the log start to that offset is then copied, in
//     groups that fit segment.bytes (Cleaner.groupSegmentsBySize), keeping a
//     record only if it has a key, no later offset in the map, and is not a
//     tombstone past its delete horizon (Cleaner.shouldRetainRecord).
//     Offsets never change: a cleaned batch keeps its base offset, last
//     offset delta, producer id, epoch and base sequence and leader epoch
//     (MemoryRecords.filterTo, buildRetainedRecordsInto).
//   - Tombstones get a delete horizon the first time they are cleaned:
//     now + delete.retention.ms, written in the batch's baseTimestamp with
//     attribute bit 6 (KIP-534); a later pass after the horizon drops them.
//   - A batch left without records is dropped, unless it is its producer's
//     last batch (Kafka keeps it, empty, so that the producer's sequence
//     survives a restart: BatchRetention.RETAIN_EMPTY) or the first batch of
//     a leader epoch (Streamlab's own rule: Kafka keeps its epoch cache in
//     leader-epoch-checkpoint, Streamlab rebuilds it from the batches).
//
// Not done: control batches (transaction markers) are kept as they are, and
// records of aborted transactions are compacted like any other (Kafka drops
// them and, after the delete horizon, their markers); batches of a
// compression Streamlab cannot decode are kept whole; Kafka rewrites every
// group, Streamlab only groups that change.
//
// Crash safety. A group of segments [b1..bk] is rewritten as one object
// named after b1: a Put of the cleaned content (atomic), then removal of
// b2..bk in order, then a Put of the checkpoint. Kafka renames
// .cleaned -> .swap -> .log to the same end. After a crash at any point, Open
// finds b1 old (and b2..bk old: nothing happened) or b1 new, followed by
// those of b2..bk not removed yet. Those that start below b1's new end
// overlap it and are removed by Open (everything of them that survived is
// in b1); the others hold offsets that b1 no longer covers and stay, old and
// uncleaned, until the next pass: records come back, never a latest value.
// An old checkpoint only makes the next pass redo work.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
)

// Compaction describes one cleaning pass, as Kafka's CleanerStats does.
type Compaction struct {
	// Reason is the config that made the log due: min.cleanable.dirty.ratio,
	// max.compaction.lag.ms or delete.retention.ms.
	Reason     string
	DirtyRatio float64 // dirty bytes / cleanable bytes, before the pass
	// FirstDirty and CleanedUpTo bound the dirty section whose keys were
	// mapped; CleanedUpTo is the new checkpoint, the first uncleanable
	// offset.
	FirstDirty, CleanedUpTo       int64
	SegmentsBefore, SegmentsAfter int // segments below CleanedUpTo
	BytesBefore, BytesAfter       int64
	RecordsRemoved                int     // superseded, expired tombstones, without a key
	TombstonesRemoved             int     // of RecordsRemoved
	Removed                       []int64 // the offsets removed, in order
}

// Compact runs one cleaning pass if the log is compacted and due, and
// reports it; ok is false if nothing ran. now is the broker clock; upTo is
// the first offset that must not be cleaned (the high watermark). Its writes
// are queued like any other change.
func (l *Log) Compact(now, upTo int64) (c Compaction, ok bool) {
	if !l.cfg.CleanupPolicy.Compacts() {
		return c, false
	}
	firstDirty := l.firstDirty()
	n := l.cleanableSegments(now, upTo, firstDirty)
	var clean, dirty int64
	earliest := int64(math.MaxInt64)
	for i, s := range l.segs[:n] {
		if l.upper(i) <= firstDirty {
			clean += s.size
			continue
		}
		dirty += s.size
		if len(s.batches) > 0 && s.batches[0].MaxTimestamp > 0 {
			earliest = min(earliest, s.batches[0].MaxTimestamp)
		}
	}
	if clean+dirty > 0 {
		c.DirtyRatio = float64(dirty) / float64(clean+dirty)
	}
	switch {
	case dirty > 0 && c.DirtyRatio > l.cfg.MinCleanableDirtyRatio:
		c.Reason = "min.cleanable.dirty.ratio"
	case dirty > 0 && earliest < now-l.cfg.MaxCompactionLagMs:
		// LogCleanerManager.maxCompactionDelay: the first batch of a dirty
		// segment is older than max.compaction.lag.ms.
		c.Reason = "max.compaction.lag.ms"
	case l.tombstonesDue(now, n):
		// Kafka 3.1+ also cleans an idle log whose delete horizon passed
		// (KIP-534, grabFilthiestCompactedLog).
		c.Reason = "delete.retention.ms"
	default:
		return c, false
	}
	l.clean(now, firstDirty, n, &c)
	return c, true
}

// CleanerCheckpoint is the offset below which the log was cleaned (the log
// start if never).
func (l *Log) CleanerCheckpoint() int64 { return l.firstDirty() }

// firstDirty is the checkpoint, or the log start if the checkpoint is below
// it or beyond the log end (LogCleanerManager.cleanableOffsets resets an
// invalid checkpoint; Kafka resets one beyond the end to the active segment).
func (l *Log) firstDirty() int64 {
	if l.cleaned < l.logStart || l.cleaned > l.LogEndOffset() {
		return l.logStart
	}
	return l.cleaned
}

// upper is where segment i's offsets end: the next segment's base, or the
// log end for the active segment.
func (l *Log) upper(i int) int64 {
	if i+1 < len(l.segs) {
		return l.segs[i+1].base
	}
	return l.LogEndOffset()
}

// cleanableSegments is the number of leading segments a pass may clean: all
// closed segments below upTo and, among the dirty ones, those older than
// min.compaction.lag.ms (LogCleanerManager.cleanableOffsets).
func (l *Log) cleanableSegments(now, upTo, firstDirty int64) int {
	n := 0
	for ; n < len(l.segs)-1; n++ {
		if l.upper(n) > upTo {
			break
		}
		if lag := l.cfg.MinCompactionLagMs; lag > 0 && l.upper(n) > firstDirty && l.segs[n].largestTimestamp(now) > now-lag {
			break
		}
	}
	return n
}

// tombstonesDue reports whether a batch among the first n segments has a
// delete horizon that passed.
func (l *Log) tombstonesDue(now int64, n int) bool {
	for _, s := range l.segs[:n] {
		for _, b := range s.batches {
			if h, ok := deleteHorizon(b.Raw); ok && h <= now && recordCount(b.Raw) > 0 {
				return true
			}
		}
	}
	return false
}

// clean is Cleaner.doClean over the first n segments.
func (l *Log) clean(now, firstDirty int64, n int, c *Compaction) {
	end := l.segs[n].base
	c.FirstDirty, c.CleanedUpTo = firstDirty, max(end, firstDirty)

	// The offset map: the last offset of every key in the dirty section
	// (Cleaner.buildOffsetMap). Control batches hold no keys.
	offsets := map[string]int64{}
	for i, s := range l.segs[:n] {
		if l.upper(i) <= firstDirty {
			continue
		}
		for _, b := range s.batches {
			_, recs, ok := dataRecords(b.Raw)
			if !ok {
				continue
			}
			for _, r := range recs {
				if off := b.Base + int64(r.OffsetDelta); r.Key != nil && off >= firstDirty {
					offsets[string(r.Key)] = off
				}
			}
		}
	}
	// Each producer's last batch, which keeps its sequence across restarts
	// (Cleaner: lastRecordsOfActiveProducers).
	lastOfProducer := map[int64]int64{}
	for _, s := range l.segs {
		for _, b := range s.batches {
			if pid := producerID(b.Raw); pid >= 0 {
				lastOfProducer[pid] = b.Last
			}
		}
	}

	cleaned := make([]*segment, 0, len(l.segs))
	for i := 0; i < n; {
		// Cleaner.groupSegmentsBySize: consecutive segments whose sizes add
		// up to segment.bytes at most, offsets within an int32 of the first.
		j, size := i+1, l.segs[i].size
		for j < n && size+l.segs[j].size <= l.cfg.SegmentBytes && l.upper(j)-1-l.segs[i].base <= math.MaxInt32 {
			size += l.segs[j].size
			j++
		}
		cleaned = append(cleaned, l.cleanGroup(l.segs[i:j], offsets, lastOfProducer, now, c))
		i = j
	}
	c.SegmentsBefore, c.SegmentsAfter = n, len(cleaned)
	for _, s := range l.segs[:n] {
		c.BytesBefore += s.size
	}
	for _, s := range cleaned {
		c.BytesAfter += s.size
	}
	l.segs = append(cleaned, l.segs[n:]...)
	l.size += c.BytesAfter - c.BytesBefore
	l.cleaned = c.CleanedUpTo
	l.writes = append(l.writes, storage.Write{Op: storage.OpPut, Name: l.checkpointName(), Data: encodeCheckpoint(path.Base(l.dir), l.cleaned)})
}

// cleanGroup is Cleaner.cleanSegments: the group's segments become one,
// named after the first. A group whose batches all stay as they are and that
// has one segment is left alone (no write).
func (l *Log) cleanGroup(group []*segment, offsets map[string]int64, lastOfProducer map[int64]int64, now int64, c *Compaction) *segment {
	out := &segment{base: group[0].base, next: group[0].base, created: group[0].created, modified: group[len(group)-1].modified}
	changed := len(group) > 1
	for _, s := range group {
		for _, b := range s.batches {
			nb, keep, ch := l.cleanBatch(b, offsets, lastOfProducer, now, c)
			changed = changed || ch
			if keep {
				out.batches = append(out.batches, nb)
				out.size += int64(len(nb.Raw))
				out.next = nb.Last + 1
			}
		}
	}
	if !changed {
		return group[0]
	}
	data := make([]byte, 0, out.size)
	for _, b := range out.batches {
		data = append(data, b.Raw...)
	}
	l.writes = append(l.writes, storage.Write{Op: storage.OpPut, Name: l.segName(out.base), Data: data})
	for _, s := range group[1:] {
		l.writes = append(l.writes, storage.Write{Op: storage.OpRemove, Name: l.segName(s.base)})
	}
	return out
}

// cleanBatch filters one batch (MemoryRecords.filterTo with the cleaner's
// filter) and returns what stays of it, whether anything stays, and whether
// it changed.
func (l *Log) cleanBatch(b Batch, offsets map[string]int64, lastOfProducer map[int64]int64, now int64, c *Compaction) (Batch, bool, bool) {
	h, recs, ok := dataRecords(b.Raw)
	if !ok {
		return b, true, false // a control batch, or one Streamlab cannot decode
	}
	horizon, hasHorizon := deleteHorizon(b.Raw)
	kept := recs[:0:0]
	tombstones := false
	for _, r := range recs {
		off := b.Base + int64(r.OffsetDelta)
		latest, mapped := offsets[string(r.Key)]
		switch {
		case r.Key == nil:
			// A compacted topic accepts no record without a key; Kafka's
			// cleaner drops any it finds (stats.invalidMessage).
		case mapped && off < latest:
			// A later record of the key follows.
		case r.Value == nil && hasHorizon && horizon <= now:
			c.TombstonesRemoved++ // past delete.retention.ms
		default:
			kept = append(kept, r)
			tombstones = tombstones || r.Value == nil
			continue
		}
		c.RecordsRemoved++
		c.Removed = append(c.Removed, off)
	}
	if len(kept) == len(recs) && (!tombstones || hasHorizon) {
		return b, true, false
	}
	if len(kept) == 0 {
		keep := h.ProducerID >= 0 && lastOfProducer[h.ProducerID] == b.Last || l.startsEpoch(b)
		if !keep {
			return Batch{}, false, true
		}
		// DefaultRecordBatch.writeEmptyHeader: no records, no compression.
		attrs := h.Attributes & (record.AttrLogAppendTime | record.AttrTransactional | record.AttrControl)
		raw := encodeBatch(h, b.Base, attrs, h.MaxTimestamp, h.MaxTimestamp, 0, nil)
		return Batch{Base: b.Base, Last: b.Last, MaxTimestamp: h.MaxTimestamp, Epoch: b.Epoch, Raw: raw}, true, true
	}
	// Rebuild with the kept records and their own offset deltas
	// (buildRetainedRecordsInto). The base timestamp becomes the delete
	// horizon while tombstones remain (KIP-534), else the first record's;
	// record timestamps are deltas from it.
	attrs := h.Attributes &^ record.AttrDeleteHorizon
	abs := func(r kmsg.Record) int64 { return h.FirstTimestamp + r.TimestampDelta64 }
	base := abs(kept[0])
	if tombstones {
		if !hasHorizon {
			horizon = now + min(l.cfg.DeleteRetentionMs, math.MaxInt64-now)
		}
		base = horizon
		attrs |= record.AttrDeleteHorizon
	}
	maxTs := h.MaxTimestamp // LogAppendTime: the broker's time stays
	if attrs&record.AttrLogAppendTime == 0 {
		maxTs = abs(kept[0])
		for _, r := range kept[1:] {
			maxTs = max(maxTs, abs(r))
		}
	}
	var body []byte
	for _, r := range kept {
		body = appendRecord(body, r, abs(r)-base)
	}
	// LogCleaner.buildRetainedRecordsInto keeps the batch's codec.
	body = record.Compress(record.CompressionOf(h.Attributes), body)
	raw := encodeBatch(h, b.Base, attrs, base, maxTs, int32(len(kept)), body)
	return Batch{Base: b.Base, Last: b.Last, MaxTimestamp: maxTs, Epoch: b.Epoch, Raw: raw}, true, true
}

// startsEpoch reports whether b is the first batch of its leader epoch in
// the epoch cache.
func (l *Log) startsEpoch(b Batch) bool {
	for _, e := range l.epochs {
		if e.epoch == b.Epoch && e.start == b.Base {
			return true
		}
	}
	return false
}

// dataRecords decodes a data batch; ok is false for a control batch or one
// that does not decode.
func dataRecords(raw []byte) (kmsg.RecordBatch, []kmsg.Record, bool) {
	h, _, err := record.ParseBatch(raw)
	if err != nil || h.Attributes&record.AttrControl != 0 {
		return h, nil, false
	}
	recs, err := record.StoredRecords(h)
	return h, recs, err == nil
}

// Header fields read straight from a stored batch (record.go's layout).
func attributes(raw []byte) int16  { return int16(binary.BigEndian.Uint16(raw[21:])) }
func producerID(raw []byte) int64  { return int64(binary.BigEndian.Uint64(raw[43:])) }
func recordCount(raw []byte) int32 { return int32(binary.BigEndian.Uint32(raw[57:])) }

// deleteHorizon is the batch's delete horizon, if compaction set one
// (KIP-534: attribute bit 6, stored in baseTimestamp).
func deleteHorizon(raw []byte) (int64, bool) {
	if attributes(raw)&record.AttrDeleteHorizon == 0 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(raw[27:])), true
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeBatch writes a v2 batch header from h with the given base offset,
// attributes, timestamps and record count, followed by records (already
// compressed as attrs say), with its length and CRC-32C.
func encodeBatch(h kmsg.RecordBatch, baseOffset int64, attrs int16, baseTs, maxTs int64, count int32, records []byte) []byte {
	out := make([]byte, record.HeaderSize, record.HeaderSize+len(records))
	be := binary.BigEndian
	be.PutUint64(out[0:], uint64(baseOffset))
	be.PutUint32(out[8:], uint32(record.HeaderSize-12+len(records)))
	be.PutUint32(out[12:], uint32(h.PartitionLeaderEpoch))
	out[16] = record.Magic
	be.PutUint16(out[21:], uint16(attrs))
	be.PutUint32(out[23:], uint32(h.LastOffsetDelta))
	be.PutUint64(out[27:], uint64(baseTs))
	be.PutUint64(out[35:], uint64(maxTs))
	be.PutUint64(out[43:], uint64(h.ProducerID))
	be.PutUint16(out[51:], uint16(h.ProducerEpoch))
	be.PutUint32(out[53:], uint32(h.FirstSequence))
	be.PutUint32(out[57:], uint32(count))
	out = append(out, records...)
	be.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// appendRecord encodes r as DefaultRecord.writeTo does, keeping its
// attributes and offset delta, with timestamp delta tsDelta.
func appendRecord(dst []byte, r kmsg.Record, tsDelta int64) []byte {
	body := []byte{byte(r.Attributes)}
	body = binary.AppendVarint(body, tsDelta)
	body = binary.AppendVarint(body, int64(r.OffsetDelta))
	body = appendNullable(body, r.Key)
	body = appendNullable(body, r.Value)
	body = binary.AppendVarint(body, int64(len(r.Headers)))
	for _, hd := range r.Headers {
		body = binary.AppendVarint(body, int64(len(hd.Key)))
		body = append(body, hd.Key...)
		body = appendNullable(body, hd.Value)
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

// appendNullable writes varint-length-prefixed bytes, -1 for null.
func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// The cleaner checkpoint is one object per partition,
// "<dir>/cleaner-offset-checkpoint", in the text format of Kafka's
// cleaner-offset-checkpoint file (CheckpointFile: a version line, a count
// line, one entry per line), with one entry: the partition directory's name
// and the offset. It is replaced whole with a Put.
const checkpointFile = "cleaner-offset-checkpoint"

func (l *Log) checkpointName() string { return l.dir + "/" + checkpointFile }

func encodeCheckpoint(name string, offset int64) []byte {
	return []byte("0\n1\n" + name + " " + strconv.FormatInt(offset, 10) + "\n")
}

// decodeCheckpoint parses what encodeCheckpoint wrote for the partition
// directory name, and nothing else.
func decodeCheckpoint(data []byte, name string) (int64, error) {
	lines := strings.Split(string(data), "\n")
	if len(lines) != 4 || lines[0] != "0" || lines[1] != "1" || lines[3] != "" {
		return 0, errors.New("partlog: malformed cleaner checkpoint")
	}
	entry, offText, ok := strings.Cut(lines[2], " ")
	if !ok || entry != name {
		return 0, fmt.Errorf("partlog: cleaner checkpoint entry %q is not for %s", lines[2], name)
	}
	off, err := strconv.ParseInt(offText, 10, 64)
	if err != nil || off < 0 || strconv.FormatInt(off, 10) != offText {
		return 0, fmt.Errorf("partlog: cleaner checkpoint offset %q", offText)
	}
	return off, nil
}

// readCheckpoint loads the cleaner checkpoint if names lists one. One that
// does not parse is ignored: the next pass cleans from the log start, which
// only costs work (Kafka refuses to start on a corrupt checkpoint file).
func (l *Log) readCheckpoint(store storage.Store, names []string) error {
	name := l.checkpointName()
	if !slices.Contains(names, name) {
		return nil
	}
	data, err := store.Read(name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if off, err := decodeCheckpoint(data, path.Base(l.dir)); err == nil {
		l.cleaned = off
	}
	return nil
}

// truncateCheckpoint keeps the checkpoint within a log truncated to end
// (LogCleanerManager.maybeTruncateCheckpoint): offsets appended again after
// a truncation are dirty.
func (l *Log) truncateCheckpoint(end int64) {
	if l.cleaned > end {
		l.cleaned = end
		l.writes = append(l.writes, storage.Write{Op: storage.OpPut, Name: l.checkpointName(), Data: encodeCheckpoint(path.Base(l.dir), end)})
	}
}
